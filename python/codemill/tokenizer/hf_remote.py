"""The transformers tokenizer class that ``save_pretrained`` copies into a directory as
``tokenization_codemill.py``: ``AutoTokenizer.from_pretrained(dir, trust_remote_code=True)``
loads it, and it encodes and decodes with codemill (same ids as ``CodeTokenizer``).

It imports only transformers, numpy and codemill's public API, because it runs from the
model directory, outside this package.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizer  # type: ignore[import-not-found,unused-ignore]

from codemill import CodeTokenizer
from codemill.tokenizer.huggingface import byte_encoder

TOKENIZER_FILE = "codemill_tokenizer.json"
# Marks the name of an id whose bytes another id spells already (or none): not in the byte
# alphabet of `byte_encoder`, so no token's own name holds it.
_UNIQUE = "\u27e8"


class CodemillTokenizer(PreTrainedTokenizer):  # type: ignore[misc,unused-ignore]
    """A codemill tokenizer behind the transformers API (padding, truncation, attention masks,
    offsets, special tokens, chat templates)."""

    vocab_files_names = {"vocab_file": TOKENIZER_FILE}  # noqa: RUF012 (transformers reads it)
    model_input_names = ["input_ids", "attention_mask"]  # noqa: RUF012

    def __init__(self, vocab_file: str, **kwargs: Any) -> None:
        self.vocab_file = vocab_file
        self.codemill = CodeTokenizer.load(vocab_file)
        specials = self.codemill.special_tokens
        enc = byte_encoder()
        self._id_to_str: list[str] = []
        self._str_to_id: dict[str, int] = {}
        for i in range(self.codemill.vocab_size):
            b = self.codemill.id_to_bytes(i) or b""
            s = b.decode("utf-8", "replace") if b.decode("utf-8", "replace") in specials else "".join(enc[x] for x in b)
            if not s or s in self._str_to_id:
                # One string per id, or `get_vocab` (and so `len`) has fewer entries than there
                # are ids: an identifier token and a merge can spell the same bytes, and a
                # vocabulary may leave ids unused. A mark outside the byte alphabet keeps it apart.
                s = f"{s}{_UNIQUE}{i}{_UNIQUE}"
            self._id_to_str.append(s)
            self._str_to_id[s] = i
        self._lengths = self.codemill.token_lengths().astype(np.int64)
        super().__init__(**kwargs)

    @property
    def vocab_size(self) -> int:
        return int(self.codemill.vocab_size)

    def get_vocab(self) -> dict[str, int]:
        return dict(self._str_to_id)

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        return [self._id_to_str[i] for i in self.codemill.encode(text).tolist()]

    def _convert_token_to_id(self, token: str) -> int | None:
        return self._str_to_id.get(token)

    def _convert_id_to_token(self, index: int) -> str:
        return self._id_to_str[index]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self._ids_text([self._str_to_id[t] for t in tokens])

    def _ids_text(self, ids: list[int]) -> str:
        return self.codemill.decode(np.asarray(ids, dtype=np.uint32), errors="replace")

    def _decode(self, token_ids: Any, skip_special_tokens: bool = False, **kwargs: Any) -> str:  # type: ignore[override]
        ids = [token_ids] if isinstance(token_ids, int) else list(token_ids)
        if skip_special_tokens:
            drop = set(self.all_special_ids)
            ids = [i for i in ids if i not in drop]
        return self._ids_text(ids)

    def _encode_plus(self, text: Any, text_pair: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        want_offsets = kwargs.pop("return_offsets_mapping", False)
        split_special = kwargs.pop("split_special_tokens", False)
        batched = isinstance(text, (list, tuple)) and bool(text) and isinstance(text[0], str)
        if not isinstance(text, str) and not batched:
            return super()._encode_plus(text, text_pair, **kwargs)
        if batched:
            return self._batch(list(text), text_pair, want_offsets, split_special, kwargs)
        allowed = () if split_special else "all"
        ids = self.codemill.encode(text, allowed_special=allowed)
        if not want_offsets:
            second = None if text_pair is None else self.codemill.encode(text_pair, allowed_special=allowed).tolist()
            return self._encode_ids(ids.tolist(), second, kwargs)
        if text_pair is not None:
            raise NotImplementedError("return_offsets_mapping with text pairs")
        ends = np.cumsum(self._lengths[ids])
        starts = ends - self._lengths[ids]
        raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        char_of = np.cumsum((raw & 0xC0) != 0x80) - 1
        offs = [(int(char_of[a]), int(char_of[b - 1]) + 1) for a, b in zip(starts, ends, strict=True)]
        kwargs["return_special_tokens_mask"] = True
        out = self._encode_ids(ids.tolist(), None, kwargs)
        mask = out["special_tokens_mask"]
        flat = mask[0] if mask and isinstance(mask[0], list) else mask
        ours = offs if self.truncation_side == "right" else offs[len(offs) - sum(1 for m in flat if not m) :]
        it = iter(ours)
        mapping = [(0, 0) if m else next(it) for m in flat]
        out["offset_mapping"] = [mapping] if flat is not mask else mapping
        return out

    def _encode_ids(self, ids: list[int], pair: list[int] | None, kwargs: dict[str, Any]) -> Any:
        if ids:
            return super()._encode_plus(ids, pair, **kwargs)
        # An empty list is an empty batch to transformers 5's _encode_plus (an empty text raised).
        kw = dict(kwargs)
        kw["padding"] = kw.pop("padding_strategy", False)
        kw["truncation"] = kw.pop("truncation_strategy", None)
        kw.pop("is_split_into_words", None)
        return self.prepare_for_model([], pair, **kw)

    def _batch(
        self, texts: list[str], pairs: Any, want_offsets: bool, split_special: bool, kwargs: dict[str, Any]
    ) -> Any:
        from transformers.tokenization_utils_base import BatchEncoding  # type: ignore[import-not-found,unused-ignore]
        from transformers.utils import PaddingStrategy  # type: ignore[import-not-found,unused-ignore]

        padding = kwargs.pop("padding_strategy", PaddingStrategy.DO_NOT_PAD)
        tensors = kwargs.pop("return_tensors", None)
        mask = kwargs.pop("return_attention_mask", None)
        for k in ("pad_to_multiple_of", "padding_side"):
            kwargs.pop(k, None)
        rows: dict[str, list[Any]] = {}
        for i, t in enumerate(texts):
            one = self._encode_plus(
                t,
                None if pairs is None else pairs[i],
                return_offsets_mapping=want_offsets,
                split_special_tokens=split_special,
                return_attention_mask=False,
                **kwargs,
            )
            for k, v in one.items():
                rows.setdefault(k, []).append(v)
        offsets = rows.pop("offset_mapping", None)
        out = self.pad(rows, padding=padding.value, max_length=kwargs.get("max_length"), return_attention_mask=mask)
        if offsets is not None:
            width = max(len(r) for r in out["input_ids"]) if out["input_ids"] else 0
            left = self.padding_side == "left"
            out["offset_mapping"] = [
                ([(0, 0)] * (width - len(o)) + o) if left else (o + [(0, 0)] * (width - len(o))) for o in offsets
            ]
        return BatchEncoding(dict(out), tensor_type=tensors)

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, ...]:
        name = (filename_prefix + "-" if filename_prefix else "") + TOKENIZER_FILE
        dest = os.path.join(save_directory, name)
        if os.path.abspath(dest) != os.path.abspath(self.vocab_file):
            shutil.copyfile(self.vocab_file, dest)
        return (dest,)
