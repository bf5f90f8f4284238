"""CodeTokenizer: the code-aware tokenizer. Its vocabulary is learned from scanner pieces, an
identifier vocabulary and two stages of byte-level BPE. A ``codemill-tokenizer/3`` file (the
bundled one, and what training writes) encodes by longest match, with one token of lookahead
after the tokens its list names (those whose second candidate won on the training text); a
``/2`` file takes the lookahead after every token, and a ``/1`` file replays the merges.

Ids come back as NumPy ``uint32`` arrays. ``decode(encode(t)) == t`` for every valid Unicode
string. Special tokens are produced only for the ones named in ``allowed_special``.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codemill import _core
from codemill._io import atomic_write_text, check_regular_file
from codemill.errors import CodemillError, TokenizerFileError
from codemill.sources import DEFAULT_MAX_BYTES, Skips, iter_documents
from codemill.sources.fs import as_local, is_url
from codemill.sources.skips import EMPTY

if TYPE_CHECKING:
    import numpy as np

    from codemill.tokenizer.offsets import Encoding
    from codemill.tokenizer.stream import DecodeStream

# <|endoftext|>, <|fim_prefix|>, <|fim_middle|>, <|fim_suffix|>, <|file_sep|>, <|repo_name|>
SPECIAL_TOKENS: tuple[str, ...] = tuple(_core.Tokenizer.default_special_tokens())
DEFAULT_TOKENIZER = "codemill-code-32k.json"

AllowedSpecial = Literal["all"] | Iterable[str]
TrainInput = str | os.PathLike[str] | tuple[str, str | None]


class CodeTokenizer:
    """A trained codemill tokenizer. Thread-safe; encode/decode release the GIL."""

    def __init__(self, core: _core.Tokenizer) -> None:
        self._core = core
        self._specials = {s: core.special_id(i) for i, s in enumerate(core.special_tokens)}
        self._lengths: np.ndarray | None = None

    # ---- construction -------------------------------------------------------------------

    @classmethod
    @functools.cache
    def default(cls) -> CodeTokenizer:
        """The bundled tokenizer (see README, "The bundled tokenizer", for its provenance)."""
        ref = resources.files("codemill") / "data" / DEFAULT_TOKENIZER
        return cls.from_json(ref.read_text(encoding="utf-8"), source=str(ref))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CodeTokenizer:
        """Loads a codemill tokenizer file (:meth:`save`), a :meth:`save_pretrained` directory,
        a HF ``tokenizer.json`` (or a directory holding one) or a tiktoken rank file; at a URL
        too (:func:`load_tokenizer`)."""
        if isinstance(path, str) and is_url(path):
            return load_tokenizer(path)
        from codemill.tokenizer import huggingface, tiktoken_files
        from codemill.tokenizer.hf_export import TOKENIZER_FILE

        p = Path(path)
        if p.is_dir():
            if not (p / TOKENIZER_FILE).is_file():
                return huggingface.from_huggingface(p)
            p = p / TOKENIZER_FILE  # codemill's own file first: the plain tokenizer.json lacks identifiers
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
        check_regular_file(p, TokenizerFileError)
        if tiktoken_files.is_rank_file(p):
            return tiktoken_files.from_tiktoken(p)
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise TokenizerFileError(f"{p}: not a codemill tokenizer (not UTF-8 text)") from exc
        return cls.from_json(text, source=str(p))

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> CodeTokenizer:
        """A tokenizer from the text of a codemill tokenizer file or a HF ``tokenizer.json``."""
        # A codemill tokenizer file names its format first; anything else may be a base
        # vocabulary file or a HF tokenizer.json (whose "model" can come after megabytes).
        if '"codemill-tokenizer/' not in text[:4096]:
            return _from_other_json(text, source)
        try:
            return cls(_core.Tokenizer.from_json(text))
        except TokenizerFileError as exc:
            raise TokenizerFileError(f"{source}: {exc}") from None

    @staticmethod
    def from_tiktoken(
        path: str | os.PathLike[str], pattern: str | None = None, special_tokens: dict[str, int] | None = None
    ) -> CodeTokenizer:
        """A model's tokenizer from a tiktoken rank file (same ids as tiktoken). ``pattern``:
        a split regex or a name (``cl100k_base``, ``o200k_base``, ``r50k_base``, ``p50k_base``,
        ``llama3``, ``qwen2``); by default recognised from the file."""
        from codemill.tokenizer.tiktoken_files import from_tiktoken

        return from_tiktoken(path, pattern, special_tokens)

    @staticmethod
    def from_huggingface(path: str | os.PathLike[str]) -> CodeTokenizer:
        """A model's byte-level BPE tokenizer from a ``tokenizer.json`` or its directory
        (same ids as HF tokenizers, without added BOS/EOS)."""
        from codemill.tokenizer.huggingface import from_huggingface

        return from_huggingface(path)

    @staticmethod
    def extend(
        base: CodeTokenizer,
        corpus: Iterable[TrainInput],
        identifier_vocab_size: int = 4096,
        *,
        min_count: int = 2,
        max_file_bytes: int = 1_000_000,
        num_threads: int | None = None,
    ) -> CodeTokenizer:
        """``base`` plus the identifier tokens of ``corpus`` that save the most tokens; new ids
        follow the base vocabulary, so every base id keeps its meaning."""
        from codemill.tokenizer.extend import extend

        return extend(
            base,
            corpus,
            identifier_vocab_size,
            min_count=min_count,
            max_file_bytes=max_file_bytes,
            num_threads=num_threads,
        )

    def save_pretrained(self, directory: str | os.PathLike[str]) -> list[str]:
        """Writes a directory ``transformers.AutoTokenizer.from_pretrained(dir,
        trust_remote_code=True)`` loads (backed by codemill); for a base vocabulary without
        identifier tokens also a plain ``tokenizer.json``. Returns the files written."""
        from codemill.tokenizer.hf_export import save_pretrained

        return save_pretrained(self, directory)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the tokenizer as one versioned JSON file (atomically)."""
        p = Path(path)
        atomic_write_text(p, self.to_json())

    def to_json(self) -> str:
        return self._core.to_json()

    @classmethod
    def train(
        cls,
        paths_or_texts: Iterable[TrainInput],
        vocab_size: int = 32768,
        identifier_vocab_size: int = 1024,
        *,
        line_merge_fraction: float = 0.5,
        min_frequency: int = 2,
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        num_threads: int | None = None,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
        metadata: dict[str, Any] | None = None,
        progress: bool = False,
    ) -> CodeTokenizer:
        """Trains a tokenizer on files, directories (walked for code files) and texts.

        An item is a path if it is an ``os.PathLike``, or a one-line string naming an existing
        file or directory; a ``(text, language)`` tuple or any other string is a text. Paths
        are read like every command reads them (trees with ``.gitignore``, code files, JSONL
        and Parquet records); what is not read is counted in the tokenizer's metadata
        (``metadata["training"]["skipped"]``). ``progress``: its two steps (reading, learning
        the vocabulary) on stderr.
        """
        from codemill.progress import Progress

        if isinstance(special_tokens, str):  # each of its characters would be a token
            raise CodemillError(f"special_tokens: a list of tokens, not one string ({special_tokens!r})")
        if vocab_size < 256 + len(special_tokens) + 1:
            raise CodemillError(f"vocab_size {vocab_size} is too small (minimum {257 + len(special_tokens)})")
        if identifier_vocab_size < 0:
            raise CodemillError("identifier_vocab_size must be >= 0")
        if not 0.0 <= line_merge_fraction <= 1.0:  # NaN too (it reached the core as bad JSON)
            raise CodemillError(f"line_merge_fraction must be in [0, 1], got {line_merge_fraction}")
        texts: list[str] = []
        langs: list[str | None] = []
        skips = Skips()
        by_lang: Counter[str] = Counter()
        with Progress("train: reading", unit="documents", enabled=progress) as reading:
            for text, lang in _training_texts(paths_or_texts, max_file_bytes, skips):
                if not text:
                    skips.add("<text>", EMPTY)
                    continue
                texts.append(text)
                langs.append(lang)
                by_lang[lang or "generic"] += len(text.encode("utf-8", "surrogatepass"))
                reading.update(len(texts))
            reading.detail = f"{sum(by_lang.values()) / 1e6:,.1f} MB"
        if not texts:
            raise CodemillError(f"no training text: every input was empty or skipped ({_nothing_read(skips)})")
        meta = {
            "codemill_version": _version(),
            "training": {
                "documents": len(texts),
                "bytes_by_language": dict(sorted(by_lang.items())),
                "skipped": skips.as_dict(),
                "vocab_size": vocab_size,
                "identifier_vocab_size": identifier_vocab_size,
                "line_merge_fraction": line_merge_fraction,
                "min_frequency": min_frequency,
            },
            **(metadata or {}),
        }
        with Progress("train: learning the vocabulary", enabled=progress) as learning:
            learning.update(0, force=True)
            try:
                core = _core.Tokenizer.train(
                    texts,
                    langs,
                    vocab_size,
                    identifier_vocab_size,
                    line_merge_fraction,
                    min_frequency,
                    list(special_tokens),
                    json.dumps(meta),
                    num_threads,
                )
            except UnicodeEncodeError as exc:
                raise CodemillError(f"training text is not valid Unicode: {exc.reason}") from None
            learning.detail = f"{core.vocab_size:,} tokens"
        return cls(core)

    # ---- encoding -----------------------------------------------------------------------

    def encode(self, text: str, language: str | None = None, *, allowed_special: AllowedSpecial = ()) -> np.ndarray:
        """Token ids of ``text`` as a ``uint32`` array. ``language`` (checked either way) picks the
        scanner table of a ``/1`` file; the ids of a ``/2`` or ``/3`` file do not depend on it."""
        with _VALID_UNICODE:
            return self._core.encode(text, language, self._allowed(allowed_special))

    def encode_batch(
        self,
        texts: Sequence[str],
        languages: Sequence[str | None] | str | None = None,
        num_threads: int | None = None,
        *,
        allowed_special: AllowedSpecial = (),
    ) -> list[np.ndarray]:
        """Encodes many texts in parallel (all cores, or ``num_threads``) without the GIL."""
        args = self._batch_args(texts, languages, allowed_special, num_threads)
        with _BatchErrors(args[0]):
            return self._core.encode_batch(*args)

    def count_batch(
        self,
        texts: Sequence[str],
        languages: Sequence[str | None] | str | None = None,
        num_threads: int | None = None,
        *,
        allowed_special: AllowedSpecial = (),
    ) -> list[int]:
        """Each text's token count, as :meth:`encode_batch` would give it (in parallel, without
        the GIL), with no id arrays (and no NumPy) to return."""
        args = self._batch_args(texts, languages, allowed_special, num_threads)
        with _BatchErrors(args[0]):
            return self._core.count_batch(*args)

    def encode_batch_flat(
        self,
        texts: Sequence[str],
        languages: Sequence[str | None] | str | None = None,
        num_threads: int | None = None,
        *,
        allowed_special: AllowedSpecial = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`encode_batch`, but one ``uint32`` id array and ``uint64`` offsets (n + 1)."""
        args = self._batch_args(texts, languages, allowed_special, num_threads)
        with _BatchErrors(args[0]):
            return self._core.encode_batch_flat(*args)

    def encode_batch_packed(
        self,
        texts: Sequence[str],
        languages: Sequence[str | None] | str | None = None,
        num_threads: int | None = None,
        *,
        eot_id: int,
        width: int,
        allowed_special: AllowedSpecial = (),
    ) -> tuple[bytes, list[int]]:
        """Like :meth:`encode_batch_flat`, laid out as a token shard stores them: each text's ids
        then ``eot_id``, ``width`` (2 or 4) bytes each, little-endian; and each text's length in
        ids, its ``eot_id`` included. Needs no NumPy (the corpus writer's input)."""
        if eot_id < 0:
            raise CodemillError(f"eot_id must be a token id (>= 0), got {eot_id}")
        args = self._batch_args(texts, languages, allowed_special, num_threads)
        with _BatchErrors(args[0]):
            return self._core.encode_batch_packed(*args, eot_id=eot_id, width=width)

    def encode_files_packed(
        self,
        paths: Sequence[str],
        languages: Sequence[str | None],
        max_bytes: int,
        budget: int,
        num_threads: int | None = None,
        *,
        eot_id: int,
        width: int,
        allowed_special: AllowedSpecial = (),
    ) -> tuple[int, bytes, list[int], list[int], list[str | None]]:
        """:meth:`encode_batch_packed` of local code files, read in the core with no Python
        string made of them: those :func:`codemill._core.read_code_files` takes of ``paths``
        (the first, then those after it while the texts read hold under ``budget`` bytes), each
        in its language (one per path). Returns how many paths were taken, the packed ids and
        lengths of the files read, their UTF-8 sizes, and for each path taken the reason it was
        not read (None: read)."""
        return self._core.encode_files_packed(
            list(paths),
            list(languages),
            max_bytes,
            budget,
            self._allowed(allowed_special),
            num_threads,
            eot_id=eot_id,
            width=width,
        )

    def encode_records_packed(
        self,
        lines: Sequence[bytes],
        fields: tuple[Sequence[str], Sequence[str], Sequence[str]],
        max_bytes: int,
        num_threads: int | None = None,
        *,
        eot_id: int,
        width: int,
        allowed_special: AllowedSpecial = (),
    ) -> tuple[bytes, list[int], list[int], list[str], list[str | None], list[int]]:
        """:meth:`encode_batch_packed` of JSONL lines' records, parsed in the core with no Python
        object made of them: each line's text and language as
        :class:`codemill.sources.records.RecordReader` takes them (``fields``: its text, path and
        language fields), except the lines whose record only that reader decides. Returns the
        packed ids and lengths of the records, in order, their texts' UTF-8 sizes and languages,
        each line's skip reason (None: a record, or a line left), and the indices of the lines
        left to the reader."""
        return self._core.encode_records_packed(
            list(lines),
            (list(fields[0]), list(fields[1]), list(fields[2])),
            max_bytes,
            self._allowed(allowed_special),
            num_threads,
            eot_id=eot_id,
            width=width,
        )

    def encode_with_offsets(
        self, text: str, language: str | None = None, *, allowed_special: AllowedSpecial = ()
    ) -> Encoding:
        """Ids with ``(start, end)`` byte and character offsets per token."""
        from codemill.tokenizer.offsets import offsets

        return offsets(text, self.encode(text, language, allowed_special=allowed_special), self.token_lengths())

    def decode_stream(self, errors: str = "strict") -> DecodeStream:
        """An incremental decoder: text as ids arrive, never a split UTF-8 character."""
        from codemill.tokenizer.stream import DecodeStream

        return DecodeStream(self, errors)

    def token_lengths(self) -> np.ndarray:
        """Byte length of every token id (``uint32``)."""
        if self._lengths is None:
            import numpy as np  # here, not at import: counting tokens (codemill context) needs no numpy

            self._lengths = np.array([len(self._core.token_bytes(i) or b"") for i in range(self.vocab_size)], np.uint32)
        return self._lengths

    def count_tokens(self, text: str, language: str | None = None) -> int:
        with _VALID_UNICODE:
            return self._core.count(text, language)

    def decode_bytes(self, ids: Sequence[int] | np.ndarray) -> bytes:
        return self._core.decode_bytes(self._ids(ids))

    def decode(self, ids: Sequence[int] | np.ndarray, errors: str = "strict") -> str:
        """Text of ``ids``. A sequence that cuts a UTF-8 character raises, unless ``errors`` says."""
        return self.decode_bytes(ids).decode("utf-8", errors)

    def decode_batch(self, batch: Iterable[Sequence[int] | np.ndarray], errors: str = "strict") -> list[str]:
        return [self.decode(ids, errors) for ids in batch]

    def pretokenize(
        self, text: str, language: str | None = None, *, with_kinds: bool = False
    ) -> list[str] | list[tuple[str, str]]:
        """The scanner's pieces (identifiers, keywords, operators, indentation, ...)."""
        with _VALID_UNICODE:
            if with_kinds:
                return _core.pretokenize(text, language, with_kinds=True)
            return _core.pretokenize(text, language)

    # ---- vocabulary ---------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self._core.vocab_size

    @property
    def identifier_vocab_size(self) -> int:
        return self._core.identifier_vocab_size

    @property
    def num_merges(self) -> int:
        return self._core.num_merges

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self._specials)

    @property
    def eot_id(self) -> int:
        return self._specials["<|endoftext|>"]

    def special_id(self, token: str) -> int:
        try:
            return self._specials[token]
        except KeyError:
            raise CodemillError(f"{token!r} is not a special token of this tokenizer") from None

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self._core.metadata_json())

    @functools.cached_property
    def hash(self) -> str:
        """SHA-256 of the tokenizer file's content: what manifests record."""
        import hashlib  # here, not at import: loading OpenSSL costs a one-off `codemill context` 4 ms

        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def id_to_bytes(self, token_id: int) -> bytes | None:
        if not 0 <= token_id < self.vocab_size:
            return None
        return self._core.token_bytes(token_id)

    def id_to_token(self, token_id: int) -> str | None:
        """The token's text; bytes that are not whole UTF-8 characters show as ``<0xAB>``."""
        b = self.id_to_bytes(token_id)
        return None if b is None else _bytes_to_token(b)

    def token_to_id(self, token: str | bytes) -> int | None:
        """Id of a token given as text (as :meth:`id_to_token` writes it) or bytes; else None."""
        b = _token_to_bytes(token) if isinstance(token, str) else bytes(token)
        return self._core.token_to_id(b)

    def merges(self) -> list[tuple[int, int]]:
        return self._core.merges()

    def __repr__(self) -> str:
        return (
            f"CodeTokenizer(vocab_size={self.vocab_size}, identifiers={self.identifier_vocab_size}, "
            f"merges={self.num_merges}, specials={len(self._specials)})"
        )

    # ---- helpers ------------------------------------------------------------------------

    def _allowed(self, allowed_special: AllowedSpecial) -> list[bool]:
        if allowed_special == ():  # the default: no set built per call
            return []
        if allowed_special == "all":
            return [True] * len(self._specials)
        if isinstance(allowed_special, str):
            allowed_special = {allowed_special}
        wanted = set(allowed_special)
        if not wanted:
            return []
        unknown = wanted - self._specials.keys()
        if unknown:
            raise CodemillError(f"allowed_special names unknown special tokens: {sorted(unknown)}")
        return [s in wanted for s in self._specials]

    def _batch_args(
        self,
        texts: Sequence[str],
        languages: Sequence[str | None] | str | None,
        allowed_special: AllowedSpecial,
        num_threads: int | None,
    ) -> tuple[list[str], list[str | None] | None, list[bool], int | None]:
        if num_threads is not None and num_threads < 1:
            raise CodemillError(f"num_threads must be at least 1 (or None: every core), got {num_threads}")
        texts = _as_list(texts)
        return texts, _languages(languages, len(texts)), self._allowed(allowed_special), num_threads

    def _ids(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        import numpy as np

        arr = np.asarray(ids)
        if arr.size == 0:
            return np.zeros(0, dtype=np.uint32)
        if arr.ndim != 1:
            raise CodemillError(f"token ids must be one-dimensional, got shape {arr.shape}")
        if arr.dtype.kind not in "iu":
            raise CodemillError(f"token ids must be integers, got dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= self.vocab_size)
        if bad.any():
            i = int(np.argmax(bad))
            raise CodemillError(
                f"token id {int(arr[i])} at position {i} is outside the vocabulary (size {self.vocab_size})"
            )
        return np.ascontiguousarray(arr, dtype=np.uint32)


def _from_other_json(text: str, source: str) -> CodeTokenizer:
    """A base-vocabulary tokenizer file or a HF tokenizer.json, by its content."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokenizerFileError(f"{source}: not JSON ({exc})") from None
    if isinstance(data, dict) and str(data.get("format", "")).startswith("codemill-base-tokenizer/"):
        from codemill.tokenizer.base import FORMAT, BaseVocabTokenizer

        if data["format"] != FORMAT:
            raise TokenizerFileError(f"{source}: unsupported format {data['format']!r} (this codemill reads {FORMAT})")
        return BaseVocabTokenizer.from_spec_json(data)
    from codemill.tokenizer.huggingface import from_huggingface_json

    try:
        return from_huggingface_json(data, source=source)
    except TokenizerFileError as exc:
        raise type(exc)(f"{source}: not a codemill tokenizer; read as a tokenizer.json: {exc}") from None


def _version() -> str:
    from codemill import __version__

    return __version__


def _as_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise CodemillError("encode_batch takes a sequence of texts, not one string")
    return texts if isinstance(texts, list) else list(texts)


def _languages(languages: Sequence[str | None] | str | None, n: int) -> list[str | None] | None:
    if languages is None:
        return None
    if isinstance(languages, str):
        return [languages] * n
    langs = list(languages)
    if len(langs) != n:
        raise CodemillError(f"languages has {len(langs)} entries for {n} texts")
    return langs


class _ValidUnicode:
    """Turns PyO3's UnicodeEncodeError for a lone surrogate into one clear codemill error. A
    class, not a generator context manager: that cost ~1.5 us of an encode call's ~2.8 us."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, UnicodeEncodeError):
            raise _not_unicode(exc, "text") from None


_VALID_UNICODE = _ValidUnicode()  # stateless: one for every call and thread


def _not_unicode(exc: UnicodeEncodeError, what: str) -> CodemillError:
    """The error for a lone surrogate where ``what`` (a text, ``texts[i]``) has one."""
    return CodemillError(
        f"{what} is not valid Unicode: {exc.reason} at index {exc.start} "
        f"({exc.object[exc.start : exc.end]!r}); codemill encodes valid Unicode text only"
    )


def _nothing_read(skips: Skips) -> str:
    """Why a training or extension corpus gave no text: its skips, counted by reason."""
    return ", ".join(f"{n} {reason}" for reason, n in skips.as_dict().items()) or "nothing to read in them"


class _BatchErrors:
    """`_VALID_UNICODE` for a batch, naming the text at fault by its place: a None among 5,000
    texts gave a bare "'None' is not an instance of 'str'"."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, UnicodeEncodeError):
            at = next((i for i, t in enumerate(self.texts) if t is exc.object), None)
            raise _not_unicode(exc, "text" if at is None else f"texts[{at}]") from None
        elif isinstance(exc, TypeError):
            for i, text in enumerate(self.texts):
                if not isinstance(text, str):
                    raise CodemillError(f"texts[{i}] is {type(text).__name__}, not str") from None


def _bytes_to_token(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"<0x{x:02X}>" for x in b)


def _token_to_bytes(token: str) -> bytes:
    if token.startswith("<0x") and token.endswith(">") and len(token) % 6 == 0:
        try:
            return bytes(int(token[i + 3 : i + 5], 16) for i in range(0, len(token), 6))
        except ValueError:
            pass
    return token.encode("utf-8")


def _training_texts(items: Iterable[TrainInput], max_file_bytes: int, skips: Skips) -> Iterator[tuple[str, str | None]]:
    """(text, language) of every training item: paths are read like every other command reads
    them (trees, code files, JSONL / Parquet records); texts pass through."""
    if isinstance(items, str | os.PathLike):
        items = [items]
    paths: list[str | os.PathLike[str]] = []

    def flush() -> Iterator[tuple[str, str | None]]:
        for doc in iter_documents(paths, skips, max_bytes=max_file_bytes):
            yield doc.text or "", doc.language
        paths.clear()

    for item in items:
        if isinstance(item, tuple):
            yield from flush()
            text, lang = item
            yield text, lang
        elif isinstance(item, os.PathLike) or (
            isinstance(item, str) and "\n" not in item and len(item) < 4096 and os.path.exists(item)
        ):
            paths.append(item)
        elif isinstance(item, str):
            yield from flush()
            yield item, None
        else:
            raise CodemillError(f"cannot train on {type(item).__name__}: give paths, texts or (text, language)")
    yield from flush()


TokenizerArg = CodeTokenizer | str | os.PathLike[str] | None


def load_tokenizer(tokenizer: TokenizerArg, pattern: str | None = None) -> CodeTokenizer:
    """A CodeTokenizer from an instance, a tokenizer file of any kind :meth:`CodeTokenizer.load`
    reads (codemill JSON, tokenizer.json or its directory, .tiktoken), or None (the bundled one).
    ``pattern``: the split pattern of a tiktoken rank file it does not recognise (a name or a
    regex); only with a rank file. A URL (``s3://bucket/tok.json``) is read from its store."""
    if isinstance(tokenizer, str) and is_url(tokenizer):
        tokenizer = as_local(tokenizer)  # file://: the local file (a Path); any other URL stays
        if isinstance(tokenizer, str):
            return _load_url(tokenizer, pattern)
    if pattern is not None:
        if not isinstance(tokenizer, str | os.PathLike):
            raise CodemillError("a split pattern goes with a tiktoken rank file (--tokenizer FILE)")
        return CodeTokenizer.from_tiktoken(tokenizer, pattern)
    if tokenizer is None:
        return CodeTokenizer.default()
    if isinstance(tokenizer, str | os.PathLike):
        return CodeTokenizer.load(tokenizer)
    return tokenizer


def _load_url(url: str, pattern: str | None) -> CodeTokenizer:
    """The tokenizer file at ``url``, fetched whole into scratch and loaded as a local one.

    Taken as a local path, ``s3://b/tok.json`` was read from a folder ``s3:`` (or named as
    ``s3:/b/tok.json``). The copy keeps the object's name, by which a ``.tiktoken`` file or a
    tiktoken encoding is recognised, and its folder's, which names a HF tokenizer.
    """
    from codemill._leftovers import scratch_dir
    from codemill.errors import StorageError
    from codemill.sources.fs import read_url, url_exists

    *folders, name = url.split("://", 1)[1].rstrip("/").split("/")
    try:
        data = read_url(url)
    except StorageError:
        try:
            folder = url_exists(url)  # no object, yet objects under its name
        except CodemillError:
            folder = False  # the read's own error says more
        if folder:
            raise TokenizerFileError(
                f"{url}: is a folder; name the tokenizer file in it (such as {url.rstrip('/')}/tokenizer.json)"
            ) from None
        raise
    with scratch_dir("tokenizer") as scratch:
        local = Path(scratch, folders[-1] if folders else "_", name)
        local.parent.mkdir()
        local.write_bytes(data)
        try:
            return load_tokenizer(local, pattern)
        except CodemillError as exc:  # about the copy: named as the user named it
            raise type(exc)(str(exc).replace(str(local), url)) from None
