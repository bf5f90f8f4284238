"""Evaluation metrics: pass@k, outcome rates, normalised exact match, efficiency, CodeBLEU."""

from __future__ import annotations

import importlib.util
import io
import math
import tokenize
from collections.abc import Iterable, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k = 1 - C(n-c, k) / C(n, k) for n samples of which c passed.

    Computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i): the binomials themselves overflow a float
    long before n gets large (C(2000, 1000) has 600 digits), the product never does.
    """
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"pass@k needs 0 <= c <= n and k >= 1 (n={n}, c={c}, k={k})")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def mean_pass_at_k(counts: Iterable[tuple[int, int]], ks: Sequence[int]) -> dict[str, float]:
    """pass@k averaged over tasks, for each k that every task has enough samples for."""
    counts = list(counts)
    if not counts:
        return {}
    fewest = min(n for n, _ in counts)
    return {f"pass@{k}": float(np.mean([pass_at_k(n, c, k) for n, c in counts])) for k in ks if k <= fewest}


def normalize_code(code: str) -> str:
    """Token stream without comments, blank lines and spacing, so layout never decides a match."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(code.strip("\r\n") + "\n").readline)
        kept = [
            # A NEWLINE token's text is the line's ending, CRLF or LF: layout, not code.
            "\n"
            if tok.type == tokenize.NEWLINE
            else tok.string
            if tok.type not in (tokenize.INDENT, tokenize.DEDENT)
            else tok.type
            for tok in tokens
            if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER)
        ]
        return " ".join(str(t) for t in kept)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return " ".join(code.split())


def exact_match(completion: str, reference: str) -> bool:
    return normalize_code(completion) == normalize_code(reference)


def efficiency(pairs: Iterable[tuple[float, float]]) -> float | None:
    """Geometric mean of canonical_time / sample_time over passed samples (1.0 = as fast).

    A geometric mean because these are ratios: 2x faster and 2x slower cancel out.
    """
    logs = [math.log(max(ref, 1e-9) / max(own, 1e-9)) for ref, own in pairs]
    return math.exp(sum(logs) / len(logs)) if logs else None


def codebleu_available() -> bool:
    return importlib.util.find_spec("codebleu") is not None


def codebleu(references: list[str], predictions: list[str]) -> float | None:
    """CodeBLEU from the optional `codebleu` package; None when it is not installed."""
    if not references or not codebleu_available():
        return None
    from codebleu import calc_codebleu

    return float(calc_codebleu(references, predictions, lang="python")["codebleu"])
