"""What imports are: one import as written, a file's imports, and where an import leads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ImportKind = Literal[
    "import", "from", "reexport", "require", "mod", "use", "extern", "static", "include", "include_system"
]


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
    kind: ImportKind = "import"
    """How the import is written: Python ``import``/``from``; JS ``import``/``reexport``/``require``;
    Rust ``mod``/``use``/``extern``; Java ``import``/``static``; C ``include``/``include_system``."""
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
