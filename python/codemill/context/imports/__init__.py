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

Modules: ``model`` (Import, FileImports, Resolution), ``extract`` (the dispatch over
languages), ``repo`` (the repository's files as resolvers see them), one module per language
family (its extraction and its resolver), ``resolver`` (the dispatching :class:`Resolver` and
re-export following). May import: syntax, errors.
"""

from __future__ import annotations

from codemill.context.imports.extract import IMPORT_LANGUAGES, extract
from codemill.context.imports.model import FileImports, Import, Resolution
from codemill.context.imports.resolver import Resolver

__all__ = ["IMPORT_LANGUAGES", "FileImports", "Import", "Resolution", "Resolver", "extract"]
