"""Imports of source files, extracted with tree-sitter and resolved to files of a repository.

:func:`extract` reads one file's imports (and, for Python and JavaScript/TypeScript, the names
it defines, so that re-exports can be followed); :class:`Resolver` maps each import to the
repository files it refers to, or to an external node (a third-party or standard package).

Resolution follows each language's own rules, simplified where the build system would decide:

- Python: absolute imports against the source roots (the directories above the outermost
  ``__init__.py``), relative imports (``from ..a import b``), packages and ``__init__``,
  submodules imported by ``from pkg import mod``, and names re-exported by ``__init__``.
- JavaScript/TypeScript: relative paths with extension probing (``./a`` -> ``a.ts``, ``a/index.js``,
  ``./a.js`` -> ``a.ts``), ``export ... from`` re-exports, workspace packages by their
  ``package.json`` name, and ``tsconfig.json`` ``baseUrl``/``paths``.
- Go: import paths under a ``go.mod`` module path, a package being all files of its directory.
- Rust: ``mod a;`` (``a.rs``, ``a/mod.rs``, ``#[path]``), ``use crate::/self::/super::`` paths and
  workspace crates by their ``Cargo.toml`` name.
- Java: ``package`` declarations map classes to files; single-type, nested, static and
  on-demand (``.*``) imports.
- C/C++: ``#include "..."`` relative to the file, else by path suffix within the repository.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codemill.syntax import parsers as syntax

# Languages whose imports are resolved (the grammar names of codemill.syntax.parsers).
IMPORT_LANGUAGES = ("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp")

JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
_RUST_EXTERNAL_ROOTS = frozenset({"std", "core", "alloc", "proc_macro", "test"})


@dataclass(frozen=True)
class Import:
    """One import as written in a file."""

    module: str
    """The module as written: ``os.path``, ``./util``, ``crate::a::B``, ``github.com/x/y``, ``a.b.C``."""
    line: int
    """1-based line of the import statement."""
    names: tuple[tuple[str, str], ...] = ()
    """(imported name, local name) pairs; ``("*", "*")`` for a wildcard."""
    level: int = 0
    """Python: the number of leading dots of a relative import."""
    alias: str | None = None
    """The local name bound to the module itself (``import a.b as c``, a Go alias)."""
    kind: str = "import"
    """import | from | reexport | require | mod | use | static | include."""
    scope: tuple[str, ...] = ()
    """Rust: the inline ``mod`` blocks the ``use`` sits in."""


@dataclass
class FileImports:
    """What one file imports and (for re-export resolution) the top-level names it defines."""

    path: str
    language: str
    imports: list[Import] = field(default_factory=list)
    defines: frozenset[str] = frozenset()
    package: str | None = None
    """Java: the ``package`` declaration; Go: the package clause."""
    types: tuple[str, ...] = ()
    """Java: the top-level type names declared in the file."""
    mod_paths: dict[str, str] = field(default_factory=dict)
    """Rust: ``#[path = "..."]`` overrides of ``mod name;`` declarations."""

    def bindings(self) -> dict[str, tuple[Import, str | None]]:
        """Local name -> (import, imported name or None when the module itself is bound)."""
        out: dict[str, tuple[Import, str | None]] = {}
        for imp in self.imports:
            for name, local in imp.names:
                if name != "*":
                    out.setdefault(local, (imp, name))
            if imp.alias:
                out.setdefault(imp.alias, (imp, None))
        return out


@dataclass(frozen=True)
class Resolution:
    """Where an import leads."""

    files: tuple[str, ...]
    """Repository files of the imported module(s) (a Go package has several)."""
    definitions: tuple[tuple[str, str], ...] = ()
    """(name, file defining it) for each imported name, re-exports followed."""
    external: str | None = None
    """The external node (top-level package / crate / import path) when not in the repository."""
    in_repo: bool = False
    """Whether the import refers to this repository (resolved or not)."""

    @property
    def resolved(self) -> bool:
        return bool(self.files)

    def targets(self) -> tuple[str, ...]:
        """Module files and defining files, each once, in order."""
        seen = dict.fromkeys(self.files)
        seen.update(dict.fromkeys(f for _, f in self.definitions))
        return tuple(seen)


def grammar_for_path(path: str, language: str) -> str:
    """The tree-sitter grammar for a file: ``tsx`` for ``.tsx`` files, else the language."""
    if language == "typescript" and path.endswith(".tsx"):
        return "tsx"
    return language


# --------------------------------------------------------------------------------------------
# extraction

