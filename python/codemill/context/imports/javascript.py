"""JavaScript/TypeScript imports: ``import``, ``export ... from``, ``require()`` and dynamic
``import()``, the names a module exports, and their resolution (relative paths with extension
probing, ``package.json`` workspaces and entry points, ``tsconfig.json`` paths)."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from typing import Any

from codemill.context.imports.model import FileImports, Import, Resolution
from codemill.context.imports.nodes import Captures, line, string_value, text
from codemill.context.imports.repo import LanguageResolver, dirname, join

QUERY = """
    (import_statement) @imp
    (export_statement source: (_)) @exp
    (call_expression function: (identifier) @fn arguments: (arguments . (string) @src)) @call
    (call_expression function: (import) arguments: (arguments . (string) @src)) @dyn
"""

EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


def _specifiers(clause: Any, kind: str) -> Iterable[tuple[str, str]]:
    """(name, alias or name) of each `kind` specifier of an import's or export's `{...}` list."""
    for spec in clause.named_children:
        if spec.type == kind:
            n = spec.child_by_field_name("name")
            a = spec.child_by_field_name("alias")
            if n is not None:
                yield text(n), text(a if a is not None else n)


def extract(root: Any, caps: Captures, info: FileImports) -> None:
    for node in caps.get("imp", []):
        source = node.child_by_field_name("source")
        if source is None:
            continue
        names: list[tuple[str, str]] = []
        alias = None
        for clause in node.named_children:
            if clause.type != "import_clause":
                continue
            for c in clause.named_children:
                if c.type == "identifier":
                    names.append(("default", text(c)))
                elif c.type == "namespace_import":
                    ident = [x for x in c.named_children if x.type == "identifier"]
                    alias = text(ident[0]) if ident else None
                elif c.type == "named_imports":
                    names.extend(_specifiers(c, "import_specifier"))
        info.imports.append(Import(string_value(source), line(node), tuple(names), alias=alias, kind="import"))
    for node in caps.get("exp", []):
        source = node.child_by_field_name("source")
        names = []
        for c in node.named_children:
            if c.type == "export_clause":
                names.extend(_specifiers(c, "export_specifier"))
            elif c.type == "namespace_export":
                ident = [x for x in c.named_children if x.type in ("identifier", "string")]
                if ident:
                    names.append(("*", text(ident[0])))
        if not names:
            names = [("*", "*")]
        info.imports.append(Import(string_value(source), line(node), tuple(names), kind="reexport"))
    fns = {n.parent.id: text(n) for n in caps.get("fn", []) if n.parent is not None}
    srcs: dict[int, Any] = {}
    for s in caps.get("src", []):
        call = s.parent.parent if s.parent is not None else None
        if call is not None:
            srcs.setdefault(call.id, s)
    for node in caps.get("call", []):
        if fns.get(node.id) == "require" and node.id in srcs:
            info.imports.append(Import(string_value(srcs[node.id]), line(node), kind="require"))
    for node in caps.get("dyn", []):
        if node.id in srcs:
            info.imports.append(Import(string_value(srcs[node.id]), line(node), kind="require"))
    info.defines = frozenset(_defines(root))


def _defines(root: Any) -> Iterable[str]:
    for node in root.named_children:
        decl = node
        if node.type == "export_statement":
            if node.child_by_field_name("source") is not None:
                continue
            d = node.child_by_field_name("declaration")
            if d is None:
                if any(c.type == "default" or text(c) == "default" for c in node.children):
                    yield "default"
                continue
            decl = d
            if any(text(c) == "default" for c in node.children):
                yield "default"
        name = decl.child_by_field_name("name")
        if name is not None:
            yield text(name)
        elif decl.type in ("lexical_declaration", "variable_declaration"):
            for v in decl.named_children:
                if v.type == "variable_declarator":
                    n = v.child_by_field_name("name")
                    if n is not None and n.type == "identifier":
                        yield text(n)


def package_name(spec: str) -> str:
    """The package a bare specifier names: ``@scope/pkg`` or ``pkg``."""
    parts = spec.split("/")
    if spec.startswith("@") and len(parts) > 1:
        return "/".join(parts[:2])
    return parts[0]


def _loads_jsonc(source: str) -> Any:
    """JSON with comments and trailing commas (tsconfig.json)."""
    out = re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', lambda m: m.group(1) or "", source, flags=re.S)
    out = re.sub(r",(\s*[}\]])", r"\1", out)
    try:
        return json.loads(out)
    except ValueError:
        return None


def _loads_json(source: str | None) -> Any:
    if not source:
        return None
    try:
        return json.loads(source)
    except ValueError:
        return None


def _tsconfig_paths(source: str | None) -> tuple[str, dict[str, list[str]]] | None:
    """(baseUrl, paths) of a tsconfig.json/jsconfig.json, or None when it sets neither."""
    data = _loads_jsonc(source) if source else None
    opts = data.get("compilerOptions") if isinstance(data, dict) else None
    if not isinstance(opts, dict):
        return None
    base_url = opts.get("baseUrl")
    raw = opts.get("paths")
    paths: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if not isinstance(base_url, str) and not paths:
        return None
    clean = {k: [t for t in v if isinstance(t, str)] for k, v in paths.items() if isinstance(v, list)}
    return (base_url if isinstance(base_url, str) else "."), clean


class JavaScriptResolver(LanguageResolver):
    _packages: dict[str, str] | None = None
    """workspace package name -> its directory"""
    _tsconfigs: list[tuple[str, str, dict[str, list[str]]]] | None = None
    """(directory, baseUrl, paths), deepest directory first"""

    def module_files(self, file: str, imp: Import) -> tuple[str, ...]:
        target = self.file_for(file, imp.module)
        return (target,) if target else ()

    def file_for(self, file: str, spec: str) -> str | None:
        if spec.startswith((".", "/")):
            base = join(dirname(file), spec) if spec.startswith(".") else spec.lstrip("/")
            return self._probe(base)
        for target in self._aliases(file, spec):
            found = self._probe(target)
            if found:
                return found
        return None

    def _probe(self, base: str) -> str | None:
        files = self.repo.files
        if base in files:
            return base
        stem, ext = posixpath.splitext(base)
        for alt in _JS_TO_TS.get(ext, ()):
            if stem + alt in files:
                return stem + alt
        for ext in EXTENSIONS:
            if base + ext in files:
                return base + ext
        if base in self.repo.dirs or base == "":
            main = self._package_main(base)
            if main:
                return main
            for ext in EXTENSIONS:
                cand = join(base, "index" + ext)
                if cand in files:
                    return cand
        return None

    def _package_main(self, d: str) -> str | None:
        data = _loads_json(self.repo.read(join(d, "package.json")))
        if not isinstance(data, dict):
            return None
        for key in ("types", "typings", "module", "main", "source"):
            val = data.get(key)
            if isinstance(val, str):
                target = join(d, val)
                if target in self.repo.files:
                    return target
                stem = posixpath.splitext(target)[0]
                for ext in EXTENSIONS:
                    if stem + ext in self.repo.files:
                        return stem + ext
        return None

    def _aliases(self, file: str, spec: str) -> Iterable[str]:
        """Repository paths a bare specifier may name: workspace packages, tsconfig paths."""
        packages, tsconfigs = self._config()
        name = package_name(spec)
        if name in packages:
            yield join(packages[name], spec[len(name) :].lstrip("/"))
        for d, base_url, paths in tsconfigs:
            if d and not file.startswith(d + "/"):
                continue
            for pattern, targets in paths.items():
                if pattern.endswith("*") and spec.startswith(pattern[:-1]):
                    rest = spec[len(pattern) - 1 :]
                    for t in targets:
                        yield join(d, base_url, t.replace("*", rest))
                elif pattern == spec:
                    for t in targets:
                        yield join(d, base_url, t)
            if base_url is not None and paths == {}:
                yield join(d, base_url, spec)

    def _config(self) -> tuple[dict[str, str], list[tuple[str, str, dict[str, list[str]]]]]:
        if self._packages is None or self._tsconfigs is None:
            self._packages, self._tsconfigs = {}, []
            for d in sorted(self.repo.dirs | {""}):
                data = _loads_json(self.repo.read(join(d, "package.json")))
                if isinstance(data, dict) and isinstance(data.get("name"), str):
                    self._packages.setdefault(data["name"], d)
                for cfg in ("tsconfig.json", "jsconfig.json"):
                    found = _tsconfig_paths(self.repo.read(join(d, cfg)))
                    if found is not None:
                        self._tsconfigs.append((d, *found))
            self._tsconfigs.sort(key=lambda c: -len(c[0]))
        return self._packages, self._tsconfigs

    def resolve(self, file: str, imp: Import) -> Resolution:
        spec = imp.module
        target = self.file_for(file, spec)
        if target is None:
            if spec.startswith((".", "/")):
                return Resolution((), in_repo=True)
            return Resolution((), external=package_name(spec))
        definitions = []
        for name, _local in imp.names:
            if name != "*":
                definitions.append((name, self.defining_file(target, name)))
        return Resolution((target,), tuple(definitions), in_repo=True)
