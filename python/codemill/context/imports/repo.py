"""The files of one repository as the resolvers see them (paths, languages, extracted imports,
directories, the text of go.mod, Cargo.toml, package.json ...), and what a language's resolver
offers."""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Mapping

from codemill.context.imports.model import FileImports, Import, Resolution


def dirname(path: str) -> str:
    return posixpath.dirname(path)


def join(*parts: str) -> str:
    """Repository-relative POSIX paths joined and normalised (``""`` for the root)."""
    parts = tuple(p for p in parts if p)
    if not parts:
        return ""
    out = posixpath.normpath(posixpath.join(*parts))
    return "" if out == "." else out


class RepoFiles:
    """``files`` maps repository-relative POSIX paths to languages; ``infos`` holds the
    extracted imports of the source files; ``read`` returns the text of a repository file, or
    None."""

    def __init__(
        self,
        files: Mapping[str, str],
        infos: Mapping[str, FileImports],
        read: Callable[[str], str | None],
    ) -> None:
        self.files = files
        self.infos = infos
        self.read = read
        self.dirs: set[str] = set()
        self.by_dir: dict[str, list[str]] = defaultdict(list)
        self.by_base: dict[str, list[str]] = defaultdict(list)
        for f in files:
            d = dirname(f)
            self.by_dir[d].append(f)
            self.by_base[posixpath.basename(f)].append(f)
            while d and d not in self.dirs:
                self.dirs.add(d)
                d = dirname(d)


DefiningFile = Callable[[str, str], str]
"""(module file, name) -> the file that defines the name, re-exports followed."""


class LanguageResolver(ABC):
    """Resolves the imports of one language family within a repository."""

    def __init__(self, repo: RepoFiles, defining_file: DefiningFile) -> None:
        self.repo = repo
        self.defining_file = defining_file

    @abstractmethod
    def resolve(self, file: str, imp: Import) -> Resolution:
        """Where ``imp``, written in ``file``, leads."""

    def module_files(self, file: str, imp: Import) -> tuple[str, ...]:
        """The files of the imported module itself (for following re-exports)."""
        return self.resolve(file, imp).files

    def submodule(self, file: str, imp: Import, name: str) -> str | None:
        """The module file of ``name`` when the import names a submodule (Python only)."""
        del file, imp, name
        return None

    def package_siblings(self, file: str) -> list[str]:
        """Files sharing a package with ``file`` without importing each other (Go, Java)."""
        del file
        return []
