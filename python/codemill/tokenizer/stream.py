"""Incremental decoding: text as ids arrive, never splitting a UTF-8 character."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Protocol


class _Bytes(Protocol):
    def id_to_bytes(self, token_id: int) -> bytes | None: ...


class DecodeStream:
    """Feed ids one at a time (:meth:`step`) or as an iterable (:meth:`feed`); each call gives
    the text that is complete so far. Bytes of a character cut between tokens wait for the
    rest; :meth:`finish` raises if the ids ended inside a character (``errors="strict"``).

    >>> from codemill import CodeTokenizer
    >>> tok = CodeTokenizer.default()
    >>> stream = tok.decode_stream()
    >>> "".join(stream.feed(tok.encode("naïve → ok"))) + stream.finish()
    'naïve → ok'
    """

    def __init__(self, tokenizer: _Bytes, errors: str = "strict") -> None:
        self._tok = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors)

    def step(self, token_id: int) -> str:
        b = self._tok.id_to_bytes(int(token_id))
        if b is None:
            from codemill.errors import CodemillError

            raise CodemillError(f"token id {token_id} is outside the vocabulary")
        return self._decoder.decode(b)

    def feed(self, ids: Iterable[int]) -> Iterator[str]:
        for i in ids:
            text = self.step(i)
            if text:
                yield text

    def finish(self) -> str:
        return self._decoder.decode(b"", final=True)
