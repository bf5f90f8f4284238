"""Go imports: import specs and the package clause, resolved under the repository's ``go.mod``
module paths (a package is every non-test file of its directory)."""

from __future__ import annotations

import re
from typing import Any

from codemill.context.imports.model import FileImports, Import, Resolution
from codemill.context.imports.nodes import Captures, line, string_value, text
from codemill.context.imports.repo import LanguageResolver, dirname, join

QUERY = "(import_spec) @spec (package_clause) @pkg"


def extract(root: Any, caps: Captures, info: FileImports) -> None:
    del root
    for node in caps.get("pkg", []):
        for c in node.named_children:
            info.package = text(c)
    for node in caps.get("spec", []):
        path = node.child_by_field_name("path")
        if path is None:
            continue
        name = node.child_by_field_name("name")
        info.imports.append(
            Import(string_value(path), line(node), alias=text(name) if name is not None else None, kind="import")
        )


class GoResolver(LanguageResolver):
    _modules: list[tuple[str, str]] | None = None
    """(module path, directory of its go.mod), longest module path first"""

    def modules(self) -> list[tuple[str, str]]:
        if self._modules is None:
            mods = []
            for d in sorted(self.repo.dirs | {""}):
                source = self.repo.read(join(d, "go.mod"))
                if source:
                    m = re.search(r"^\s*module\s+(\S+)", source, re.M)
                    if m:
                        mods.append((m.group(1).strip('"'), d))
            self._modules = sorted(mods, key=lambda m: -len(m[0]))
        return self._modules

    def package_files(self, directory: str, for_test: bool) -> list[str]:
        """The Go files of a package directory; ``_test.go`` files only for a test file."""
        return sorted(
            f
            for f in self.repo.by_dir.get(directory, ())
            if f.endswith(".go") and (for_test or not f.endswith("_test.go"))
        )

    def resolve(self, file: str, imp: Import) -> Resolution:
        path = imp.module
        for mod, d in self.modules():
            if path == mod or path.startswith(mod + "/"):
                pkg_dir = join(d, path[len(mod) :].lstrip("/"))
                return Resolution(tuple(self.package_files(pkg_dir, file.endswith("_test.go"))), in_repo=True)
        return Resolution((), external=path)

    def package_siblings(self, file: str) -> list[str]:
        return [f for f in self.package_files(dirname(file), file.endswith("_test.go")) if f != file]
