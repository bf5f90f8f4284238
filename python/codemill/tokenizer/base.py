"""Base vocabularies: a model's own tokenizer (tiktoken rank file or byte-level BPE
``tokenizer.json``) encoded with its own ids by codemill's native encoder, optionally
extended with identifier tokens whose ids follow the base vocabulary.

A :class:`BaseVocabTokenizer` is a :class:`CodeTokenizer`: every command and pipeline that
takes a tokenizer takes one. It saves as one JSON file (``codemill-base-tokenizer/1``).
"""

from __future__ import annotations

import base64
import json
import operator
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from codemill import _core
from codemill.errors import CodemillError, TokenizerFileError
from codemill.tokenizer.code_tokenizer import _VALID_UNICODE, CodeTokenizer

FORMAT = "codemill-base-tokenizer/1"
# Token ids a vocabulary file may give: the largest real ones have ~260k; a file naming an id
# past this is damaged (and would have a table that large allocated for it).
MAX_TOKEN_ID = 1 << 24


def token_id(value: Any, what: str) -> int:
    """``value`` as a token id of a vocabulary file, or a TokenizerFileError naming ``what``:
    an integer (a NumPy one too; not a bool, not 300.7 read as 300) in [0, MAX_TOKEN_ID)."""
    try:
        n = operator.index(value) if not isinstance(value, bool) else -1
    except TypeError:
        n = -1
    if not 0 <= n < MAX_TOKEN_ID:
        raise TokenizerFileError(f"{what}: {value!r} is not a token id (an integer in [0, {MAX_TOKEN_ID}))")
    return n


# End-of-text names of the vocabularies we know, tried in order when the source names none.
EOS_NAMES = ("<|endoftext|>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>", "<|im_end|>")


@dataclass(frozen=True)
class AddedToken:
    content: str
    id: int
    special: bool = True
    normalized: bool = False


