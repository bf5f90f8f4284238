"""`dedup` and `dedup_texts`: exact and near-duplicate removal of files, JSONL and texts.

Both sign their documents (`decide.signer`: MinHash signatures, shingle counts, content
hashes; Rust on all cores, or Ray; each distinct text once) and hand them to the one decision,
`decide.decide`, under one `DedupConfig` (see it for the rule). `dedup` reads its inputs in batches and keeps only
signatures and per-document metadata in memory; texts are re-read for verification and when
writing. The entry points are exported as `codemill.dedup`, `codemill.DedupConfig`,
`codemill.MinHasher` and `codemill.DedupResult`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO, Unpack, cast

import numpy as np

import codemill.near_dup.decide as decision
from codemill import _core
from codemill._batches import batches
from codemill._read_ahead import each_at_once
from codemill.errors import ConfigError, SourceError
from codemill.near_dup.config import KEEP_POLICIES, DedupConfig, DedupOptions, Engine
from codemill.near_dup.decide import check_engine, decide, signer
from codemill.near_dup.minhash import MinHasher
from codemill.near_dup.output import REPORT_NAME, Kept, Write, check_output, write_output
from codemill.near_dup.result import DedupReport, DedupResult
from codemill.near_dup.signing import Claim, Claimed, Signer, local_signatures
from codemill.progress import Progress
from codemill.sources import DEFAULT_MAX_BYTES, Document, RecordReader, Skips, check_inputs
from codemill.sources.document import read_texts
from codemill.sources.files_ahead import files_ahead
from codemill.sources.fs import FETCH_BATCH, READS_HELD, as_local, held_reading, is_tree, is_url, join
from codemill.sources.inputs import iter_documents_or_readers, list_batches_or_readers
from codemill.sources.names import printable
from codemill.sources.skips import UNREADABLE, Placing, SkippedItem
from codemill.sources.streams import is_parquet

__all__ = ["KEEP_POLICIES", "REPORT_NAME", "DedupConfig", "DedupResult", "MinHasher", "dedup", "dedup_texts"]

# A batch of documents is signed, then its texts are dropped (whichever limit comes first).
BATCH_DOCS = 4096
BATCH_CHARS = 32_000_000
# Bytes of JSONL lines read in the core at once: the lines and their texts are held together
# while they are parsed and signed, so a batch costs about twice this (32 MB cost ~60 MB more
# peak memory than the Python reader).
LINE_BATCH_BYTES = 8 << 20


def dedup_texts(
    texts: Sequence[str],
    config: DedupConfig | None = None,
    *,
    engine: Engine = "local",
    names: Sequence[str] | None = None,
    ray_shards: int | None = None,
    **options: Unpack[DedupOptions],
) -> DedupResult:
    """Deduplicate in-memory texts by `config` (default: `DedupConfig()`) with `options`
    (its fields) replaced; `names[i]` labels text `i` in the clusters. No language is needed:
    shingles are the same for a text whatever its language (`signing.sign_texts`).

    >>> res = dedup_texts(["x = 1\\n", "x = 1\\n", "def f():\\n    pass\\n"])
    >>> res.keep.tolist(), res.counts["exact_duplicates_removed"]
    ([True, False, True], 1)
    """
    cfg = DedupConfig.of(config, **options)
    texts = list(texts)
    if names is not None and len(names) != len(texts):
        raise ConfigError(f"names has {len(names)} entries for {len(texts)} texts")
    nodes: Counter[str] = Counter()
    signing = signer(cfg, engine, ray_shards, nodes)
    try:
        signing.add(texts)
    except (TypeError, UnicodeEncodeError):
        why = _not_text(texts)
        if why is None:  # not the texts (num_perm=128.0, say): the error as it came
            raise
        raise ConfigError(why) from None
    signed = signing.signed()
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))

    def fetch(ids: np.ndarray) -> list[str]:
        return [texts[i] for i in ids.tolist()]

    name = names.__getitem__ if names is not None else None
    return decide(
        cfg,
        signed,
        lengths,
        fetch,
        name,
        engine=engine,
        ray_shards=ray_shards,
        nodes=nodes,
        verify_batch_chars=decision.VERIFY_BATCH_CHARS,
    )


def _not_text(texts: list[str]) -> str | None:
    """Which of ``texts`` the core could not take, and why (looked for once it failed); None
    where each is a str with a UTF-8 form."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            return f"texts[{i}]: not a str but {type(text).__name__}"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"texts[{i}]: a lone surrogate at character {exc.start} has no UTF-8 form"
    return None


