"""Python imports: ``import a.b as c`` and ``from ..a import b``, the names a module defines
(for re-exports through ``__init__``), and their resolution against the source roots."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from codemill.context.imports.model import FileImports, Import, Resolution
from codemill.context.imports.nodes import Captures, dotted, line, text
from codemill.context.imports.repo import LanguageResolver, dirname, join

QUERY = "(import_statement) @imp (import_from_statement) @from"


def extract(root: Any, caps: Captures, info: FileImports) -> None:
    for node in caps.get("imp", []):
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                name = dotted(child.child_by_field_name("name"))
                alias = text(child.child_by_field_name("alias"))
            else:
                name = dotted(child)
                alias = name.split(".")[0]
            info.imports.append(Import(name, line(node), alias=alias, kind="import"))
    for node in caps.get("from", []):
        mod = node.child_by_field_name("module_name")
        level, module = 0, ""
        if mod is not None and mod.type == "relative_import":
            for c in mod.children:
                if c.type == "import_prefix":
                    level = len(text(c).strip())
                elif c.type == "dotted_name":
                    module = dotted(c)
        elif mod is not None:
            module = dotted(mod)
        names: list[tuple[str, str]] = []
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                names.append((dotted(child.child_by_field_name("name")), text(child.child_by_field_name("alias"))))
            else:
                n = dotted(child)
                names.append((n, n))
        if any(c.type == "wildcard_import" for c in node.children):
            names.append(("*", "*"))
        info.imports.append(Import(module, line(node), tuple(names), level=level, kind="from"))
    info.defines = frozenset(_defines(root))


def _defines(block: Any, depth: int = 0) -> Iterable[str]:
    """Top-level names bound by definitions and assignments (also inside top-level if/try)."""
    for node in block.named_children:
        t = node.type
        if t == "decorated_definition":
            node = node.child_by_field_name("definition")
            t = node.type if node is not None else ""
        if t in ("function_definition", "class_definition"):
            name = node.child_by_field_name("name")
            if name is not None:
                yield text(name)
        elif t == "expression_statement":
            for expr in node.named_children:
                while expr is not None and expr.type == "assignment":
                    left = expr.child_by_field_name("left")
                    if left is not None:
                        yield from _targets(left)
                    expr = expr.child_by_field_name("right")
        elif t == "type_alias_statement":
            left = node.named_children[0] if node.named_children else None
            if left is not None:
                yield text(left).split("[")[0].strip()
        elif t in ("if_statement", "try_statement", "with_statement") and depth < 4:
            # `try: from _speedups import f / except ImportError: def f(): ...` defines f here.
            for child in node.named_children:
                if child.type == "block":
                    yield from _defines(child, depth + 1)
                elif child.type in ("else_clause", "elif_clause", "except_clause", "finally_clause"):
                    for b in child.named_children:
                        if b.type == "block":
                            yield from _defines(b, depth + 1)


def _targets(node: Any) -> Iterable[str]:
    if node.type == "identifier":
        yield text(node)
    elif node.type in ("pattern_list", "tuple_pattern", "list_pattern"):
        for c in node.named_children:
            yield from _targets(c)


class PythonResolver(LanguageResolver):
    _roots: list[str] | None = None
    _top: set[str] | None = None

    def roots(self) -> list[str]:
        """Directories that hold top-level Python modules: the parents of outermost packages."""
        if self._roots is None:
            files = self.repo.files
            roots: set[str] = set()
            inits = {dirname(f) for f in files if posixpath.basename(f) in ("__init__.py", "__init__.pyi")}
            for f, lang in files.items():
                if lang != "python":
                    continue
                d = dirname(f)
                while d and d in inits:
                    d = dirname(d)
                roots.add(d)
            self._roots = sorted(roots, key=lambda r: (r.count("/") if r else -1, r))
            top: set[str] = set()
            for r in self._roots:
                prefix = f"{r}/" if r else ""
                for f in files:
                    if f.startswith(prefix) and files[f] == "python":
                        rest = f[len(prefix) :]
                        head = rest.split("/", 1)[0]
                        top.add(head[: -len(".py")] if head.endswith(".py") else head.split(".")[0])
            self._top = top
        return self._roots

    def _module_file(self, base: str) -> str | None:
        for cand in (f"{base}.py", f"{base}.pyi", f"{base}/__init__.py", f"{base}/__init__.pyi"):
            if cand in self.repo.files:
                return cand
        return None

    def _roots_for(self, file: str) -> list[str]:
        roots = self.roots()
        own = [r for r in roots if r == "" or file.startswith(r + "/")]
        own.sort(key=lambda r: -len(r))
        return own + [r for r in roots if r not in own]

    def _bases(self, file: str, imp: Import) -> list[str] | None:
        """Directories the import's module path is relative to (roots, or the package for ``.``)."""
        if imp.level == 0:
            return self._roots_for(file)
        d = dirname(file)
        for _ in range(imp.level - 1):
            if not d:
                return None
            d = dirname(d)
        return [d]

    def module_files(self, file: str, imp: Import) -> tuple[str, ...]:
        bases = self._bases(file, imp)
        if bases is None:
            return ()
        parts = imp.module.split(".") if imp.module else []
        for base in bases:
            # The longest importable prefix: `import os.path` binds os, whose `path` is an attribute.
            for n in range(len(parts), -1 if imp.level else 0, -1):
                target = self._module_file(join(base, *parts[:n])) if (n or base) else None
                if target:
                    return (target,)
        return ()

    def resolve(self, file: str, imp: Import) -> Resolution:
        parts = imp.module.split(".") if imp.module else []
        self.roots()
        assert self._top is not None
        in_repo = imp.level > 0 or (bool(parts) and parts[0] in self._top)
        if not in_repo:
            return Resolution((), external=parts[0] if parts else imp.module)
        files = self.module_files(file, imp)
        definitions = []
        for name, _local in imp.names:
            if name == "*":
                continue
            sub = self.submodule(file, imp, name)
            if sub:
                definitions.append((name, sub))
            elif files:
                definitions.append((name, self.defining_file(files[0], name)))
        if not files and definitions:
            files = tuple(dict.fromkeys(f for _, f in definitions))
        return Resolution(files, tuple(definitions), in_repo=True)

    def submodule(self, file: str, imp: Import, name: str) -> str | None:
        """The module file of ``name`` when ``from pkg import name`` imports a submodule."""
        parts = imp.module.split(".") if imp.module else []
        for base in self._bases(file, imp) or []:
            pkg = join(base, *parts)
            if pkg and pkg not in self.repo.dirs:
                continue
            sub = self._module_file(join(pkg, name))
            if sub:
                return sub
        return None
