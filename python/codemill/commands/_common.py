"""Plumbing shared by the sub-commands: the argument types every command validates with, the
`--overwrite` flag of the output contract, and the JSON report writer.

A bad value is refused by argparse as one line naming the flag
(``codemill tokenize: error: argument --threads: must be a positive integer, got -3``),
exit status 2, before any work starts.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn, TextIO

from codemill._json import json_text

__all__ = [
    "Parser",
    "add_overwrite",
    "comma_list",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "probability",
    "write_json",
]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (the usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# The largest integer an argument takes: the core reads counts as 64-bit integers, and past
# them said only "int too big to convert", naming no argument.
MAX_INT = (1 << 63) - 1


def _int(value: str, most: int = MAX_INT) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {value!r}") from None
    if n > most:
        raise argparse.ArgumentTypeError(f"must be at most {most}, got {value}")
    return n


def _float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {value!r}") from None
    if number != number:  # NaN passes every comparison below
        raise argparse.ArgumentTypeError(f"must be a number, got {value!r}")
    return number


def positive_int(value: str) -> int:
    n = _int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return n


def non_negative_int(value: str, most: int = MAX_INT) -> int:
    n = _int(value, most)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return n


def seed(value: str) -> int:
    """A random seed: any unsigned 64-bit integer (the core's seeds are u64)."""
    return non_negative_int(value, (1 << 64) - 1)


def positive_float(value: str) -> float:
    x = _float(value)
    if x <= 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return x


def probability(value: str) -> float:
    """A rate, threshold or weight: a number from 0 to 1."""
    x = _float(value)
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return x


def text(value: str) -> str:
    """A text argument (a query, a question): one whose bytes are not UTF-8 is refused here, not
    deep in a search ("'utf-8' codec can't encode ...", naming nothing)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise argparse.ArgumentTypeError(f"is not UTF-8 text: {shown}") from None
    return value


def comma_list(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"must name at least one item (comma-separated), got {value!r}")
    return items


def special_tokens(value: str) -> str | list[str]:
    """``--allowed-special``: "all", "none" (or "": no special token) or comma-separated names."""
    if value in ("all", "none", ""):
        return "all" if value == "all" else []
    return comma_list(value)


def add_overwrite(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace {what} even if it was not written by this command (refused by default)",
    )


def write_json(report: Any, out: TextIO) -> None:
    """A report as `--json` prints it and `--report FILE` saves it (`json_text`)."""
    out.write(json_text(report))
