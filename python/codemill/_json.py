"""The JSON codemill writes (reports, manifests, task records, ``--json``): one layout for all.

Keys and list items go a line each, indented by one, down to `LAID_OUT` levels; what is deeper
goes on its line whole, as `json.dumps` writes it. `json.dumps` with an indent encodes in Python,
not in its C encoder: dedup's report of 1 GB of JSONL (5.5 MB, 2,584 clusters) took 0.20 s so,
and 0.04 s with each cluster a line.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["LAID_OUT", "json_text"]

LAID_OUT = 2  # levels a line per key or item: a report's sections, then their entries


def json_text(obj: Any) -> str:
    """``obj`` as JSON in codemill's layout, newline-ended."""
    return _laid_out(obj, 0) + "\n"


def _laid_out(obj: Any, level: int) -> str:
    if level >= LAID_OUT or not isinstance(obj, dict | list | tuple) or not obj:
        return json.dumps(obj)
    inner = "\n" + " " * (level + 1)
    if isinstance(obj, dict):
        # A key as json.dumps writes it (an int key as a string, True as "true" ...).
        items = [json.dumps({key: None})[1:-7] + ": " + _laid_out(value, level + 1) for key, value in obj.items()]
        brackets = "{}"
    else:
        items = [_laid_out(value, level + 1) for value in obj]
        brackets = "[]"
    return brackets[0] + inner + ("," + inner).join(items) + "\n" + " " * level + brackets[1]