_QUERIES: dict[str, str] = {
    "python": "(import_statement) @imp (import_from_statement) @from",
    "javascript": """
        (import_statement) @imp
        (export_statement source: (_)) @exp
        (call_expression function: (identifier) @fn arguments: (arguments . (string) @src)) @call
        (call_expression function: (import) arguments: (arguments . (string) @src)) @dyn
    """,
    "go": "(import_spec) @spec (package_clause) @pkg",
    "rust": "(use_declaration) @use (mod_item) @mod (extern_crate_declaration) @ext",
    "java": "(import_declaration) @imp (package_declaration) @pkg",
    "c": "(preproc_include) @inc",
}
_QUERIES["typescript"] = _QUERIES["tsx"] = _QUERIES["javascript"]
_QUERIES["cpp"] = _QUERIES["c"]

_query_cache: dict[str, Any] = {}


def _captures(root: Any, grammar: str) -> dict[str, list[Any]]:
    import tree_sitter

    query = _query_cache.get(grammar)
    if query is None:
        query = _query_cache[grammar] = tree_sitter.Query(syntax.language_for(grammar), _QUERIES[grammar])
    return tree_sitter.QueryCursor(query).captures(root)


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace")


def _line(node: Any) -> int:
    return node.start_point[0] + 1


def _string_value(node: Any) -> str:
    """The content of a string literal node, quotes removed."""
    t = _text(node)
    if len(t) >= 2 and t[0] in "\"'`" and t[-1] == t[0]:
        return t[1:-1]
    return t


def extract(text: str | bytes, path: str, language: str) -> FileImports:
    """The imports of one file (an empty list for a language without a grammar or query)."""
    grammar = grammar_for_path(path, language)
    info = FileImports(path, language)
    if grammar not in _QUERIES:
        return info
    tree = syntax.parse(text, grammar)
    if tree is None:
        return info
    caps = _captures(tree.root_node, grammar)
    if language == "python":
        _extract_python(tree.root_node, caps, info)
    elif language in ("javascript", "typescript"):
        _extract_js(tree.root_node, caps, info)
    elif language == "go":
        _extract_go(caps, info)
    elif language == "rust":
        _extract_rust(caps, info)
    elif language == "java":
        _extract_java(tree.root_node, caps, info)
    elif language in ("c", "cpp"):
        _extract_c(caps, info)
    info.imports.sort(key=lambda i: i.line)
    return info


def _py_dotted(node: Any) -> str:
    return _text(node).replace(" ", "")


def _extract_python(root: Any, caps: dict[str, list[Any]], info: FileImports) -> None:
    for node in caps.get("imp", []):
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                name = _py_dotted(child.child_by_field_name("name"))
                alias = _text(child.child_by_field_name("alias"))
            else:
                name = _py_dotted(child)
                alias = name.split(".")[0]
            info.imports.append(Import(name, _line(node), alias=alias, kind="import"))
    for node in caps.get("from", []):
        mod = node.child_by_field_name("module_name")
        level, module = 0, ""
        if mod is not None and mod.type == "relative_import":
            for c in mod.children:
                if c.type == "import_prefix":
                    level = len(_text(c).strip())
                elif c.type == "dotted_name":
                    module = _py_dotted(c)
        elif mod is not None:
            module = _py_dotted(mod)
        names: list[tuple[str, str]] = []
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                names.append((_py_dotted(child.child_by_field_name("name")), _text(child.child_by_field_name("alias"))))
            else:
                n = _py_dotted(child)
                names.append((n, n))
        if any(c.type == "wildcard_import" for c in node.children):
            names.append(("*", "*"))
        info.imports.append(Import(module, _line(node), tuple(names), level=level, kind="from"))
    info.defines = frozenset(_python_defines(root))


def _python_defines(block: Any, depth: int = 0) -> Iterable[str]:
    """Top-level names bound by definitions and assignments (also inside top-level if/try)."""
    for node in block.named_children:
        t = node.type
        if t == "decorated_definition":
            node = node.child_by_field_name("definition")
            t = node.type if node is not None else ""
        if t in ("function_definition", "class_definition"):
            name = node.child_by_field_name("name")
            if name is not None:
                yield _text(name)
        elif t == "expression_statement":
            for expr in node.named_children:
                while expr is not None and expr.type == "assignment":
                    left = expr.child_by_field_name("left")
                    if left is not None:
                        yield from _py_targets(left)
                    expr = expr.child_by_field_name("right")
        elif t == "type_alias_statement":
            left = node.named_children[0] if node.named_children else None
            if left is not None:
                yield _text(left).split("[")[0].strip()
        elif t in ("if_statement", "try_statement", "with_statement") and depth < 4:
            # `try: from _speedups import f / except ImportError: def f(): ...` defines f here.
            for child in node.named_children:
                if child.type == "block":
                    yield from _python_defines(child, depth + 1)
                elif child.type in ("else_clause", "elif_clause", "except_clause", "finally_clause"):
                    for b in child.named_children:
                        if b.type == "block":
                            yield from _python_defines(b, depth + 1)


def _py_targets(node: Any) -> Iterable[str]:
    if node.type == "identifier":
        yield _text(node)
    elif node.type in ("pattern_list", "tuple_pattern", "list_pattern"):
        for c in node.named_children:
            yield from _py_targets(c)


