"""A source file's lines as tree-sitter counts its rows: broken at "\\n" only.

`str.splitlines` also breaks at a lone "\\r", "\\x0b", "\\x0c", "\\x1c"-"\\x1e", "\\x85",
"\\u2028" and "\\u2029": a C header's form feed or a Python string holding U+2028 shifted every
row after it, so chunks and context snippets held the wrong lines.
"""

from __future__ import annotations


def source_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of ``text``; without ``keepends`` each loses its "\\n" and a "\\r" before it,
    as `str.splitlines` drops a CRLF."""
    lines = text.split("\n")
    last = lines.pop()  # what follows the last "\n": "" unless the text ends without one
    if keepends:
        out = [line + "\n" for line in lines]
    else:
        out = [line[:-1] if line.endswith("\r") else line for line in lines]
        last = last[:-1] if last.endswith("\r") else last
    if last:
        out.append(last)
    return out
