"""Language detection from file names and shebangs, and the names codemill accepts."""

from __future__ import annotations

import os
import re

# Canonical names; the scanner shares one table between typescript/javascript and c/cpp.
LANGUAGES = (
    "python",
    "javascript",
    "typescript",
    "java",
    "go",
    "rust",
    "c",
    "cpp",
    "generic",
)

EXTENSIONS = {
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".java": "java",
    ".go": "go",
    ".rs": "rust",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
}

_SHEBANG = re.compile(rb"^#!\s*(?:\S*/)?(?:env\s+(?:-\S+\s+)*)?([A-Za-z]+)")
_INTERPRETERS = {"python": "python", "node": "javascript", "nodejs": "javascript", "deno": "typescript"}


def detect_language(path: str | os.PathLike[str], head: bytes | None = None) -> str:
    """The language of a file: its extension, else its shebang line, else ``"generic"``."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    lang = EXTENSIONS.get(ext)
    if lang:
        return lang
    if head and head.startswith(b"#!"):
        m = _SHEBANG.match(head)
        if m:
            name = re.sub(rb"[\d.]+$", b"", m.group(1)).decode("ascii", "replace")
            return _INTERPRETERS.get(name, "generic")
    return "generic"


def check_language(language: str | None) -> str | None:
    """Validates a user-given language name (None passes through) with a clear error."""
    if language is None:
        return None
    from codemill import _core

    # The core knows the aliases (py, ts, c++ ...); pretokenize raises CodemillError if unknown.
    _core.count_pieces("", language)
    return language
