"""Identifier extension of a base vocabulary: the corpus's identifiers and identifier parts
that save the most base tokens become new tokens, with ids after the base vocabulary."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codemill._io import atomic_write_text
from codemill.errors import CodemillError
from codemill.sources import DEFAULT_MAX_BYTES, Skips
from codemill.tokenizer.base import BaseVocabTokenizer
from codemill.tokenizer.code_tokenizer import CodeTokenizer, TrainInput, _nothing_read, _training_texts


def extend(
    base: CodeTokenizer,
    corpus: Iterable[TrainInput],
    identifier_vocab_size: int,
    *,
    min_count: int = 2,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    num_threads: int | None = None,
) -> BaseVocabTokenizer:
    if not isinstance(base, BaseVocabTokenizer):
        raise CodemillError("only a base vocabulary (from_tiktoken / from_huggingface) can be extended")
    if base.identifier_vocab_size:
        raise CodemillError("this tokenizer is extended already: extend its base vocabulary instead")
    # As the CLI checks them: the core took a bad one as a bare OverflowError or TypeError.
    _check_count("identifier_vocab_size", identifier_vocab_size, _MAX_ID + 1 - base.vocab_size)
    _check_count("min_count", min_count)
    _check_count("max_file_bytes", max_file_bytes)
    if num_threads is not None:
        _check_count("num_threads", num_threads, hint=" (or None: every core)")
    skips = Skips()
    texts = [t for t, _ in _training_texts(corpus, max_file_bytes, skips) if t]
    if not texts:
        raise CodemillError(f"no corpus text: every input was empty or skipped ({_nothing_read(skips)})")
    core = base._base_core
    try:
        cands = core.identifier_candidates(texts, identifier_vocab_size, min_count, num_threads)
    except UnicodeEncodeError as exc:  # as train says it
        raise CodemillError(f"corpus text is not valid Unicode: {exc.reason}") from None
    first = base.vocab_size
    extension = [(text, first + i) for i, (text, _, _) in enumerate(cands)]
    meta: dict[str, Any] = {
        "extension": {
            "documents": len(texts),
            "skipped": skips.as_dict(),
            "requested": identifier_vocab_size,
            "added": len(extension),
            "min_count": min_count,
            "estimated_tokens_saved": int(sum(c * (n - 1) for _, c, n in cands)),
        }
    }
    return base.with_extension(extension, meta)


_MAX_ID = 2**32 - 1  # ids are 32-bit


def _check_count(name: str, value: object, most: int = 2**63 - 1, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodemillError(f"{name} must be an integer{hint}, got {value!r}")
    if value < 1:
        raise CodemillError(f"{name} must be at least 1{hint}, got {value}")
    if value > most:
        raise CodemillError(f"{name} must be at most {most}, got {value}")


def new_token_init(tok: BaseVocabTokenizer) -> list[dict[str, Any]]:
    """For each identifier token: its id, text and ids under the base vocabulary (initialise
    its embedding row as the mean of those rows)."""
    base = BaseVocabTokenizer(tok.spec.__class__(**{**tok.spec.__dict__, "extension": []}))
    return [
        {"id": i, "token": text, "base_ids": [int(x) for x in base.encode(text)]} for text, i in tok.identifier_tokens
    ]


def init_file(tokenizer_path: str | os.PathLike[str]) -> Path:
    """Where the new tokens' base ids are written, beside the tokenizer file."""
    p = Path(tokenizer_path)
    return p.with_name(p.stem + ".new_tokens.json")


def save_extended(tok: BaseVocabTokenizer, path: str | os.PathLike[str]) -> Path:
    """Saves the tokenizer and, beside it, the base ids of each new token."""
    tok.save(path)
    init = init_file(path)
    atomic_write_text(
        init,
        json.dumps(
            {"base_vocab_size": tok.base_vocab_size, "new_tokens": new_token_init(tok)}, ensure_ascii=False, indent=1
        ),
    )
    return init
