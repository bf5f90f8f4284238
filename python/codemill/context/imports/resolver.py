"""The dispatching :class:`Resolver`: each import to its language's resolver, and names followed
through re-exports (``from .a import f`` in ``__init__``, ``export * from``) to their file."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from codemill.context.imports.c import CResolver
from codemill.context.imports.go import GoResolver
from codemill.context.imports.java import JavaResolver
from codemill.context.imports.javascript import JavaScriptResolver
from codemill.context.imports.model import FileImports, Import, Resolution
from codemill.context.imports.python import PythonResolver
from codemill.context.imports.repo import LanguageResolver, RepoFiles
from codemill.context.imports.rust import RustResolver

_MAX_REEXPORT_DEPTH = 8
_CLASSES: dict[str, type[LanguageResolver]] = {
    "python": PythonResolver,
    "javascript": JavaScriptResolver,
    "typescript": JavaScriptResolver,
    "go": GoResolver,
    "rust": RustResolver,
    "java": JavaResolver,
    "c": CResolver,
    "cpp": CResolver,
}


def has_package_siblings(language: str) -> bool:
    """Whether files of ``language`` can share a package without importing each other (its
    resolver says which): asked before building a :class:`Resolver` for nothing."""
    cls = _CLASSES.get(language)
    return cls is not None and cls.package_siblings is not LanguageResolver.package_siblings


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
        self.repo = RepoFiles(files, infos, read)
        # one resolver per class: JavaScript and TypeScript, C and C++ share theirs
        shared: dict[type[LanguageResolver], LanguageResolver] = {}
        self.by_language: dict[str, LanguageResolver] = {}
        for lang, cls in _CLASSES.items():
            if cls not in shared:
                shared[cls] = cls(self.repo, self.defining_file)
            self.by_language[lang] = shared[cls]
        python = self.by_language["python"]
        assert isinstance(python, PythonResolver)
        self.python = python
        self._reexports: dict[tuple[str, str], str | None] = {}

    @property
    def files(self) -> Mapping[str, str]:
        return self.repo.files

    def python_roots(self) -> list[str]:
        """Directories that hold top-level Python modules: the parents of outermost packages."""
        return self.python.roots()

    def resolve(self, path: str, imp: Import) -> Resolution:
        lang = self.by_language.get(self.repo.files.get(path, ""))
        if lang is None:
            return Resolution((), external=imp.module)
        return lang.resolve(path, imp)

    def package_siblings(self, path: str) -> list[str]:
        """Files that share a package with ``path`` without importing each other (Go
        directories, Java packages)."""
        lang = self.by_language.get(self.repo.files.get(path, ""))
        return lang.package_siblings(path) if lang is not None else []

    def defining_file(self, module_file: str, name: str) -> str:
        """The file that defines ``name`` as seen from ``module_file``, re-exports followed."""
        found = self._follow(module_file, name, 0, set())
        return found or module_file

    def _module_files(self, file: str, imp: Import) -> tuple[str, ...]:
        lang = self.by_language.get(self.repo.files.get(file, ""))
        return lang.module_files(file, imp) if lang is not None else ()

    def _follow(self, file: str, name: str, depth: int, seen: set[str]) -> str | None:
        key = (file, name)
        if key in self._reexports:
            return self._reexports[key]
        if depth > _MAX_REEXPORT_DEPTH or file in seen:
            return None
        seen.add(file)
        info = self.repo.infos.get(file)
        result: str | None = None
        if info is not None:
            if name in info.defines:
                result = file
            else:
                bound = info.bindings().get(name)
                if bound is not None:
                    imp, orig = bound
                    res = self._module_files(file, imp)
                    if res:
                        if orig is None:
                            result = res[0]
                        else:
                            lang = self.by_language.get(self.repo.files.get(file, ""))
                            sub = lang.submodule(file, imp, orig) if lang is not None else None
                            result = sub or self._follow(res[0], orig, depth + 1, seen) or res[0]
                else:
                    result = self._follow_stars(file, info, name, depth, seen)
        self._reexports[key] = result
        return result

    def _follow_stars(self, file: str, info: FileImports, name: str, depth: int, seen: set[str]) -> str | None:
        """``name`` through the wildcard re-exports of ``file`` (``export * from``, ``import *``)."""
        for imp in info.imports:
            stars = [local for n, local in imp.names if n == "*"]
            if name in stars:  # `export * as name from "./x"`
                res = self._module_files(file, imp)
                if res:
                    return res[0]
            elif "*" in stars:
                for target in self._module_files(file, imp):
                    found = self._follow(target, name, depth + 1, seen)
                    if found:
                        return found
        return None