@dataclass
class _Corpus:
    """Where each document of the inputs is, without its text: the metadata `dedup` keeps."""

    paths: list[Path | str]  # local paths, or URLs
    text_field: str | None
    max_bytes: int
    source: array = field(default_factory=lambda: array("i"))  # input index
    holder: array = field(default_factory=lambda: array("i"))  # index into `holders`
    record: array = field(default_factory=lambda: array("q"))  # record (line, row) number, or -1 for a file
    length: array = field(default_factory=lambda: array("q"))  # characters
    offset: array = field(default_factory=lambda: array("q"))  # a record's line offset (Document.offset), or -1
    holders: list[str] = field(default_factory=list)  # file holding documents, relative to its input
    _holder_ids: dict[tuple[int, str], int] = field(default_factory=dict)
    _sizes: dict[int, int] = field(default_factory=dict)  # JSONL file holder -> its size as listed (`size`)
    _trees: dict[int, bool] = field(default_factory=dict)  # input index -> is a tree
    _prefixes: dict[int, str] = field(default_factory=dict)  # tree input index -> text its files' names follow

    def add(self, d: Document) -> None:
        if d.record is None:  # a code file: a holder of its own
            self._add_files([d], [len(d.text or "")])
        else:
            self.add_records(d.source, d.origin, [(d.record, d.offset)], [len(d.text or "")])

    def add_records(
        self, source: int, origin: str, where: list[tuple[int, int]], lengths: Sequence[int], size: int | None = None
    ) -> None:
        """Documents of the file ``origin`` of input ``source``: their (record, offset) and
        lengths; ``size``: the file's, as listed (None: not known)."""
        h = self._holder(source, origin, size)
        self.source.extend([source] * len(where))
        self.holder.extend([h] * len(where))
        self.record.extend([record for record, _ in where])
        self.offset.extend([offset for _, offset in where])
        self.length.extend(lengths)

    def add_read_files(self, docs: list[Document], lengths: np.ndarray) -> None:
        """Code files a Ray task read (`sign_files`), with each text's length; -1: not read.
        Appended together: a call per file was ~half the driver's time in taking the tasks."""
        read = [(doc, length) for doc, length in zip(docs, lengths.tolist(), strict=True) if length >= 0]
        self._add_files([doc for doc, _ in read], [length for _, length in read])

    def _add_files(self, docs: list[Document], lengths: list[int]) -> None:
        """Code files, each its own holder: not looked up in `_holder_ids` (a file is listed
        once), whose key and entry took ~100 bytes a file."""
        self.source.extend([doc.source for doc in docs])
        self.holder.extend(range(len(self.holders), len(self.holders) + len(docs)))
        self.holders.extend([doc.origin for doc in docs])
        self.record.extend([-1] * len(docs))
        self.offset.extend([doc.offset for doc in docs])
        self.length.extend(lengths)

    def _holder(self, source: int, origin: str, size: int | None = None) -> int:
        """The index of record file ``origin`` of input ``source`` in `holders` (added if new,
        with its ``size`` where known)."""
        h = self._holder_ids.get((source, origin))
        if h is None:
            h = self._holder_ids[source, origin] = len(self.holders)
            self.holders.append(origin)
            if size is not None and size >= 0 and not is_parquet(origin):
                self._sizes[h] = size
        return h

    def size(self, source: int, origin: str) -> int | None:
        """The most reading record file ``origin`` of input ``source`` holds (read in blocks):
        its size as listed; None where not known, and for Parquet, whose row groups are read
        decoded, larger than the file."""
        h = self._holder_ids.get((source, origin))
        return None if h is None else self._sizes.get(h)

    def add_signed_records(self, reader: RecordReader, part: SignedRange, first: int) -> None:
        """The records a Ray task read of a part of ``reader``'s file (`sign_range`), its record
        numbers counted from ``first`` (its skips are the caller's to count)."""
        n = len(part.records)
        self.source.extend([reader.source] * n)
        self.holder.extend([self._holder(reader.source, reader.origin, reader.size)] * n)
        self.record.frombytes((part.records + (first - 1)).astype(np.int64).tobytes())
        self.offset.frombytes(part.offsets.astype(np.int64).tobytes())
        self.length.frombytes(part.lengths.astype(np.int64).tobytes())

    def streamed(self) -> np.ndarray:
        """Per document: it can only be re-read by streaming its whole file (a record with no
        line offset: compressed, remote or Parquet)."""
        record = np.frombuffer(self.record, dtype=np.int64)
        return (record >= 0) & (np.frombuffer(self.offset, dtype=np.int64) < 0)

    def file(self, i: int) -> Path | str:
        """The file holding document ``i`` (a code file, or its JSONL / Parquet file)."""
        source = self.source[i]
        path = self.paths[source]
        return join(path, self.holders[self.holder[i]]) if self._is_tree(source) else path

    def _is_tree(self, source: int) -> bool:
        tree = self._trees.get(source)
        if tree is None:
            tree = self._trees[source] = is_tree(self.paths[source])
        return tree

    def name(self, i: int) -> str:
        """Document ``i`` as reports show it: bytes of a file name that are not UTF-8 as ``\\xNN``
        (a lone surrogate made the report JSON that strict readers refuse).

        A tree's file is named by appending its relative name to the tree's as text: a path
        join per name was ~0.6 s of dedup of a tree of 68,560 copies (one name each)."""
        source = self.source[i]
        if self._is_tree(source):
            prefix = self._prefixes.get(source)
            if prefix is None:
                # The text a join puts before a relative name (nothing for ".").
                prefix = self._prefixes[source] = str(join(self.paths[source], "x"))[:-1]
            file = prefix + self.holders[self.holder[i]]
        else:
            file = str(self.paths[source])
        return printable(f"{file}:{self.record[i]}" if self.record[i] >= 0 else file)

    def fetch(self, ids: np.ndarray) -> list[str]:
        """Re-read the texts of documents `ids`: files together (`read_texts`), records of plain
        local JSONL at their offsets, other records by streaming their file, the files in a
        bucket several at once (`each_at_once`): one after the other, each a round trip."""
        texts: dict[int, str] = {}
        by_holder: dict[int, list[int]] = {}
        files: list[int] = []  # documents that are whole files, read together below
        for i in ids.tolist():
            if self.record[i] < 0:
                files.append(i)
            else:
                by_holder.setdefault(self.holder[i], []).append(i)
        # Objects in a bucket fetched concurrently, local files a group per core call: a file at
        # a time was a round trip each in a bucket.
        names = [os.fspath(self.file(i)) for i in files]
        for i, (_, text, _, _) in zip(files, read_texts(names, self.max_bytes), strict=True):
            if text is not None:
                texts[i] = text

        def records(holder: tuple[Path | str, list[int]]) -> dict[int, str]:
            """The texts of documents ``wanted`` of ``holder`` (file, wanted): records of that file."""
            file, wanted = holder
            by_record = {self.record[i]: i for i in wanted}
            reader = RecordReader(file, Skips(0), max_bytes=self.max_bytes, text_field=self.text_field)
            at = [(self.offset[i], self.record[i]) for i in wanted]
            found: dict[int, str] = {}
            for d in reader.read_at(at) if all(o >= 0 for o, _ in at) else reader.read():
                i = by_record.get(d.record or 0)
                if i is not None:
                    found[i] = d.text or ""
            return found

        holders = [(self.file(wanted[0]), wanted) for wanted in by_holder.values()]
        if any(is_url(file) for file, _ in holders):
            costs = [held_reading(self._sizes.get(self.holder[wanted[0]])) for _, wanted in holders]
            read = each_at_once(records, holders, costs, READS_HELD, FETCH_BATCH, "codemill-reader")
        else:
            read = [records(holder) for holder in holders]
        for found in read:
            texts.update(found)
        out = []
        for i in ids.tolist():
            text = texts.get(i)
            if text is None or len(text) != self.length[i]:
                raise SourceError(f"{self.name(i)}: input changed while dedup was running")
            out.append(text)
        return out

    def kept(self, keep: np.ndarray) -> Kept:
        """input -> file -> the record numbers kept in it, ascending (None: the whole code file is
        kept). Arrays, not sets of Python ints: a set took 64 bytes a kept record (4.2 MB for the
        64,433 kept of 1.24 GB of JSONL, ~3.4 GB for a terabyte's ~52 M), and a Python loop over
        them."""
        ids = np.flatnonzero(keep)
        if not len(ids):
            return {}
        source = np.frombuffer(self.source, dtype=np.intc)[ids]
        holder = np.frombuffer(self.holder, dtype=np.intc)[ids]
        record = np.frombuffer(self.record, dtype=np.int64)[ids]
        order = np.lexsort((record, holder, source))
        source, holder, record = source[order], holder[order], record[order]
        starts = np.flatnonzero(np.r_[True, (source[1:] != source[:-1]) | (holder[1:] != holder[:-1])])
        out: dict[int, dict[str, np.ndarray | None]] = {}
        for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(ids)], strict=True):
            # A holder is a code file (one document, record -1) or a record file (records >= 1).
            files = out.setdefault(int(source[a]), {})
            files[self.holders[holder[a]]] = None if record[a] < 0 else record[a:b]
        return out


