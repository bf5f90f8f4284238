"""Plumbing shared by the sub-commands."""

from __future__ import annotations

import json
from typing import Any, TextIO


def write_json(report: Any, out: TextIO) -> None:
    """A report as `--json` prints it and `--report FILE` saves it: indented by one, newline-ended."""
    json.dump(report, out, indent=1)
    out.write("\n")
