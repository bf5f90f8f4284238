"""Java imports: ``package`` and ``import`` declarations (single-type, nested, static,
on-demand), resolved through the classes each file's package declares."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import Any

from codemill.context.imports.model import FileImports, Import, Resolution
from codemill.context.imports.nodes import Captures, dotted, line, text
from codemill.context.imports.repo import LanguageResolver

QUERY = "(import_declaration) @imp (package_declaration) @pkg"


def extract(root: Any, caps: Captures, info: FileImports) -> None:
    for node in caps.get("pkg", []):
        for c in node.named_children:
            if c.type in ("scoped_identifier", "identifier"):
                info.package = dotted(c)
    for node in caps.get("imp", []):
        static = any(c.type == "static" or text(c) == "static" for c in node.children)
        path = ""
        wildcard = False
        for c in node.named_children:
            if c.type in ("scoped_identifier", "identifier"):
                path = dotted(c)
            elif c.type == "asterisk":
                wildcard = True
        if not path:
            continue
        names = (("*", "*"),) if wildcard else ((path.rsplit(".", 1)[-1],) * 2,)
        info.imports.append(Import(path, line(node), names, kind="static" if static else "import"))
    types = []
    for node in root.named_children:
        if node.type.endswith("_declaration") and node.type not in ("package_declaration", "import_declaration"):
            n = node.child_by_field_name("name")
            if n is not None:
                types.append(text(n))
    info.types = tuple(types)
    info.defines = frozenset(types)


class JavaResolver(LanguageResolver):
    _index: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
    """(qualified class name -> files, package -> files)"""

    def index(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        if self._index is None:
            classes: dict[str, list[str]] = defaultdict(list)
            packages: dict[str, list[str]] = defaultdict(list)
            for path, info in self.repo.infos.items():
                if info.language != "java":
                    continue
                pkg = info.package or ""
                packages[pkg].append(path)
                stem = posixpath.splitext(posixpath.basename(path))[0]
                for t in dict.fromkeys((stem, *info.types)):
                    classes[f"{pkg}.{t}" if pkg else t].append(path)
            self._index = (classes, packages)
        return self._index

    def resolve(self, file: str, imp: Import) -> Resolution:
        classes, packages = self.index()
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

    def package_siblings(self, file: str) -> list[str]:
        info = self.repo.infos.get(file)
        if info is None:
            return []
        _, packages = self.index()
        return [f for f in packages.get(info.package or "", []) if f != file]