def _sign_records(
    reader: RecordReader,
    signing: Signer,
    corpus: _Corpus,
    start: int = 0,
    stop: int | None = None,
    signed_batch: Callable[[], None] | None = None,
) -> None:
    """The records of a JSONL file, read and signed in the core a batch of lines at a time
    (`_sign_lines`), or the rows of a Parquet file, read as documents a batch at a time;
    ``signed_batch`` after each batch. ``start``, ``stop``: the lines starting in that byte range,
    the row groups ``[start, stop)`` (a Ray task's part of the file)."""
    if is_parquet(reader.path):
        for docs in batches(reader.read(start, stop), BATCH_CHARS, BATCH_DOCS, _chars):
            _sign_documents(docs, signing, corpus)
            if signed_batch is not None:
                signed_batch()
        return
    for batch in reader.line_batches(start, stop, LINE_BATCH_BYTES, BATCH_DOCS):
        _sign_lines(reader, batch, signing, corpus)
        if signed_batch is not None:
            signed_batch()


def _sign_lines(
    reader: RecordReader, batch: list[tuple[int, int, bytes | None]], signing: Signer, corpus: _Corpus
) -> None:
    """A batch of a JSONL file's lines (`RecordReader.line_batches`) parsed and signed in the
    core: no Python object is made of a record (with them, reading took ~20% of a one-core dedup
    of 200 MB of JSONL, and the Python strings went back to UTF-8 to be signed). A line the core
    leaves (one its JSON parser refuses, a path that is not a string ...) is read by ``reader``,
    as `iter_documents` reads every line: the same documents, lengths and skips, in order."""
    texts, reasons, left = _core.read_record_texts(reader.line_bytes(batch), reader.fields, reader.max_bytes)
    where: list[tuple[int, int]] = []  # (record, offset) of each record, in order
    found_at: list[int] = []  # where the records the reader found in lines left go
    found: list[str] = []
    for i, doc in reader.parsed(batch, reasons, left):
        if doc is not None:
            found_at.append(len(where))
            found.append(doc.text or "")
        where.append(batch[i][:2])
    if found:
        texts.insert(found_at, found)
    corpus.add_records(reader.source, reader.origin, where, texts.lengths().tolist(), reader.size)
    signing.add(texts)


