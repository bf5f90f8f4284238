"""Where a file is cut: the completion split and the fill-in-the-middle span, both at
statement boundaries (:mod:`codemill.finetune.samples.boundaries`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from codemill.finetune.samples.boundaries import SourceFile, is_statement, next_line


@dataclass(frozen=True)
class Split:
    """A file cut into a prompt and its target, and what the cut was."""

    prompt: str
    target: str
    meta: dict[str, Any]


def completion_split(f: SourceFile, rng: random.Random, max_bytes: int) -> Split | None:
    """prefix -> completion, split at the end of the line where a statement ends (the rest of
    that line goes with the prefix); the completion ends at the end of the file or at the last statement end that
    keeps it within ``max_bytes``. None when the file has no such statement."""
    data = f.data
    n = len(data)
    last = len(data.rstrip())  # a completion must hold more than whitespace
    # A node ending before `last` has a non-blank rest, so its split (end of its line at
    # most) is before `last` too; splits are computed only where needed.
    # A statement that ends mid-line (a trailing comment, Go's `case x:`) is cut at its line's
    # end, never inside the line: the completion starts and ends at line starts.
    ends = [(int(node.end_byte), node) for node in f.stmts]
    cands = [(e, node) for e, node in ends if e > 0 and next_line(data, e) < last and _clear_line_end(f, e)]
    if not cands:
        return None
    # Prefer a split with real context on both sides.
    middle = [c for c in cands if 0.1 * n <= c[0] <= 0.9 * n] or cands
    boundary, node = middle[rng.randrange(len(middle))]
    split = next_line(data, boundary)
    end = n
    if n - split > max_bytes:
        # Cut at the last statement end that fits (the blank rest of its line included),
        # or at the first one after the split when none fits.
        limit = split + max_bytes
        fitted = None
        for e in sorted({e for e, _ in cands if e > split}):
            e = next_line(data, e)
            if e > limit:
                if fitted is None:
                    fitted = e
                break
            fitted = e
        if fitted is not None:
            end = fitted
    meta = {
        "boundary": node.type,
        "boundary_byte": boundary,
        "split_byte": split,
        "end_byte": end,
        "split_char": f.chars(split),
    }
    return Split(f.slice(0, split), f.slice(split, end), meta)


def _clear_line_end(f: SourceFile, e: int) -> bool:
    """Whether the line end after a statement that ends at ``e`` is between nodes: nothing that
    starts on the rest of that line runs on past it (`n = 0;  /* count,\n reset */`, a second
    statement, a multi-line string), which a cut there would split."""
    p = next_line(f.data, e)
    if p == e or p >= len(f.data):
        return True
    node = f.tree.root_node.descendant_for_byte_range(p - 1, p)
    while node is not None and node.start_byte >= e:
        if node.end_byte > p - 1 and node.start_byte < p - 1:
            return False
        node = node.parent
    return True


def fim_split(
    f: SourceFile, rng: random.Random, max_middle_bytes: int, spm_rate: float, fim_tokens: tuple[str, str, str]
) -> tuple[str, Split] | None:
    """(template, split) of a fill-in-the-middle sample: the middle is one statement and up to
    two following siblings, at most ``max_middle_bytes``; SPM order with ``spm_rate``."""
    nodes = [s for s in f.stmts if s.end_byte - s.start_byte <= max_middle_bytes]
    if not nodes:
        return None
    first = nodes[rng.randrange(len(nodes))]
    last = first
    # Extend the middle over up to two following sibling statements.
    for _ in range(rng.randrange(3)):
        nxt = last.next_named_sibling
        if (
            nxt is None
            or not is_statement(nxt.type)
            or nxt.has_error
            or nxt.end_byte - first.start_byte > max_middle_bytes
        ):
            break
        last = nxt
    a, b = int(first.start_byte), int(last.end_byte)
    prefix, middle, suffix = f.slice(0, a), f.slice(a, b), f.slice(b, len(f.data))
    spm = rng.random() < spm_rate
    pre, mid, suf = fim_tokens
    prompt = f"{pre}{suf}{suffix}{mid}{prefix}" if spm else f"{pre}{prefix}{suf}{suffix}{mid}"
    meta = {
        "order": "spm" if spm else "psm",
        "middle_start_byte": a,
        "middle_end_byte": b,
        "middle_start_char": f.chars(a),
        "middle_end_char": f.chars(b),
        "middle_nodes": [first.type] if first == last else [first.type, last.type],
    }
    return ("fim-spm" if spm else "fim-psm"), Split(prompt, middle, meta)