def _js_specifiers(clause: Any, kind: str) -> Iterable[tuple[str, str]]:
    """(name, alias or name) of each `kind` specifier of an import's or export's `{...}` list."""
    for spec in clause.named_children:
        if spec.type == kind:
            n = spec.child_by_field_name("name")
            a = spec.child_by_field_name("alias")
            if n is not None:
                yield _text(n), _text(a if a is not None else n)


def _extract_js(root: Any, caps: dict[str, list[Any]], info: FileImports) -> None:
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
                    names.append(("default", _text(c)))
                elif c.type == "namespace_import":
                    ident = [x for x in c.named_children if x.type == "identifier"]
                    alias = _text(ident[0]) if ident else None
                elif c.type == "named_imports":
                    names.extend(_js_specifiers(c, "import_specifier"))
        info.imports.append(Import(_string_value(source), _line(node), tuple(names), alias=alias, kind="import"))
    for node in caps.get("exp", []):
        source = node.child_by_field_name("source")
        names = []
        for c in node.named_children:
            if c.type == "export_clause":
                names.extend(_js_specifiers(c, "export_specifier"))
            elif c.type == "namespace_export":
                ident = [x for x in c.named_children if x.type in ("identifier", "string")]
                if ident:
                    names.append(("*", _text(ident[0])))
        if not names:
            names = [("*", "*")]
        info.imports.append(Import(_string_value(source), _line(node), tuple(names), kind="reexport"))
    calls = caps.get("call", [])
    fns = {n.parent.id: _text(n) for n in caps.get("fn", []) if n.parent is not None}
    srcs = {}
    for s in caps.get("src", []):
        call = s.parent.parent if s.parent is not None else None
        if call is not None:
            srcs.setdefault(call.id, s)
    for node in calls:
        if fns.get(node.id) == "require" and node.id in srcs:
            info.imports.append(Import(_string_value(srcs[node.id]), _line(node), kind="require"))
    for node in caps.get("dyn", []):
        if node.id in srcs:
            info.imports.append(Import(_string_value(srcs[node.id]), _line(node), kind="require"))
    info.defines = frozenset(_js_defines(root))


def _js_defines(root: Any) -> Iterable[str]:
    for node in root.named_children:
        decl = node
        if node.type == "export_statement":
            if node.child_by_field_name("source") is not None:
                continue
            d = node.child_by_field_name("declaration")
            if d is None:
                if any(c.type == "default" or _text(c) == "default" for c in node.children):
                    yield "default"
                continue
            decl = d
            if any(_text(c) == "default" for c in node.children):
                yield "default"
        name = decl.child_by_field_name("name")
        if name is not None:
            yield _text(name)
        elif decl.type in ("lexical_declaration", "variable_declaration"):
            for v in decl.named_children:
                if v.type == "variable_declarator":
                    n = v.child_by_field_name("name")
                    if n is not None and n.type == "identifier":
                        yield _text(n)


def _extract_go(caps: dict[str, list[Any]], info: FileImports) -> None:
    for node in caps.get("pkg", []):
        for c in node.named_children:
            info.package = _text(c)
    for node in caps.get("spec", []):
        path = node.child_by_field_name("path")
        if path is None:
            continue
        name = node.child_by_field_name("name")
        info.imports.append(
            Import(_string_value(path), _line(node), alias=_text(name) if name is not None else None, kind="import")
        )


def _rust_use_paths(node: Any, prefix: str) -> Iterable[tuple[str, str | None]]:
    """Expands a use tree into (path, alias) pairs: ``a::{b, c::d as e}`` -> a::b, a::c::d (e)."""

    def join(s: str) -> str:
        return f"{prefix}::{s}" if prefix else s

    t = node.type
    if t in ("identifier", "scoped_identifier", "crate", "self", "super", "metavariable"):
        yield join(_text(node).replace(" ", "")), None
    elif t == "use_as_clause":
        path = node.child_by_field_name("path")
        alias = node.child_by_field_name("alias")
        if path is not None:
            yield join(_text(path).replace(" ", "")), _text(alias) if alias is not None else None
    elif t == "use_wildcard":
        inner = node.named_children[0] if node.named_children else None
        yield join(f"{_text(inner).replace(' ', '')}::*" if inner is not None else "*"), None
    elif t == "scoped_use_list":
        path = node.child_by_field_name("path")
        lst = node.child_by_field_name("list")
        new_prefix = join(_text(path).replace(" ", "")) if path is not None else prefix
        if lst is not None:
            yield from _rust_use_paths(lst, new_prefix)
    elif t == "use_list":
        for c in node.named_children:
            if c.type == "self":
                yield prefix, None
            else:
                yield from _rust_use_paths(c, prefix)


def _rust_scope(node: Any) -> tuple[str, ...]:
    scope = []
    p = node.parent
    while p is not None:
        if p.type == "mod_item":
            n = p.child_by_field_name("name")
            if n is not None:
                scope.append(_text(n))
        p = p.parent
    return tuple(reversed(scope))