def _sign_remote_records(
    readers: Iterator[RecordReader], skips: Skips, signing: Signer, corpus: _Corpus, signed_batch: Callable[[], None]
) -> None:
    """JSONL files in a bucket, one after the other, signed as `_sign_records` signs them, read
    ahead of the signing (`files_ahead`). Each file's round trips were waited for: 283 files of
    230 KB from a server answering 20 ms late took 11.9 s on one core, 8.7 s read a file ahead,
    3.7 s so (0.7 s from local disk). The listing goes on ahead of the signing, so each file's
    skips are counted on their own and put where the listing stood when it was listed
    (`Placing`): in the order of a run that reads each file as it is listed."""
    placing = Placing(skips)

    def listed() -> Iterator[tuple[RecordReader, int]]:
        for reader in readers:  # the listing goes on: what it passes over is counted now
            at = placing.listed()
            reader.skips = Skips(skips.limit)  # its own, put in place once it is signed
            yield reader, at

    # Closed on an error: it ends its threads' work.
    with contextlib.closing(files_ahead(listed(), LINE_BATCH_BYTES, BATCH_DOCS)) as files:
        for (reader, at), lines in files:
            for batch in lines:
                _sign_lines(reader, batch, signing, corpus)
                signed_batch()
            placing.update(at, dict(reader.skips.counts), reader.skips.items)
            reader.skips = skips


