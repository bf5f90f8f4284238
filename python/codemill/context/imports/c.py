"""C/C++ includes: ``#include "..."`` relative to the including file, else by path suffix within
the repository (the closest match); anything else is a system or third-party header."""

from __future__ import annotations

import posixpath
from typing import Any

from codemill.context.imports.model import FileImports, Import, Resolution
from codemill.context.imports.nodes import Captures, line, text
from codemill.context.imports.repo import LanguageResolver, dirname, join

QUERY = "(preproc_include) @inc"


def extract(root: Any, caps: Captures, info: FileImports) -> None:
    del root
    for node in caps.get("inc", []):
        path = node.child_by_field_name("path")
        if path is None:
            continue
        raw = text(path)
        local = raw.startswith('"')
        info.imports.append(Import(raw[1:-1], line(node), kind="include" if local else "include_system"))


def _shared_dirs(a: str, b: str) -> int:
    """How many leading directories two paths share."""
    n = 0
    for x, y in zip(a.split("/")[:-1], b.split("/"), strict=False):
        if x != y:
            break
        n += 1
    return n


class CResolver(LanguageResolver):
    def resolve(self, file: str, imp: Import) -> Resolution:
        rel = imp.module
        if imp.kind == "include":
            cand = join(dirname(file), rel)
            if cand in self.repo.files:
                return Resolution((cand,), in_repo=True)
        candidates = [
            f for f in self.repo.by_base.get(posixpath.basename(rel), ()) if f == rel or f.endswith("/" + rel)
        ]
        if candidates:
            here = dirname(file)
            best = max(candidates, key=lambda f: (_shared_dirs(f, here), -len(f)))
            return Resolution((best,), in_repo=True)
        # Not in the repository: a system or third-party header (Python.h), whatever the quotes.
        return Resolution((), external=rel)