def _extract_rust(caps: dict[str, list[Any]], info: FileImports) -> None:
    for node in caps.get("use", []):
        arg = node.child_by_field_name("argument")
        if arg is None:
            continue
        scope = _rust_scope(node)
        for path, alias in _rust_use_paths(arg, ""):
            last = path.rsplit("::", 1)[-1]
            names = ((last, alias or last),) if last not in ("*", "self", "crate", "super") else ()
            info.imports.append(Import(path, _line(node), names, kind="use", scope=scope))
    for node in caps.get("mod", []):
        if node.child_by_field_name("body") is not None:
            continue
        name = node.child_by_field_name("name")
        if name is None:
            continue
        mod = _text(name)
        prev = node.prev_named_sibling
        while prev is not None and prev.type == "attribute_item":
            m = re.search(r'\bpath\s*=\s*"([^"]+)"', _text(prev))
            if m:
                info.mod_paths[mod] = m.group(1)
            prev = prev.prev_named_sibling
        info.imports.append(Import(mod, _line(node), kind="mod", scope=_rust_scope(node)))
    for node in caps.get("ext", []):
        name = node.child_by_field_name("name")
        if name is not None:
            info.imports.append(Import(_text(name), _line(node), kind="extern"))


def _extract_java(root: Any, caps: dict[str, list[Any]], info: FileImports) -> None:
    for node in caps.get("pkg", []):
        for c in node.named_children:
            if c.type in ("scoped_identifier", "identifier"):
                info.package = _text(c).replace(" ", "")
    for node in caps.get("imp", []):
        static = any(c.type == "static" or _text(c) == "static" for c in node.children)
        path = ""
        wildcard = False
        for c in node.named_children:
            if c.type in ("scoped_identifier", "identifier"):
                path = _text(c).replace(" ", "")
            elif c.type == "asterisk":
                wildcard = True
        if not path:
            continue
        names = (("*", "*"),) if wildcard else ((path.rsplit(".", 1)[-1],) * 2,)
        info.imports.append(Import(path, _line(node), names, kind="static" if static else "import"))
    types = []
    for node in root.named_children:
        if node.type.endswith("_declaration") and node.type not in ("package_declaration", "import_declaration"):
            n = node.child_by_field_name("name")
            if n is not None:
                types.append(_text(n))
    info.types = tuple(types)
    info.defines = frozenset(types)


def _extract_c(caps: dict[str, list[Any]], info: FileImports) -> None:
    for node in caps.get("inc", []):
        path = node.child_by_field_name("path")
        if path is None:
            continue
        raw = _text(path)
        local = raw.startswith('"')
        info.imports.append(Import(raw[1:-1], _line(node), kind="include" if local else "include_system"))


# --------------------------------------------------------------------------------------------
# resolution


def _dirname(path: str) -> str:
    return posixpath.dirname(path)


def _join(*parts: str) -> str:
    parts = tuple(p for p in parts if p)
    if not parts:
        return ""
    out = posixpath.normpath(posixpath.join(*parts))
    return "" if out == "." else out