class SignedRange(NamedTuple):
    """What a Ray task sends back of its part of a record file (`sign_range`): the rows of its
    records (`Claimed`), where they are (record numbers, from 1 at the part's start for JSONL, of the file
    for Parquet; line offsets or -1) and their lengths, what it passed over, and the lines (rows)
    it read."""

    signed: Claimed
    records: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    skipped: dict[str, int]
    skipped_items: list[SkippedItem]
    lines: int


def sign_range(config: DedupConfig, reader: RecordReader, start: int, stop: int | None, claim: Claim) -> SignedRange:
    """The records of a part of ``reader``'s file, read and signed on this machine as `dedup`
    reads a whole file, those ``claim`` says are new to the run: a Ray task's share, so that no
    text passes through the driver. The part
    is the lines of a JSONL file starting in bytes ``[start, stop)`` (`_sign_records`), or the
    row groups ``[start, stop)`` of a Parquet file (documents, as `dedup` reads them locally)."""
    _count_afresh(reader)
    part, signing = _gathering(config, reader, claim)
    _sign_records(reader, signing, part, start, stop)
    return _signed_range(reader, part, signing)


def sign_whole_files(config: DedupConfig, readers: list[RecordReader], claim: Claim) -> list[SignedRange]:
    """`sign_range` of each of ``readers``' whole JSONL files, in turn (a Ray task's small
    files); where one is in a bucket, read ahead of the signing (`files_ahead`): one after the
    other, each file's round trips were waited for (283 files of 230 KB, from a server answering
    20 ms late, took 3.4 s of a run's 8.3 s)."""
    if not any(is_url(reader.path) for reader in readers):
        return [sign_range(config, reader, 0, None, claim) for reader in readers]

    def afresh() -> Iterator[tuple[RecordReader, None]]:
        for reader in readers:
            _count_afresh(reader)  # before a thread counts its lines
            yield reader, None

    out: list[SignedRange] = []
    with contextlib.closing(files_ahead(afresh(), LINE_BATCH_BYTES, BATCH_DOCS)) as files:
        for (reader, _), lines in files:
            part, signing = _gathering(config, reader, claim)
            for batch in lines:
                _sign_lines(reader, batch, signing, part)
            out.append(_signed_range(reader, part, signing))
    return out


def _count_afresh(reader: RecordReader) -> None:
    """A Ray task's reader counts its own skips and lines from zero (the driver's listing has its own)."""
    reader.skips = Skips(reader.skips.limit)
    reader.lines = 0


def _gathering(config: DedupConfig, reader: RecordReader, claim: Claim) -> tuple[_Corpus, Signer]:
    """What a Ray task's part of ``reader``'s file is gathered and signed in."""
    return _Corpus([], None, reader.max_bytes), Signer(config, local_signatures(config), claim)


def _signed_range(reader: RecordReader, part: _Corpus, signing: Signer) -> SignedRange:
    return SignedRange(
        signing.claimed(),
        np.frombuffer(part.record, dtype=np.int64),
        np.frombuffer(part.offset, dtype=np.int64),
        np.frombuffer(part.length, dtype=np.int64),
        dict(reader.skips.counts),
        reader.skips.items,
        reader.lines,
    )


