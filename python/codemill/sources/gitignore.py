"""The patterns of one ignore file (``.gitignore``, ``.git/info/exclude``), matched as git does.

Git matches a path one directory level at a time: the walk asks about a directory before it
enters it (an ignored directory is not entered, so nothing under it can be re-included), then
about each file. A pattern therefore matches only the path asked about, never its descendants:
``logs/`` ignores a directory named ``logs`` wherever it is, ``!src/`` then re-includes ``src``
itself and not a ``src/logs`` below it, and ``gen/**`` matches what is inside ``gen``, not
``gen``. (`pathspec`'s whole-path matching differs from git exactly there, so it is not used.)

Syntax, from gitignore(5) and git's wildmatch: blank lines and ``#`` comments are skipped, trailing
spaces trimmed unless escaped, ``!`` negates, a trailing ``/`` matches only directories, a
pattern with a ``/`` elsewhere is anchored to the file's directory (else it matches the name at
any depth), ``*`` and ``?`` stop at ``/``, ``**`` spans directories at the start, end or between
slashes, ``[...]`` classes, ``\\`` escapes. A pattern git cannot match (a trailing backslash, an
unclosed ``[``) matches nothing, as in git: one bad line never stops a walk.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}


@dataclass(frozen=True)
class Rule:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    anchored: bool  # matched against the path from the ignore file's directory, else the name
    # What the regex matches where that is plain: a name or path (`literal`), or, unanchored, any
    # name ending in `suffix` (`*.log`). `Rules` looks these up rather than running the regex.
    literal: str | None = None
    suffix: str | None = None

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        return self.regex.fullmatch(rel if self.anchored else rel.rpartition("/")[2]) is not None


def lines(text: str) -> list[str]:
    """The lines of one ignore file as git reads them: a UTF-8 byte order mark skipped, split at
    ``\n`` only, one ``\r`` before it dropped (a lone ``\r`` stays in its line)."""
    return [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]


def parse(lines: list[str]) -> list[Rule]:
    """The rules of ignore-file lines (see `lines`), in file order."""
    return [rule for line in lines if (rule := _rule(line)) is not None]


@functools.lru_cache(maxsize=4096)
def rules_of(lines: tuple[str, ...]) -> Rules | None:
    """The `Rules` of one ignore file's lines, None for none. Made once per distinct file: a
    corpus of repositories holds the same few ignore files many times over (a 1 GB tree of 25
    copies of 53 crates, 1,326 of them, took ~0.1 s of its ~0.8 s plan parsing them)."""
    rules = parse(list(lines))
    return Rules(rules) if rules else None


class Rules:
    """The rules of one ignore file, in file order, asked about the paths of a walk.

    Most paths match no rule, and `_Any` says so at once: plain names and paths looked up in a
    set, plain suffixes compared, the other rules as one regex. Asking each rule in turn took a
    Python call per rule: a 156-line ``.gitignore`` (GitHub's Python, Node and JetBrains
    templates) made the walk of a 4,630-file tree 8x slower. Only a path that some rule matches
    is asked about rule by rule, last first.
    """

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._files = _Any([r for r in rules if not r.dir_only])
        self._dirs = _Any(rules)

    def ignored(self, rel: str, is_dir: bool) -> bool | None:
        """Whether the last rule matching ``rel`` (relative to the ignore file's directory)
        ignores it; None if no rule matches."""
        if not (self._dirs if is_dir else self._files).matches(rel):
            return None
        for rule in reversed(self.rules):
            if rule.matches(rel, is_dir):
                return not rule.negated
        return None


class _Any:
    """Whether any of some rules matches a path."""

    def __init__(self, rules: list[Rule]) -> None:
        self.paths = {r.literal for r in rules if r.anchored and r.literal is not None}
        self.names = {r.literal for r in rules if not r.anchored and r.literal is not None}
        self.suffixes = tuple(r.suffix for r in rules if r.suffix is not None)
        rest = [r for r in rules if r.literal is None and r.suffix is None]
        self.on_path = _union([r.regex.pattern for r in rest if r.anchored])
        self.on_name = _union([r.regex.pattern for r in rest if not r.anchored])

    def matches(self, rel: str) -> bool:
        name = rel.rpartition("/")[2]
        return (
            rel in self.paths
            or name in self.names
            or name.endswith(self.suffixes)
            or self.on_path.fullmatch(rel) is not None
            or self.on_name.fullmatch(name) is not None
        )


def _union(patterns: list[str]) -> re.Pattern[str]:
    """A regex matching what any of ``patterns`` matches; ``(?!)``, which matches nothing, for none."""
    return re.compile("|".join(f"(?:{p})" for p in patterns) or "(?!)", re.DOTALL)


def _rule(line: str) -> Rule | None:
    if not line or line.startswith("#"):
        return None
    line = _trim_spaces(line)
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    dir_only = line.endswith("/")
    line = line[:-1] if dir_only else line  # one slash: `a//` keeps one and matches nothing
    anchored = "/" in line
    line = line.removeprefix("/")
    if not line:
        return None
    body = _translate(line)
    if body is None:
        return None
    literal = line if _plain(line) else None
    suffix = line[1:] if not anchored and line.startswith("*") and _plain(line[1:]) else None
    return Rule(re.compile(body, re.DOTALL), negated, dir_only, anchored, literal, suffix)


def _plain(text: str) -> bool:
    """Whether ``text`` as a pattern matches only itself: no wildcard, class or escape."""
    return not any(c in text for c in "*?[\\")


def _trim_spaces(line: str) -> str:
    """Trailing spaces go, unless escaped with a backslash (``a\\ `` keeps one)."""
    end = len(line)
    while end > 0 and line[end - 1] == " ":
        end -= 1
    if end < len(line) and end > 0 and line[end - 1] == "\\" and not _escaped(line, end - 1):
        end += 1
    return line[:end]


def _escaped(s: str, at: int) -> bool:
    """Whether the char at ``at`` is escaped by an odd run of backslashes before it."""
    n = 0
    while at - n - 1 >= 0 and s[at - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _translate(pat: str) -> str | None:
    """A regex for git's wildmatch of ``pat`` with WM_PATHNAME; None if git matches nothing."""
    out: list[str] = []
    i, n = 0, len(pat)
    literal = True  # no wildcard yet: git compares that prefix first, then matches the rest
    while i < n:
        c = pat[i]
        if c in "*?[\\":
            first, literal = literal, False
        if c == "*":
            j = i
            while j < n and pat[j] == "*":
                j += 1
            # `**` spans directories after a slash, at the start, or (as git matches the part
            # after the literal prefix on its own) as the first wildcard: `b**/e.py`.
            after_slash = i == 0 or pat[i - 1] == "/" or first
            slash = 1 if pat.startswith("/", j) else 2 if pat.startswith("\\/", j) else 0  # `/` or `\/`
            spans = j - i >= 2 and after_slash and (j == n or slash > 0)
            if spans and (j == n or slash == 2):
                # `**` at the end: everything inside; before `\/`, anything, then that slash
                # (git tries no zero-directory match there: `a/**\/b` skips `a/b`).
                out.append(".*")
            elif spans:
                out.append("(?:.*/)?")  # `**/`: zero or more directories
                j += 1
            else:
                out.append("[^/]*")
            i = j
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            got = _bracket(pat, i + 1)
            if got is None:
                return None
            cls, i = got
            out.append(cls)
        elif c == "\\":
            if i + 1 == n:
                return None
            out.append(re.escape(pat[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _bracket(pat: str, i: int) -> tuple[str, int] | None:
    """The regex of the bracket expression whose body starts at ``i``, and the index after it."""
    n = len(pat)
    negate = i < n and pat[i] in "!^"
    if negate:
        i += 1
    parts: list[str] = []
    first = True
    while i < n and (pat[i] != "]" or first):
        first = False
        c = pat[i]
        if c == "[" and pat.startswith("[:", i):
            # As git: up to the first `]`; a class if `:]` ends there, else `[` is a literal.
            close = pat.find("]", i + 2)
            if close < 0:
                return None
            if close > i + 2 and pat[close - 1] == ":":
                name = pat[i + 2 : close - 1]
                if name not in _CLASSES:
                    return None  # git: an unknown class matches nothing
                parts.append(_CLASSES[name])
                i = close + 1
                continue
        if c == "\\":
            i += 1
            if i == n:
                return None
            c = pat[i]
        if i + 2 < n and pat[i + 1] == "-" and pat[i + 2] != "]":
            hi = pat[i + 2]
            if hi == "\\":
                if i + 3 == n:
                    return None
                hi, i = pat[i + 3], i + 4
            else:
                i += 3
            if hi >= c:  # a reversed range is empty in git, not an error
                parts.append(f"{re.escape(c)}-{re.escape(hi)}")
            continue
        parts.append(re.escape(c))
        i += 1
    if i >= n:
        return None  # unclosed
    body = "".join(parts)
    # A class never matches the `/` between directories.
    if negate:
        return f"[^/{body}]", i + 1
    return (f"(?!/)[{body}]" if body else "(?!)"), i + 1
