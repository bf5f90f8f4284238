"""The benchmark corpus: real, permissively licensed code already on the machine.

Sources (install with benches/fetch_corpus.sh): the running Python's standard library (PSF),
crates under ~/.cargo/registry/src (MIT/Apache: this project's dependencies), Go's standard library (BSD, Debian
golang-1.19-src), Apache commons-lang3/commons-io/Guava (Apache-2.0, Debian sources), npm's
bundled modules (MIT/ISC), TypeScript's lib (Apache-2.0, Debian node-typescript), zlib and Lua
(zlib/MIT), fmt, nlohmann-json and googletest (MIT/BSD). Files are split into train and test
by a hash of their path, so held-back files come from the same projects. Whole projects held out
of every training split (`HELD_OUT`: webpack, MIT; the TypeScript compiler, Apache-2.0; libuv,
MIT; SQLite, public domain; Abseil, Apache-2.0) add to the test split of the languages whose held-back files are
few, with ``more=True``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sysconfig
from pathlib import Path

from codemill.sources import Skips, read_file, walk

SRC = os.environ.get("CODEMILL_BENCH_SRC", "/tmp/codemill-bench-src")

LICENSES = {
    "python": "PSF-2.0 (CPython standard library)",
    "rust": "MIT/Apache-2.0 (crates.io dependencies of codemill)",
    "go": "BSD-3-Clause (Go standard library)",
    "java": "Apache-2.0 (commons-lang3, commons-io, Guava)",
    "javascript": "MIT/ISC (npm's bundled dependencies)",
    "typescript": "Apache-2.0 (TypeScript lib)",
    "c": "Zlib/MIT (zlib, Lua)",
    "cpp": "MIT/BSD-3-Clause (fmt, nlohmann-json, googletest)",
}

SOURCES: dict[str, list[str]] = {
    "python": [sysconfig.get_paths()["stdlib"]],
    "rust": [os.path.expanduser("~/.cargo/registry/src")],
    "go": ["/usr/share/go-1.19/src"],
    "java": [f"{SRC}/commons-lang-*", f"{SRC}/commons-io-*", f"{SRC}/guava-*"],
    # npm's dependencies (MIT/ISC), not npm itself (Artistic-2.0).
    "javascript": ["/usr/local/lib/node_modules/npm/node_modules", "/usr/lib/node_modules/npm/node_modules"],
    "typescript": ["/usr/share/nodejs/typescript/lib"],
    "c": [f"{SRC}/zlib-*", f"{SRC}/lua-*"],
    "cpp": [f"{SRC}/fmtlib-*", f"{SRC}/json-*", f"{SRC}/googletest-*"],
}
# Whole projects no training split reads: ``load("test", more=True)`` takes their files after the
# held-back files of `SOURCES`, for the languages whose held-back split is small (JavaScript
# 0.23 MB, TypeScript 0.03 MB, C 0.15 MB, C++ 0.61 MB), so a first pass over them is timed on
# megabytes rather than on a millisecond's work.
HELD_OUT: dict[str, list[str]] = {
    "javascript": [f"{SRC}/webpack-*/lib"],
    "typescript": [f"{SRC}/TypeScript-*/src"],
    "c": [f"{SRC}/libuv1-*/src", f"{SRC}/sqlite3-*/src"],
    "cpp": [f"{SRC}/abseil-*/absl"],
}
# File languages accepted into each bucket (C++ projects keep their .h headers).
FAMILY = {"c": {"c"}, "cpp": {"cpp", "c"}, "javascript": {"javascript"}, "typescript": {"typescript"}}


def is_test_file(path: str) -> bool:
    return hashlib.sha1(path.encode()).digest()[0] < 26  # ~10% held back


def _roots(patterns: list[str]) -> list[str]:
    return sorted({p for pat in patterns for p in glob.glob(pat)})


def load(
    split: str,
    max_bytes_per_language: int,
    max_file_bytes: int = 300_000,
    languages: list[str] | None = None,
    more: bool = False,
) -> dict[str, list[tuple[str, str, str]]]:
    """{language: [(path, text, file_language)]} for split "train" or "test", capped per language.
    ``more``: the test split goes on into the `HELD_OUT` projects once the held-back files end."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for lang, patterns in SOURCES.items():
        if languages and lang not in languages:
            continue
        accepted = FAMILY.get(lang, {lang})
        files: list[tuple[str, str, str]] = []
        total = 0
        # (root, split by path hash): a held-out project is all test.
        roots = [(r, True) for r in _roots(patterns)]
        if more and split == "test":
            roots += [(r, False) for r in _roots(HELD_OUT.get(lang, []))]
        for root, hashed in roots:
            for entry in walk(Path(root), Skips()):
                s = entry.path
                if hashed and is_test_file(s) != (split == "test"):
                    continue
                file_lang = entry.language
                if file_lang not in accepted:
                    continue
                text, _ = read_file(s, max_file_bytes)
                if not text:
                    continue
                files.append((s, text, file_lang))
                total += len(text.encode())
                if total >= max_bytes_per_language:
                    break
            if total >= max_bytes_per_language:
                break
        if files:
            out[lang] = files
    return out
