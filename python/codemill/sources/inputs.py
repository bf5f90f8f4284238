"""Every document of a list of inputs: trees, code files, JSONL and Parquet files, in order.

This is the reader every command uses (tokenize, dedup, prepare, index, graph, train, bench),
so the same inputs give the same documents and the same skip counts everywhere:

- a directory is walked (:mod:`codemill.sources.walk`): code files are documents, JSONL and
  Parquet files inside it are read as records;
- a JSONL / Parquet file is read as records (:mod:`codemill.sources.records`);
- any other regular file is one document, of the language its name or shebang says
  (``generic`` when neither does: the user named it, so it is read);
- anything else (a FIFO, a socket, a device) is counted as ``not_a_file``; a missing path is an
  :class:`InputNotFoundError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar, cast

from codemill.errors import ConfigError, InputNotFoundError, SourceError, StorageError
from codemill.languages import detect_language
from codemill.sources import skips as reasons
from codemill.sources.document import DEFAULT_MAX_BYTES, Document, read_texts
from codemill.sources.fs import FETCH_BATCH, as_local, is_url
from codemill.sources.names import printable
from codemill.sources.records import RecordReader
from codemill.sources.skips import Skips
from codemill.sources.streams import is_parquet, is_records
from codemill.sources.walk import file_size, read_head, walk, walk_reaches, walk_url


def check_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[Path | str]:
    """The inputs as local paths, URLs (``s3://...``) kept as strings; raises
    :class:`InputNotFoundError` naming the first missing local one (a URL is checked when listed)."""
    named = [os.fspath(p) for p in inputs]
    seen: dict[str, tuple[str, bool]] = {}  # where -> (the input as named, whether a URL)
    for name in named:
        if name == "":
            # Path("") is the current directory: an unset shell variable must not walk it.
            raise ConfigError("an input is an empty name (an unset shell variable?)")
        # The same input twice reads its documents twice, and its line numbers run past its end.
        # A file:// URL is compared as the local path it names (a tree named both ways was read twice).
        local = os.fspath(as_local(name))
        url = is_url(local)
        same = local.rstrip("/") if url else os.path.realpath(local)
        if same in seen:
            raise ConfigError(f"{name}: given twice as an input")
        seen[same] = (name, url)
    for same, (name, url) in seen.items():
        # Also an input inside another one (a file and its directory) that the outer walk reads:
        # read by both. One the walk passes over (a gitignored data folder) is read once.
        for parent in _url_parents(same) if url else map(str, Path(same).parents):
            if parent in seen and (url or walk_reaches(Path(parent), Path(same))):
                raise ConfigError(f"{name}: inside the input {seen[parent][0]}, given too (it would be read twice)")
    paths = input_paths(named)
    for p in paths:
        if isinstance(p, Path) and not p.exists() and not p.is_symlink():
            raise InputNotFoundError(f"{p}: no such file or directory")
    return paths


def input_paths(inputs: Iterable[str | os.PathLike[str]]) -> list[Path | str]:
    """The inputs as `check_inputs` gives them (local paths, URLs kept as strings), unchecked."""
    named = [os.fspath(p) for p in inputs]
    return [p if is_url(p) else Path(p) for p in named]


def _url_parents(url: str) -> Iterator[str]:
    while "/" in url:
        url = url.rpartition("/")[0]
        yield url


def not_a_file(path: Path | str) -> bool:
    """Whether a named local input is neither a directory nor a regular file (a FIFO, socket,
    device or dangling link, links followed): counted as ``not_a_file`` and never opened, which
    for a FIFO would block, whatever its name."""
    return isinstance(path, Path) and not path.is_dir() and not path.is_file()


def record_file_skip(path: Path | str, size: int) -> str | None:
    """Why a record file is passed over unopened, if it is: zero bytes hold no record (and are no
    gzip, zstd or Parquet stream), and a local file the OS will not open is ``unreadable``, as a
    code file is counted; None to read it. Before, the first passed for an empty corpus and the
    second stopped the run as if truncated."""
    if size == 0:
        return reasons.EMPTY
    if isinstance(path, Path):
        try:
            with open(path, "rb"):
                pass
        except OSError:
            return reasons.UNREADABLE
    return None


def _file_document(path: Path, source: int) -> Document:
    return Document(
        printable(str(path)),
        printable(path.name),
        printable(path.resolve().parent.name),
        detect_language(path, read_head(path)),
        source=source,
        origin=path.name,
        file=str(path),
        size=file_size(path),
    )


def list_documents(
    inputs: Iterable[str | os.PathLike[str]],
    skips: Skips,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    text_field: str | None = None,
    skip_damaged: bool = False,
) -> Iterator[Document]:
    """Documents of every input in order (``index`` 0, 1, ...); code files listed, not read
    (``text`` None).

    ``skip_damaged``: a record file that cannot be read through (truncated, corrupt) ends where
    it breaks and is counted as ``damaged``, for the repository tools, to which a data file is
    not the point; corpus jobs leave it False and stop on it with an error naming it.

    Records come with their text (they are read to be found). Read file documents with
    :func:`codemill.sources.document.load_text` where the work happens (a worker process, say).
    """
    for index, doc in enumerate(_listed(inputs, skips, max_bytes, text_field, skip_damaged)):
        assert isinstance(doc, Document)  # readers come only where asked for
        doc.index = index
        yield doc


def _listed(
    inputs: Iterable[str | os.PathLike[str]],
    skips: Skips,
    max_bytes: int,
    text_field: str | None,
    skip_damaged: bool,
    readers: bool = False,
    parquet_readers: bool = False,
) -> Iterator[Document | RecordReader]:
    """The documents of the inputs; with ``readers``, a JSONL file's reader in place of its
    records (its lines not read yet), for a caller that reads them itself, and a Parquet file's
    too with ``parquet_readers``."""

    def records(reader: RecordReader, size: int) -> Iterator[Document | RecordReader]:
        reader.size = size  # what a caller would otherwise ask the store for again (Ray's dedup)
        reason = record_file_skip(reader.path, size)
        if reason is not None:
            skips.add(reader.shown, reason)
            return
        if readers and (parquet_readers or not is_parquet(reader.path)):
            yield reader
            return
        try:
            yield from reader.read()
        except StorageError:
            raise  # the store failed, not the file
        except SourceError:
            if not skip_damaged:
                raise
            skips.add(str(reader.path), reasons.DAMAGED)

    for source, root in enumerate(check_inputs(inputs)):
        if isinstance(root, str) or root.is_dir():
            name = root.rstrip("/").rsplit("/", 1)[-1] if isinstance(root, str) else root.resolve().name
            repository = printable(name)  # as the documents' paths are shown
            for entry in walk_url(root, skips) if isinstance(root, str) else walk(root, skips):
                if isinstance(root, str) and entry.path == root:
                    # A URL naming one object: its repository is the name of the prefix that
                    # holds it, as a named local file's is its directory's (sample ids and
                    # prepare's seeded splits depend on it).
                    repository = printable(root.rstrip("/").rsplit("/", 2)[-2])
                if entry.records:
                    where = entry.path if isinstance(root, str) else Path(entry.path)
                    reader = RecordReader(
                        where, skips, max_bytes=max_bytes, text_field=text_field, source=source, origin=entry.rel
                    )
                    yield from records(reader, entry.size)
                else:
                    yield Document(
                        printable(entry.path),
                        printable(entry.rel),
                        repository,
                        entry.language or "generic",
                        source=source,
                        origin=entry.rel,
                        file=entry.path,
                        size=entry.size,
                    )
        elif not_a_file(root):
            skips.add(str(root), reasons.NOT_A_FILE)
        elif is_records(root):
            reader = RecordReader(root, skips, max_bytes=max_bytes, text_field=text_field, source=source)
            yield from records(reader, file_size(root))
        else:
            yield _file_document(root, source)


def iter_documents(
    inputs: Iterable[str | os.PathLike[str]],
    skips: Skips,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    text_field: str | None = None,
) -> Iterator[Document]:
    """Documents of every input in order, with their text; what is not read is counted in ``skips``."""
    listed = list_documents(inputs, skips, max_bytes=max_bytes, text_field=text_field)
    for index, doc in enumerate(_read(listed, skips, max_bytes)):
        doc.index = index
        yield doc


def iter_documents_or_readers(
    inputs: Iterable[str | os.PathLike[str]],
    skips: Skips,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    text_field: str | None = None,
) -> Iterator[Document | RecordReader]:
    """As `iter_documents`, but each JSONL or Parquet file (plain, compressed or in a bucket)
    comes as its `RecordReader`, in its place, for a caller that reads it itself (dedup, JSONL
    lines in the core: no Python object is made of a record). A Parquet file is read after the
    code files listed before it, as `list_batches_or_readers` has Ray's tasks read it: its rows
    read as it was listed put their skips before theirs. Documents are not numbered (``index``)."""
    listed = _listed(inputs, skips, max_bytes, text_field, False, readers=True, parquet_readers=True)
    return _read(listed, skips, max_bytes)


Item = TypeVar("Item", Document, Document | RecordReader)


def list_batches_or_readers(
    inputs: Iterable[str | os.PathLike[str]],
    skips: Skips,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    text_field: str | None = None,
) -> Iterator[list[Document] | RecordReader]:
    """The inputs as `iter_documents_or_readers` gives them, but Parquet files as readers too and
    code files not read: listed in the batches `iter_documents` reads them in (`batched`), for a
    caller that has them all read elsewhere (dedup's Ray tasks) and counts their skips where a
    local run does."""
    listed = _listed(inputs, skips, max_bytes, text_field, False, readers=True, parquet_readers=True)
    # Every record file comes as its reader: each document listed is a code file, in a batch.
    return cast("Iterator[list[Document] | RecordReader]", batched(listed))


def batched(docs: Iterator[Item]) -> Iterator[list[Document] | Item]:
    """The listed documents in order, code files still to read gathered `FETCH_BATCH` at a time:
    a batch ends when full, before the next record (or reader) and at the end. A batch is read
    where it ends, so its skips come after what the listing passed over until then."""
    batch: list[Document] = []
    for doc in docs:
        if isinstance(doc, Document) and doc.text is None and doc.file is not None:
            batch.append(doc)
            if len(batch) == FETCH_BATCH:
                yield batch
                batch = []
            continue
        if batch:  # the files listed before this record come first
            yield batch
            batch = []
        yield doc
    if batch:
        yield batch


def _read(docs: Iterator[Item], skips: Skips, max_bytes: int) -> Iterator[Item]:
    """Each document with its text read, in order; one that could not be read is counted in
    ``skips``. Files are read `FETCH_BATCH` at a time (`read_texts`: objects in a bucket fetched
    concurrently, local files a group per call into the core): read one by one, a tree in a
    bucket was a round trip per object (~73 s of dedup's 162 s on a 40 MB tree of 4,630 objects
    from a server answering 20 ms late)."""
    for item in batched(docs):
        if isinstance(item, list):
            yield from _read_batch(item, skips, max_bytes)
        else:
            yield item


def _read_batch(batch: list[Document], skips: Skips, max_bytes: int) -> Iterator[Document]:
    for doc, (_, text, reason, size) in zip(batch, read_texts([d.file or "" for d in batch], max_bytes), strict=True):
        if text is None:
            skips.add(doc.where, reason or reasons.UNREADABLE)
        else:
            doc.text, doc.size = text, size
            yield doc
