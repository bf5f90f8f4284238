"""The transformers tokenizer class that ``save_pretrained`` copies into a directory as
``tokenization_codemill.py``: ``AutoTokenizer.from_pretrained(dir, trust_remote_code=True)``
loads it, and it encodes and decodes with codemill (same ids as ``CodeTokenizer``).

It imports only transformers, numpy and codemill's public API, because it runs from the
model directory, outside this package.
"""

from __future__ import annotations

import json
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
        # The tokens codemill splits out of text itself: its specials, and a base vocabulary's
        # other added tokens (DeepSeek-V3's FIM markers), which transformers loads as added too.
        # Named by their text, as transformers names an added token: adding one again finds it.
        self._own_added = {**self._base_added(vocab_file), **{i: s for s, i in specials.items()}}
        enc = byte_encoder()
        self._id_to_str: list[str] = []
        self._str_to_id: dict[str, int] = {}
        for i in range(self.codemill.vocab_size):
            b = self.codemill.id_to_bytes(i) or b""
            s = self._own_added.get(i) or "".join(enc[x] for x in b)
            if not s or s in self._str_to_id:
                # One string per id, or `get_vocab` (and so `len`) has fewer entries than there
                # are ids: an identifier token and a merge can spell the same bytes, and a
                # vocabulary may leave ids unused. A mark outside the byte alphabet keeps it apart.
                s = f"{s}{_UNIQUE}{i}{_UNIQUE}"
            self._id_to_str.append(s)
            self._str_to_id[s] = i
        self._lengths = self.codemill.token_lengths().astype(np.int64)
        self._own_added_only = True
        super().__init__(**kwargs)

    @staticmethod
    def _base_added(vocab_file: str) -> dict[int, str]:
        """The added tokens a codemill tokenizer file names (id -> content); none for what else
        `CodeTokenizer.load` reads (a folder, a URL, a rank file): transformers then splits
        them out itself, slower, with the same ids."""
        try:
            with open(vocab_file, encoding="utf-8") as f:
                added = json.load(f).get("added_tokens", [])
            return {int(a["id"]): str(a["content"]) for a in added}
        except (OSError, ValueError, AttributeError, TypeError, KeyError):
            return {}

    @property
    def vocab_size(self) -> int:
        return int(self.codemill.vocab_size)

    def get_vocab(self) -> dict[str, int]:
        # With the tokens added through transformers: `len` and the ids `add_tokens` gives follow
        # it. Those of codemill's own ids (the folder's added tokens, which transformers loads
        # too, special or not) are named once: twice, `len` counted them twice.
        n = self.codemill.vocab_size
        return {**self._str_to_id, **{t: i for t, i in self._added_tokens_encoder.items() if i >= n}}

    def _update_total_vocab_size(self) -> None:
        # transformers calls this whenever the added tokens change.
        self._own_added_only = all(self._is_own(i, t) for i, t in self._added_tokens_decoder.items())
        super()._update_total_vocab_size()

    def _is_own(self, i: int, token: Any) -> bool:
        """Whether codemill gives the added token ``token`` (id ``i``) itself, splitting it out
        of text as transformers would: one of its own added tokens (not a word of its vocabulary
        added through transformers, which transformers splits out and codemill would not)."""
        return self._own_added.get(i) == token.content and not (token.lstrip or token.rstrip or token.single_word)

    def _text_ids(self, text: str, split_special: bool) -> np.ndarray:
        if split_special or self._own_added_only:
            # codemill splits its own specials out itself, far faster than transformers' trie.
            return self.codemill.encode(text, allowed_special=() if split_special else "all")
        # Tokens added through transformers: its `tokenize` splits them out (and strips around
        # them as they ask), then `_tokenize` encodes the text between them.
        ids = self.convert_tokens_to_ids(self.tokenize(text, split_special_tokens=False))
        return np.asarray(ids, dtype=np.int64)

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        # Text between added tokens, or all of it with `split_special_tokens`: specials are text.
        return [self._id_to_str[i] for i in self.codemill.encode(text, allowed_special=()).tolist()]

    def _convert_token_to_id(self, token: str) -> int | None:
        return self._str_to_id.get(token)

    def _convert_id_to_token(self, index: int) -> str:
        return self._id_to_str[index]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self._ids_text([self._convert_token_to_id_with_added_voc(t) for t in tokens])

    def _ids_text(self, ids: list[int]) -> str:
        n = self.codemill.vocab_size
        if all(i < n for i in ids):
            return self.codemill.decode(np.asarray(ids, dtype=np.uint32), errors="replace")
        # Tokens added through transformers after codemill's ids read as their text; codemill
        # decodes each run between them (a character may span several of its tokens).
        out: list[str] = []
        run: list[int] = []
        for i in ids:
            if i >= n and i in self._added_tokens_decoder:
                out += [self._ids_text(run), self._added_tokens_decoder[i].content]
                run = []
            else:
                run.append(i)
        return "".join([*out, self._ids_text(run)])

    def _token_bytes(self, i: int) -> bytes:
        if i >= self.codemill.vocab_size and i in self._added_tokens_decoder:
            return self._added_tokens_decoder[i].content.encode("utf-8")
        return self.codemill.id_to_bytes(i) or b""

    def _decode(self, token_ids: Any, skip_special_tokens: bool = False, **kwargs: Any) -> str:  # type: ignore[override]
        ids = [token_ids] if isinstance(token_ids, int) else list(token_ids)
        if skip_special_tokens:
            drop = set(self.all_special_ids)
            ids = [i for i in ids if i not in drop]
        return self._ids_text(ids)

    def _encode_plus(self, text: Any, text_pair: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        want_offsets = kwargs.pop("return_offsets_mapping", False)
        split_special = kwargs.pop("split_special_tokens", self.split_special_tokens)
        # A list of words with `is_split_into_words` is one text, not a batch.
        words = bool(kwargs.get("is_split_into_words"))
        batched = isinstance(text, (list, tuple)) and bool(text) and isinstance(text[0], str) and not words
        if not isinstance(text, str) and not batched:
            return super()._encode_plus(text, text_pair, split_special_tokens=split_special, **kwargs)
        if batched:
            return self._batch(list(text), text_pair, want_offsets, split_special, kwargs)
        ids = self._text_ids(text, split_special)
        if not want_offsets:
            second = None if text_pair is None else self._text_ids(text_pair, split_special).tolist()
            return self._encode_ids(ids.tolist(), second, kwargs)
        if text_pair is not None:
            raise NotImplementedError("return_offsets_mapping with text pairs")
        data = text.encode("utf-8")
        if self._own_added_only or split_special:
            ends = np.cumsum(self._lengths[ids])
            starts = ends - self._lengths[ids]
        else:
            # Whitespace an added token strips (lstrip/rstrip) is in no token: find each in turn.
            starts_l, ends_l, pos = [], [], 0
            for b in map(self._token_bytes, ids.tolist()):
                pos = data.find(b, pos)
                starts_l.append(pos)
                pos += len(b)
                ends_l.append(pos)
            starts, ends = np.asarray(starts_l, dtype=np.int64), np.asarray(ends_l, dtype=np.int64)
        raw = np.frombuffer(data, dtype=np.uint8)
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
        multiple = kwargs.pop("pad_to_multiple_of", None)
        side = kwargs.pop("padding_side", None)
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
        out = self.pad(
            rows,
            padding=padding.value,
            max_length=kwargs.get("max_length"),
            pad_to_multiple_of=multiple,
            padding_side=side,
            return_attention_mask=mask,
        )
        if offsets is not None:
            width = max(len(r) for r in out["input_ids"]) if out["input_ids"] else 0
            left = (side or self.padding_side) == "left"
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