class SignedFiles(NamedTuple):
    """What a Ray task sends back of the code files it read (`sign_files`): the rows of those it
    read, in order (`Claimed`), and per file its text's length in characters, or -1 and why it
    was not read."""

    signed: Claimed
    lengths: np.ndarray
    reasons: list[str | None]


def sign_files(config: DedupConfig, names: list[str], max_bytes: int, claim: Claim) -> SignedFiles:
    """Code files (local paths or URLs) read on this machine as `dedup` reads them (`read_texts`),
    and signed, those ``claim`` says are new to the run: a Ray task's share, so that no text
    passes through the driver."""
    texts: list[str] = []
    lengths = np.full(len(names), -1, dtype=np.int64)
    why: list[str | None] = []
    for i, (_, text, reason, _) in enumerate(read_texts(names, max_bytes)):
        if text is None:
            why.append(reason or UNREADABLE)
        else:
            why.append(None)
            lengths[i] = len(text)
            texts.append(text)
    signing = Signer(config, local_signatures(config), claim)
    signing.add(texts)
    return SignedFiles(signing.claimed(), lengths, why)


def _sign_documents(docs: list[Document], signing: Signer, corpus: _Corpus) -> None:
    """A batch of documents read with their texts (`BATCH_DOCS`, `BATCH_CHARS`), signed; their
    texts are let go with the batch."""
    for doc in docs:
        corpus.add(doc)
    signing.add([doc.text or "" for doc in docs])


def _chars(doc: Document) -> int:
    return len(doc.text or "")


def _sign_inputs(
    listed: Iterator[Document | RecordReader],
    skips: Skips,
    signing: Signer,
    corpus: _Corpus,
    signed_batch: Callable[[], None],
) -> None:
    """The inputs read and signed here: code files read with their texts a batch at a time, JSONL
    and Parquet files by `_sign_records` (JSONL in a bucket read ahead across files:
    `_sign_remote_records`); ``signed_batch`` after each batch."""
    for kind, run in itertools.groupby(listed, key=_kind):
        if kind == "remote records":
            _sign_remote_records(cast("Iterator[RecordReader]", run), skips, signing, corpus, signed_batch)
        elif kind == "records":
            for reader in cast("Iterator[RecordReader]", run):
                _sign_records(reader, signing, corpus, signed_batch=signed_batch)
        else:
            for docs in batches(cast("Iterator[Document]", run), BATCH_CHARS, BATCH_DOCS, _chars):
                _sign_documents(docs, signing, corpus)
                signed_batch()


def _kind(item: Document | RecordReader) -> str:
    if not isinstance(item, RecordReader):
        return "documents"
    return "remote records" if is_url(item.path) and not is_parquet(item.path) else "records"