@dataclass(frozen=True)
class BaseSpec:
    """Everything a base tokenizer is made of; what the JSON file holds."""

    tokens: list[bytes | None]
    merges: list[tuple[int, int]] | None
    whole_first: bool
    stages: list[tuple[str, str]]
    added: list[AddedToken]
    extension: list[tuple[str, int]] = field(default_factory=list)
    eos: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "source": self.source,
            "eos": self.eos,
            "whole_first": self.whole_first,
            "pre_tokenizer": [list(s) for s in self.stages],
            "tokens": [None if t is None else base64.b64encode(t).decode("ascii") for t in self.tokens],
            "merges": None if self.merges is None else [list(m) for m in self.merges],
            "added_tokens": [
                {"content": a.content, "id": a.id, "special": a.special, "normalized": a.normalized} for a in self.added
            ],
            "identifier_tokens": [{"content": c, "id": i} for c, i in self.extension],
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BaseSpec:
        try:
            return cls(
                tokens=[None if t is None else base64.b64decode(t) for t in d["tokens"]],
                merges=None if d["merges"] is None else [(int(a), int(b)) for a, b in d["merges"]],
                whole_first=bool(d["whole_first"]),
                stages=[(str(k), str(a)) for k, a in d["pre_tokenizer"]],
                added=[
                    AddedToken(
                        a["content"], token_id(a["id"], "added token"), bool(a["special"]), bool(a["normalized"])
                    )
                    for a in d["added_tokens"]
                ],
                extension=[(str(t["content"]), token_id(t["id"], "identifier token")) for t in d["identifier_tokens"]],
                eos=d.get("eos"),
                source=dict(d.get("source") or {}),
                metadata=dict(d.get("metadata") or {}),
            )
        except TokenizerFileError as exc:
            raise TokenizerFileError(f"corrupt {FORMAT} file: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenizerFileError(f"corrupt {FORMAT} file: {exc!r}") from None


class BaseVocabTokenizer(CodeTokenizer):
    """A model's tokenizer (same ids as tiktoken / HF tokenizers), plus identifier tokens."""

    def __init__(self, spec: BaseSpec) -> None:
        core = _core.BaseTokenizer(
            spec.tokens,
            spec.merges,
            spec.whole_first,
            spec.stages,
            [(a.content, a.id, a.special, a.normalized) for a in spec.added],
            spec.extension,
        )
        super().__init__(core)  # type: ignore[arg-type]
        self._base_core = core
        self.spec = spec

    @classmethod
    def from_spec_json(cls, d: dict[str, Any]) -> BaseVocabTokenizer:
        return cls(BaseSpec.from_dict(d))

    def to_json(self) -> str:
        return json.dumps(self.spec.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @property
    def metadata(self) -> dict[str, Any]:
        return {"source": self.spec.source, **self.spec.metadata}

    @property
    def base_vocab_size(self) -> int:
        """Ids below this are the base vocabulary's (and its added tokens'); the rest are new."""
        return self._base_core.vocab_size - self._base_core.identifier_vocab_size

    @property
    def identifier_vocab_size(self) -> int:
        return self._base_core.identifier_vocab_size

    @property
    def identifier_tokens(self) -> list[tuple[str, int]]:
        return list(self.spec.extension)

    @property
    def num_merges(self) -> int:
        return (
            len(self.spec.merges)
            if self.spec.merges is not None
            else sum(1 for t in self.spec.tokens if t is not None and len(t) > 1)
        )

    @property
    def eot_id(self) -> int:
        name = self.spec.eos
        if name is None or name not in self._specials:
            raise CodemillError("this tokenizer names no end-of-text special token")
        return self._specials[name]

    def merges(self) -> list[tuple[int, int]]:
        if self.spec.merges is None:
            raise CodemillError("a tiktoken rank file has ranks, not a merge list")
        return list(self.spec.merges)

    def pretokenize(
        self, text: str, language: str | None = None, *, with_kinds: bool = False
    ) -> list[str] | list[tuple[str, str]]:
        """The pre-tokenizer's pieces (the base pattern; ``language`` does not change them)."""
        with _VALID_UNICODE:  # a lone surrogate: one clear error, as encode gives
            pieces = self._base_core.pieces(text)
        return [(p, "piece") for p in pieces] if with_kinds else pieces

    def token_lengths(self) -> np.ndarray:
        return self._base_core.token_lengths()

    def with_extension(self, extension: list[tuple[str, int]], metadata: dict[str, Any]) -> BaseVocabTokenizer:
        return BaseVocabTokenizer(replace(self.spec, extension=extension, metadata={**self.spec.metadata, **metadata}))

    def __repr__(self) -> str:
        name = self.spec.source.get("name", "?")
        return (
            f"BaseVocabTokenizer({name}, vocab_size={self.vocab_size}, identifiers={self.identifier_vocab_size}, "
            f"specials={len(self._specials)})"
        )


def pick_eos(added: list[AddedToken], named: str | None = None) -> str | None:
    specials = {a.content for a in added if a.special}
    if named is not None and named in specials:
        return named
    return next((n for n in EOS_NAMES if n in specials), None)


def stages_for_pattern(pattern: str) -> list[tuple[str, str]]:
    """One pre-tokenizer stage for a split regex or a known pattern's name."""
    names = dict(_core.BaseTokenizer.split_patterns())
    if pattern in names or pattern in _PATTERN_ALIASES:
        return [("known", _PATTERN_ALIASES.get(pattern, pattern))]
    known = _core.BaseTokenizer.known_pattern(pattern)
    return [("known", known)] if known else [("regex", pattern)]


def check_pattern_name(pattern: str) -> None:
    """Refuses a pattern a user gave that reads as a name but is none of the known ones: taken
    as a regex matching itself (cl100k-base, llama-3), it gave ids unlike the encoding's with no
    word said."""
    names = [name for name, _ in _core.BaseTokenizer.split_patterns()]
    if pattern in names or pattern in _PATTERN_ALIASES or not re.fullmatch(r"[A-Za-z][\w.\-]*", pattern):
        return
    known = ", ".join(sorted([*names, *_PATTERN_ALIASES]))
    raise CodemillError(f"unknown split pattern name {pattern!r} (known: {known}); or give the pattern's regex")


_PATTERN_ALIASES = {
    "cl100k_base": "cl100k",
    "o200k_base": "o200k",
    "r50k_base": "gpt2",
    "p50k_base": "gpt2",
    "p50k_edit": "gpt2",
    "r50k": "gpt2",
    "p50k": "gpt2",
}
