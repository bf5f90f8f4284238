"""tiktoken rank files (``cl100k_base.tiktoken`` ...): one ``base64-token rank`` per line."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from codemill._io import check_regular_file
from codemill.errors import CodemillError, TokenizerFileError
from codemill.tokenizer.base import (
    AddedToken,
    BaseSpec,
    BaseVocabTokenizer,
    check_pattern_name,
    pick_eos,
    stages_for_pattern,
    token_id,
)

# tiktoken's encodings: split pattern name and special tokens, told apart by their size.
ENCODINGS: dict[str, tuple[int, str, dict[str, int]]] = {
    "r50k_base": (50256, "gpt2", {"<|endoftext|>": 50256}),
    "p50k_base": (50280, "gpt2", {"<|endoftext|>": 50256}),
    "cl100k_base": (
        100256,
        "cl100k",
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    "o200k_base": (199998, "o200k", {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}


def read_ranks(path: Path) -> list[bytes | None]:
    """Token bytes by rank; ranks no line names (p50k's 50256) are None."""
    check_regular_file(path, TokenizerFileError)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileNotFoundError(f"{path}: {exc.strerror}") from None
    by_rank: dict[int, bytes] = {}
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            tok, rank = line.split()
            by_rank[token_id(int(rank), "rank")] = base64.b64decode(tok, validate=True)
        except TokenizerFileError as exc:  # the id rule and its message are token_id's
            raise TokenizerFileError(f"{path}:{n}: {exc}") from None
        except (ValueError, binascii.Error):
            raise TokenizerFileError(f"{path}:{n}: not a tiktoken rank line ('<base64> <rank>')") from None
    if not by_rank:
        raise TokenizerFileError(f"{path}: empty tiktoken rank file")
    tokens: list[bytes | None] = [None] * (max(by_rank) + 1)
    for r, t in by_rank.items():
        tokens[r] = t
    return tokens


def is_rank_file(path: Path) -> bool:
    """A ``.tiktoken`` file, or any file whose first line reads ``<base64> <int>``."""
    if path.suffix == ".tiktoken":
        return True
    try:
        with path.open("rb") as f:
            first = f.readline(512).split()
        return len(first) == 2 and first[1].isdigit() and bool(base64.b64decode(first[0], validate=True))
    except (OSError, ValueError, binascii.Error):
        return False


def from_tiktoken(
    path: str | os.PathLike[str],
    pattern: str | None = None,
    special_tokens: dict[str, int] | None = None,
) -> BaseVocabTokenizer:
    """A tokenizer from a tiktoken rank file. ``pattern``: a split regex or a known name
    (``cl100k_base``, ``o200k_base``, ``r50k_base``, ``p50k_base``, ``llama3``, ``qwen2``);
    by default the encoding is recognised from the file name or its size."""
    p = Path(path)
    tokens = read_ranks(p)
    n = sum(t is not None for t in tokens)
    name = next((k for k in ENCODINGS if p.name.startswith(k)), None)
    if name is None:
        name = next((k for k, (size, _, _) in ENCODINGS.items() if size == n), None)
    if pattern is not None:
        check_pattern_name(pattern)
    else:
        if name is None:
            raise CodemillError(f"{p}: unknown tiktoken encoding ({n} ranks): give its split pattern")
        pattern = ENCODINGS[name][1]
    if special_tokens is None:
        special_tokens = dict(ENCODINGS[name][2]) if name else {}
    # (-1 read the last rank; "7" and 10**12 gave bare errors)
    special_tokens = {s: token_id(i, f"special token {s!r}") for s, i in special_tokens.items()}
    for s, i in special_tokens.items():
        if i < len(tokens) and tokens[i] is not None:
            raise CodemillError(f"special token {s!r} has id {i}, which is a rank of {p}")
    added = [AddedToken(s, i) for s, i in sorted(special_tokens.items(), key=lambda kv: kv[1])]
    spec = BaseSpec(
        tokens=tokens,
        merges=None,
        whole_first=True,
        stages=stages_for_pattern(pattern),
        added=added,
        eos=pick_eos(added),
        source={"kind": "tiktoken", "name": name or p.stem, "file": p.name, "pattern": pattern},
    )
    return BaseVocabTokenizer(spec)