class Resolver:
    """Resolves imports to files of one repository.

    ``files`` maps repository-relative POSIX paths to languages; ``infos`` holds the extracted
    imports of the source files (used to follow re-exports and to find Java classes);
    ``read`` returns the text of a repository file (for ``go.mod``, ``Cargo.toml``,
    ``package.json`` and ``tsconfig.json``), or None.
    """

    def __init__(
        self,
        files: Mapping[str, str],
        infos: Mapping[str, FileImports],
        read: Callable[[str], str | None],
    ) -> None:
        self.files = files
        self.infos = infos
        self._read = read
        self.dirs: set[str] = set()
        self._by_dir: dict[str, list[str]] = defaultdict(list)
        self._by_base: dict[str, list[str]] = defaultdict(list)
        for f in files:
            d = _dirname(f)
            self._by_dir[d].append(f)
            self._by_base[posixpath.basename(f)].append(f)
            while d and d not in self.dirs:
                self.dirs.add(d)
                d = _dirname(d)
        self._py_roots: list[str] | None = None
        self._py_top: set[str] | None = None
        self._go_mods: list[tuple[str, str]] | None = None
        self._crates: dict[str, str] | None = None
        self._crate_names: dict[str, str] | None = None
        self._java: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
        self._js_pkgs: dict[str, str] | None = None
        self._tsconfigs: list[tuple[str, str, dict[str, list[str]]]] | None = None
        self._reexport_cache: dict[tuple[str, str], str | None] = {}
        self._rust_following: set[tuple[str, str]] = set()

    # -- public

    def resolve(self, path: str, imp: Import) -> Resolution:
        lang = self.files.get(path, "")
        if lang == "python":
            return self._python(path, imp)
        if lang in ("javascript", "typescript"):
            return self._js(path, imp)
        if lang == "go":
            return self._go(path, imp)
        if lang == "rust":
            return self._rust(path, imp)
        if lang == "java":
            return self._java_resolve(path, imp)
        if lang in ("c", "cpp"):
            return self._c(path, imp)
        return Resolution((), external=imp.module)

    def defining_file(self, module_file: str, name: str) -> str:
        """The file that defines ``name`` as seen from ``module_file``, re-exports followed."""
        found = self._follow(module_file, name, 0, set())
        return found or module_file

    def _follow(self, file: str, name: str, depth: int, seen: set[str]) -> str | None:
        key = (file, name)
        if key in self._reexport_cache:
            return self._reexport_cache[key]
        if depth > 8 or file in seen:
            return None
        seen.add(file)
        info = self.infos.get(file)
        result: str | None = None
        if info is not None:
            if name in info.defines:
                result = file
            else:
                bound = info.bindings().get(name)
                if bound is not None:
                    imp, orig = bound
                    res = self._resolve_module(file, imp)
                    if res:
                        if orig is None:
                            result = res[0]
                        else:
                            sub = self._submodule(file, imp, orig)
                            result = sub or self._follow(res[0], orig, depth + 1, seen) or res[0]
                else:
                    for imp in info.imports:
                        stars = [local for n, local in imp.names if n == "*"]
                        if name in stars:  # `export * as name from "./x"`
                            res = self._resolve_module(file, imp)
                            result = res[0] if res else None
                        elif "*" in stars:
                            res = self._resolve_module(file, imp)
                            for target in res:
                                found = self._follow(target, name, depth + 1, seen)
                                if found:
                                    result = found
                                    break
                        if result:
                            break
        self._reexport_cache[key] = result
        return result

    def _resolve_module(self, file: str, imp: Import) -> tuple[str, ...]:
        lang = self.files.get(file, "")
        if lang == "python":
            return self._py_module_files(file, imp)
        if lang in ("javascript", "typescript"):
            target = self._js_file(file, imp.module)
            return (target,) if target else ()
        return self.resolve(file, imp).files

    def _submodule(self, file: str, imp: Import, name: str) -> str | None:
        return self._py_submodule(file, imp, name) if self.files.get(file) == "python" else None

    # -- python

    def python_roots(self) -> list[str]:
        """Directories that hold top-level Python modules: the parents of outermost packages."""
        if self._py_roots is None:
            roots: set[str] = set()
            inits = {_dirname(f) for f in self.files if posixpath.basename(f) in ("__init__.py", "__init__.pyi")}
            for f, lang in self.files.items():
                if lang != "python":
                    continue
                d = _dirname(f)
                while d and d in inits:
                    d = _dirname(d)
                roots.add(d)
            self._py_roots = sorted(roots, key=lambda r: (r.count("/") if r else -1, r))
            top: set[str] = set()
            for r in self._py_roots:
                prefix = f"{r}/" if r else ""
                for f in self.files:
                    if f.startswith(prefix) and self.files[f] == "python":
                        rest = f[len(prefix) :]
                        head = rest.split("/", 1)[0]
                        top.add(head[: -len(".py")] if head.endswith(".py") else head.split(".")[0])
            self._py_top = top
        return self._py_roots

    def _py_module_file(self, base: str) -> str | None:
        for cand in (f"{base}.py", f"{base}.pyi", f"{base}/__init__.py", f"{base}/__init__.pyi"):
            if cand in self.files:
                return cand
        return None

    def _py_roots_for(self, file: str) -> list[str]:
        roots = self.python_roots()
        own = [r for r in roots if r == "" or file.startswith(r + "/")]
        own.sort(key=lambda r: -len(r))
        return own + [r for r in roots if r not in own]

    def _py_base(self, file: str, imp: Import) -> list[str] | None:
        """Directories the import's module path is relative to (roots, or the package for ``.``)."""
        if imp.level == 0:
            return self._py_roots_for(file)
        d = _dirname(file)
        for _ in range(imp.level - 1):
            if not d:
                return None
            d = _dirname(d)
        return [d]

    def _py_module_files(self, file: str, imp: Import) -> tuple[str, ...]:
        bases = self._py_base(file, imp)
        if bases is None:
            return ()
        parts = imp.module.split(".") if imp.module else []
        for base in bases:
            # The longest importable prefix: `import os.path` binds os, whose `path` is an attribute.
            for n in range(len(parts), -1 if imp.level else 0, -1):
                target = self._py_module_file(_join(base, *parts[:n])) if (n or base) else None
                if target:
                    return (target,)
        return ()

    def _python(self, file: str, imp: Import) -> Resolution:
        parts = imp.module.split(".") if imp.module else []
        self.python_roots()
        assert self._py_top is not None
        in_repo = imp.level > 0 or (bool(parts) and parts[0] in self._py_top)
        if not in_repo:
            return Resolution((), external=parts[0] if parts else imp.module)
        files = self._py_module_files(file, imp)
        definitions = []
        for name, _local in imp.names:
            if name == "*":
                continue
            sub = self._py_submodule(file, imp, name)
            if sub:
                definitions.append((name, sub))
            elif files:
                definitions.append((name, self.defining_file(files[0], name)))
        if not files and definitions:
            files = tuple(dict.fromkeys(f for _, f in definitions))
        return Resolution(files, tuple(definitions), in_repo=True)

    def _py_submodule(self, file: str, imp: Import, name: str) -> str | None:
        """The module file of ``name`` when ``from pkg import name`` imports a submodule."""
        parts = imp.module.split(".") if imp.module else []
        for base in self._py_base(file, imp) or []:
            pkg = _join(base, *parts)
            if pkg and pkg not in self.dirs:
                continue
            sub = self._py_module_file(_join(pkg, name))
            if sub:
                return sub
        return None

    # -- javascript / typescript

    def _js_file(self, file: str, spec: str) -> str | None:
        if spec.startswith((".", "/")):
            base = _join(_dirname(file), spec) if spec.startswith(".") else spec.lstrip("/")
            return self._js_probe(base)
        for target in self._js_aliases(file, spec):
            found = self._js_probe(target)
            if found:
                return found
        return None

    def _js_probe(self, base: str) -> str | None:
        if base in self.files:
            return base
        stem, ext = posixpath.splitext(base)
        for alt in _JS_TO_TS.get(ext, ()):
            if stem + alt in self.files:
                return stem + alt
        for ext in JS_EXTENSIONS:
            if base + ext in self.files:
                return base + ext
        if base in self.dirs or base == "":
            main = self._package_main(base)
            if main:
                return main
            for ext in JS_EXTENSIONS:
                cand = _join(base, "index" + ext)
                if cand in self.files:
                    return cand
        return None

    def _package_main(self, d: str) -> str | None:
        text = self._read(_join(d, "package.json"))
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        for key in ("types", "typings", "module", "main", "source"):
            val = data.get(key) if isinstance(data, dict) else None
            if isinstance(val, str):
                target = _join(d, val)
                if target in self.files:
                    return target
                stem = posixpath.splitext(target)[0]
                for ext in JS_EXTENSIONS:
                    if stem + ext in self.files:
                        return stem + ext
        return None

    def _js_aliases(self, file: str, spec: str) -> Iterable[str]:
        """Repository paths a bare specifier may name: workspace packages, tsconfig paths."""
        if self._js_pkgs is None:
            self._load_js_config()
        assert self._js_pkgs is not None and self._tsconfigs is not None
        name = _js_package_name(spec)
        if name in self._js_pkgs:
            yield _join(self._js_pkgs[name], spec[len(name) :].lstrip("/"))
        for d, base_url, paths in self._tsconfigs:
            if d and not file.startswith(d + "/"):
                continue
            for pattern, targets in paths.items():
                if pattern.endswith("*") and spec.startswith(pattern[:-1]):
                    rest = spec[len(pattern) - 1 :]
                    for t in targets:
                        yield _join(d, base_url, t.replace("*", rest))
                elif pattern == spec:
                    for t in targets:
                        yield _join(d, base_url, t)
            if base_url is not None and paths == {}:
                yield _join(d, base_url, spec)

    def _load_js_config(self) -> None:
        self._js_pkgs = {}
        self._tsconfigs = []
        for d in sorted(self.dirs | {""}):
            text = self._read(_join(d, "package.json"))
            if text:
                try:
                    data = json.loads(text)
                except ValueError:
                    data = None
                if isinstance(data, dict) and isinstance(data.get("name"), str):
                    self._js_pkgs.setdefault(data["name"], d)
            for cfg in ("tsconfig.json", "jsconfig.json"):
                text = self._read(_join(d, cfg))
                if not text:
                    continue
                data = _loads_jsonc(text)
                opts = data.get("compilerOptions") if isinstance(data, dict) else None
                if not isinstance(opts, dict):
                    continue
                base_url = opts.get("baseUrl")
                paths = opts.get("paths") if isinstance(opts.get("paths"), dict) else {}
                if isinstance(base_url, str) or paths:
                    clean = {k: [t for t in v if isinstance(t, str)] for k, v in paths.items() if isinstance(v, list)}
                    self._tsconfigs.append((d, base_url if isinstance(base_url, str) else ".", clean))
        self._tsconfigs.sort(key=lambda c: -len(c[0]))

    def _js(self, file: str, imp: Import) -> Resolution:
        spec = imp.module
        relative = spec.startswith((".", "/"))
        target = self._js_file(file, spec)
        if target is None:
            if relative:
                return Resolution((), in_repo=True)
            return Resolution((), external=_js_package_name(spec))
        definitions = []
        for name, _local in imp.names:
            if name != "*":
                definitions.append((name, self.defining_file(target, name)))
        return Resolution((target,), tuple(definitions), in_repo=True)

    # -- go

    def _go_modules(self) -> list[tuple[str, str]]:
        if self._go_mods is None:
            mods = []
            for d in sorted(self.dirs | {""}):
                text = self._read(_join(d, "go.mod"))
                if text:
                    m = re.search(r"^\s*module\s+(\S+)", text, re.M)
                    if m:
                        mods.append((m.group(1).strip('"'), d))
            self._go_mods = sorted(mods, key=lambda m: -len(m[0]))
        return self._go_mods

    def _go(self, file: str, imp: Import) -> Resolution:
        path = imp.module
        for mod, d in self._go_modules():
            if path == mod or path.startswith(mod + "/"):
                pkg_dir = _join(d, path[len(mod) :].lstrip("/"))
                test = file.endswith("_test.go")
                files = tuple(
                    sorted(
                        f
                        for f in self._by_dir.get(pkg_dir, ())
                        if f.endswith(".go") and (test or not f.endswith("_test.go"))
                    )
                )
                return Resolution(files, in_repo=True)
        return Resolution((), external=path)

    # -- rust

    def _rust_crates(self) -> dict[str, str]:
        """Crate source directory -> crate name (from Cargo.toml), for every crate of the repo."""
        if self._crates is None:
            crates: dict[str, str] = {}
            for d in sorted(self.dirs | {""}):
                text = self._read(_join(d, "Cargo.toml"))
                if text is None:
                    continue
                name = _cargo_package_name(text) or posixpath.basename(d) or "crate"
                crates[_join(d, "src")] = name.replace("-", "_")
            self._crates = crates
            self._crate_names = {name: src for src, name in crates.items()}
        return self._crates

    def _rust_crate_src(self, file: str) -> str:
        crates = self._rust_crates()
        d = _dirname(file)
        probe = d
        while True:
            if probe in crates:
                return probe
            if not probe:
                break
            probe = _dirname(probe)
        # No Cargo.toml: the nearest directory with a crate root file.
        probe = d
        while True:
            if _join(probe, "lib.rs") in self.files or _join(probe, "main.rs") in self.files:
                return probe
            if not probe:
                return d
            probe = _dirname(probe)

    def _rust_module_path(self, file: str, src: str) -> list[str]:
        """The module path of a file within its crate (``[]`` for a crate root)."""
        if src and not file.startswith(src + "/"):
            return []
        if _dirname(file) == src and src not in self._rust_crates() and self._rust_mod_file(src, []) is None:
            return []  # tests/x.rs, examples/x.rs: each file is a crate root of its own
        rel = file[len(src) + 1 :] if src else file
        parts = rel[: -len(".rs")].split("/")
        if parts[-1] == "mod" or (len(parts) == 1 and parts[0] in ("lib", "main")):
            parts = parts[:-1]
        if parts and parts[0] == "bin":
            return []
        return parts

    def _rust_mod_file(self, src: str, parts: list[str]) -> str | None:
        if not parts:
            for root in ("lib.rs", "main.rs"):
                cand = _join(src, root)
                if cand in self.files:
                    return cand
            return None
        base = _join(src, *parts)
        for cand in (f"{base}.rs", f"{base}/mod.rs"):
            if cand in self.files:
                return cand
        return None

    def _rust(self, file: str, imp: Import) -> Resolution:
        src = self._rust_crate_src(file)
        if imp.kind == "mod":
            info = self.infos.get(file)
            override = info.mod_paths.get(imp.module) if info is not None else None
            if override:
                target = _join(_dirname(file), override)
                return Resolution((target,) if target in self.files else (), in_repo=True)
            here = self._rust_module_path(file, src) + list(imp.scope)
            target = self._rust_mod_file(src, [*here, imp.module])
            return Resolution((target,) if target else (), in_repo=True)
        if imp.kind == "extern":
            self._rust_crates()
            assert self._crate_names is not None
            other = self._crate_names.get(imp.module)
            if other is not None:
                target = self._rust_mod_file(other, [])
                return Resolution((target,) if target else (), in_repo=True)
            return Resolution((), external=imp.module)
        segs = [s for s in imp.module.split("::") if s]
        if not segs:
            return Resolution((), external=imp.module)
        here = self._rust_module_path(file, src) + list(imp.scope)
        head = segs[0]
        self._rust_crates()
        assert self._crate_names is not None
        if head == "crate":
            base_src, base, rest = src, [], segs[1:]
        elif head in ("self", "super"):
            base = list(here)
            rest = segs
            while rest and rest[0] in ("self", "super"):
                if rest[0] == "super" and base:
                    base.pop()
                rest = rest[1:]
            base_src = src
        elif head in self._crate_names:
            base_src, base, rest = self._crate_names[head], [], segs[1:]
        elif self._rust_mod_file(src, [*here, head]):
            base_src, base, rest = src, list(here), segs  # 2018 paths: a child module of this one
        else:
            return Resolution((), external=head)  # std, core, alloc and crates.io dependencies
        rest = [r for r in rest if r != "*"]
        for n in range(len(rest), -1, -1):
            target = self._rust_mod_file(base_src, base + rest[:n])
            if target:
                item = rest[n] if n < len(rest) else None
                defs = ((item, self._rust_definer(target, item)),) if item and item != "self" else ()
                return Resolution((target,), defs, in_repo=True)
        return Resolution((), in_repo=True)

    def _rust_definer(self, file: str, item: str) -> str:
        """Follows ``pub use`` re-exports of ``item`` in ``file`` to the file that defines it."""
        info = self.infos.get(file)
        key = (file, item)
        if info is None or len(self._rust_following) > 8 or key in self._rust_following:
            return file  # `pub use` cycles end where they started
        self._rust_following.add(key)
        try:
            for imp in info.imports:
                if imp.kind == "use" and any(local == item for _, local in imp.names):
                    res = self._rust(file, imp)
                    for _name, target in res.definitions:
                        if target != file:
                            return target  # already followed by the nested resolution
                    if res.files and res.files[0] != file and not res.definitions:
                        return res.files[0]
            return file
        finally:
            self._rust_following.discard(key)

    # -- java

    def _java_index(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        if self._java is None:
            classes: dict[str, list[str]] = defaultdict(list)
            packages: dict[str, list[str]] = defaultdict(list)
            for path, info in self.infos.items():
                if info.language != "java":
                    continue
                pkg = info.package or ""
                packages[pkg].append(path)
                stem = posixpath.splitext(posixpath.basename(path))[0]
                for t in dict.fromkeys((stem, *info.types)):
                    classes[f"{pkg}.{t}" if pkg else t].append(path)
            self._java = (classes, packages)
        return self._java

    def _java_resolve(self, file: str, imp: Import) -> Resolution:
        classes, packages = self._java_index()
        parts = imp.module.split(".")
        wildcard = any(n == "*" for n, _ in imp.names)
        if wildcard and imp.module in packages:
            return Resolution(tuple(sorted(packages[imp.module])), in_repo=True)
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in classes:
                files = tuple(classes[key])
                name = parts[-1] if not wildcard else None
                return Resolution(files, ((name, files[0]),) if name else (), in_repo=True)
        in_repo = any(".".join(parts[:n]) in packages for n in range(len(parts), 0, -1))
        external = ".".join(parts[:-1]) if len(parts) > 1 and not wildcard else imp.module
        return Resolution((), external=None if in_repo else external, in_repo=in_repo)

    def java_package_files(self, file: str) -> list[str]:
        """The other files of a Java file's package."""
        info = self.infos.get(file)
        if info is None:
            return []
        _, packages = self._java_index()
        return [f for f in packages.get(info.package or "", []) if f != file]

    # -- c / c++

    def _c(self, file: str, imp: Import) -> Resolution:
        rel = imp.module
        if imp.kind == "include":
            cand = _join(_dirname(file), rel)
            if cand in self.files:
                return Resolution((cand,), in_repo=True)
        candidates = [f for f in self._by_base.get(posixpath.basename(rel), ()) if f == rel or f.endswith("/" + rel)]
        if candidates:
            here = _dirname(file)
            best = max(candidates, key=lambda f: (_shared_dirs(f, here), -len(f)))
            return Resolution((best,), in_repo=True)
        # Not in the repository: a system or third-party header (Python.h), whatever the quotes.
        return Resolution((), external=rel)


def _shared_dirs(a: str, b: str) -> int:
    """How many leading directories two paths share."""
    n = 0
    for x, y in zip(a.split("/")[:-1], b.split("/"), strict=False):
        if x != y:
            break
        n += 1
    return n


def _js_package_name(spec: str) -> str:
    parts = spec.split("/")
    if spec.startswith("@") and len(parts) > 1:
        return "/".join(parts[:2])
    return parts[0]


def _loads_jsonc(text: str) -> Any:
    """JSON with comments and trailing commas (tsconfig.json)."""
    out = re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', lambda m: m.group(1) or "", text, flags=re.S)
    out = re.sub(r",(\s*[}\]])", r"\1", out)
    try:
        return json.loads(out)
    except ValueError:
        return None


def _cargo_package_name(text: str) -> str | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        m = re.search(r'^\[package\][^\[]*?^\s*name\s*=\s*"([^"]+)"', text, re.M | re.S)
        return m.group(1) if m else None
    try:
        data = tomllib.loads(text)
    except ValueError:
        return None
    pkg = data.get("package")
    if isinstance(pkg, dict) and isinstance(pkg.get("name"), str):
        return pkg["name"]
    lib = data.get("lib")
    if isinstance(lib, dict) and isinstance(lib.get("name"), str):
        return lib["name"]
    return None