def dedup(
    inputs: str | Path | Iterable[str | Path],
    output: str | Path | None = None,
    config: DedupConfig | None = None,
    *,
    engine: Engine = "local",
    text_field: str | None = None,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    ray_shards: int | None = None,
    overwrite: bool = False,
    progress: bool | TextIO = False,
    **options: Unpack[DedupOptions],
) -> DedupReport:
    """Remove exact and near duplicates from directories, source files or JSONL files.

    Duplicates are decided by `config` (default: `DedupConfig()`) with `options` (its
    fields, e.g. `threshold=0.8`) replaced; one document per group is kept.

    Inputs are read in batches: only signatures and per-document metadata stay in memory;
    texts are re-read for verification (documents in candidate pairs) and when writing. With
    `output`, that directory is replaced as a whole by the kept documents in each input's
    format (JSONL lines verbatim, files copied under the input's name) and
    `dedup_report.json` (a directory that holds anything but an earlier dedup output is refused
    unless `overwrite`; one inside an input always). Returns the report: parameters, counts (skipped inputs with
    reasons) and clusters. ``progress``: its stages (reading, deciding, writing) on stderr, or on
    the stream given (`codemill.progress`).
    """
    names = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    if not names:
        raise ConfigError("no inputs given")
    paths = check_inputs(names)  # the names as given: Path("") would be the current directory
    if max_file_bytes <= 0:
        raise ConfigError(f"max_file_bytes must be positive, got {max_file_bytes}")
    cfg = DedupConfig.of(config, **options)
    check_engine(engine)
    if output is not None:
        local = as_local(output)
        output = local if isinstance(local, str) else Path(local)
        check_output(output if is_url(output) else Path(output), paths, overwrite)
    skips = Skips()
    corpus = _Corpus(paths, text_field, max_file_bytes)
    nodes: Counter[str] = Counter()
    signing = signer(cfg, engine, ray_shards, nodes)
    stream = None if isinstance(progress, bool) else progress  # stderr, or the stream given
    reading = Progress("dedup: reading", unit="documents", enabled=bool(progress), stream=stream)

    def signed_batch() -> None:
        reading.update(len(corpus.length), f"{skips.total:,} skipped" if skips.total else None)

    with reading:  # a failure ends its line: the error stands on its own
        if engine == "ray":
            # Code files, JSONL and Parquet files are read by the tasks (`ray_sign_inputs`).
            from codemill.near_dup.ray import ray_sign_inputs

            def take_files(docs: list[Document], part: SignedFiles) -> None:
                corpus.add_read_files(docs, part.lengths)
                signing.add_claimed(part.signed)
                signed_batch()

            def take_part(reader: RecordReader, part: SignedRange, first: int) -> None:
                corpus.add_signed_records(reader, part, first)
                signing.add_claimed(part.signed)
                signed_batch()

            listed = list_batches_or_readers(paths, skips, max_bytes=max_file_bytes, text_field=text_field)
            ray_sign_inputs(
                cfg,
                listed,
                skips,
                ray_shards,
                max_file_bytes,
                nodes,
                take_files,
                take_part,
                lambda: signing.signed_again,
            )
        else:
            listed_read = iter_documents_or_readers(paths, skips, max_bytes=max_file_bytes, text_field=text_field)
            _sign_inputs(listed_read, skips, signing, corpus, signed_batch)
        signed = signing.signed()
        signed_batch()
    lengths = np.frombuffer(corpus.length, dtype=np.int64)
    with Progress("dedup: deciding", enabled=bool(progress), stream=stream) as deciding:
        deciding.update(0, force=True)
        result = decide(
            cfg,
            signed,
            lengths,
            corpus.fetch,
            corpus.name,
            engine=engine,
            ray_shards=ray_shards,
            nodes=nodes,
            verify_batch_chars=decision.VERIFY_BATCH_CHARS,
            streamed=corpus.streamed(),
        )
        # The signatures (1 KB a document) are let go before the output is written: with them held,
        # writing it was the peak of dedup of 2.52 GB of JSONL (+20 MB over the decision's 360 MB).
        del signed
        report = result.report()
        c = report["counts"]
        deciding.detail = (
            f"{c['candidate_pairs']:,} candidate pairs; {c['exact_duplicates_removed']:,} exact and "
            f"{c['near_duplicates_removed']:,} near duplicates to remove"
        )
    if engine == "ray":
        report["tasks_per_node"] = result.tasks_per_node
    report["inputs"] = [printable(str(p)) for p in paths]
    report["counts"]["skipped"] = skips.as_dict()
    report["counts"]["skipped_total"] = skips.total
    report["skipped_items"] = skips.items
    if output is not None:
        kept = corpus.kept(result.keep)
        del result
        publish = None
        if engine == "ray" and is_url(output):
            # Ray's tasks write the files of an output prefix, which every node reaches (a local
            # output is the driver's disk); the report, written last, counts them.
            from codemill.near_dup.ray import ray_publish

            def publish(groups: list[list[Write]], url: str) -> list[str]:
                return ray_publish(groups, url, report.setdefault("tasks_per_node", {}))

        with Progress("dedup: writing", enabled=bool(progress), stream=stream) as writing:
            writing.update(0, force=True)
            out = output if is_url(output) else Path(output)
            write_output(paths, out, kept, report, overwrite, publish, corpus.size)
            writing.detail = f"{c['kept']:,} documents kept in {printable(str(output))}"
    return report
