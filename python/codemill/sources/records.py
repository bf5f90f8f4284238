"""Records of corpus files: JSONL (plain, ``.gz``, ``.zst``) and Parquet (The Stack's columns).

Both are read streaming, a line or a batch of rows at a time, optionally over a part of the file
(a byte range of plain JSONL, a range of Parquet row groups), so tasks can split one large file.
Bad records are counted with their reason and location (``path:N``, 1-based), never dropped
silently; a file that cannot be read at all (a corrupt stream) raises :class:`SourceError`.
"""

from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from codemill._batches import batches
from codemill.errors import SourceError, StorageError
from codemill.languages import normalize_language
from codemill.sources import skips as reasons
from codemill.sources.document import DEFAULT_MAX_BYTES, Document, check_text
from codemill.sources.names import printable
from codemill.sources.skips import Skips
from codemill.sources.streams import is_compressed, is_parquet, open_stream

# orjson where installed and recent enough, False where not; None until the first line is
# parsed: its import (~5 ms: it brings uuid and platform) is not paid by a run without JSONL.
orjson: Any = None


def _find_orjson() -> Any:
    global orjson
    try:
        import orjson as found

        # Before 3.9.15 a line nested 2M deep crashed it.
        orjson = found if tuple(int(p) for p in found.__version__.split(".")[:2]) >= (3, 10) else False
    except (ImportError, ValueError):  # the `corpus` extra brings it; json alone reads the same records
        orjson = False
    return orjson


# Record fields, in order of preference (The Stack's columns among them).
TEXT_FIELDS = ("content", "text", "code")
PATH_FIELDS = ("path", "max_stars_repo_path", "file_path", "filepath", "filename")
REPO_FIELDS = ("repository", "repo", "repo_name", "max_stars_repo_name")
LANG_FIELDS = ("language", "lang")

_BATCH_ROWS = 1024


def parse_line(line: bytes) -> Any:
    """The value of one JSONL line, as `json.loads` gives it. orjson, where installed, parses code
    records about twice as fast (477 against 244 MB/s, the 40 MB tree as JSONL). A line it refuses
    goes to json, which takes some of them (lone surrogate escapes, NaN, 1e400, a UTF-8 BOM,
    UTF-16) and refuses the rest with its own error. One difference stays: orjson reads an integer
    past 64 bits as a float, which only a record's path, repo or language field would show."""
    fast = orjson if orjson is not None else _find_orjson()
    if fast:
        try:
            return fast.loads(line)
        except fast.JSONDecodeError:
            pass
    return json.loads(line)


def _first(rec: dict[str, Any], fields: tuple[str, ...]) -> Any:
    for f in fields:
        value = rec.get(f)
        if value is not None:
            return value
    return None


def record_origin(path: Path | str) -> str:
    """A record file's documents' ``origin`` when the file is an input itself (not one found in
    a tree): its name as given, a link's own name included; the dedup output re-reads it by it."""
    return Path(path).name


class RecordReader:
    """Reads the records of one JSONL or Parquet file as documents.

    ``lines`` counts the JSONL lines (or Parquet rows) passed so far, so a caller that read a
    part of a file knows how many lines that part held. ``first`` is the number of the first
    line (row) read: 1 from the start of a file; for a part, whatever the caller knows.
    """

    def __init__(
        self,
        path: Path | str,
        skips: Skips,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        text_field: str | None = None,
        source: int = 0,
        origin: str | None = None,
        first: int = 1,
    ) -> None:
        self.path = path  # a local path, or a URL (str)
        self.shown = printable(str(path))  # for reports and documents (see `printable`)
        self.name = printable(Path(path).name)
        self.skips = skips
        self.max_bytes = max_bytes
        self.text_fields = (text_field,) if text_field else TEXT_FIELDS
        self.source = source
        self.origin = record_origin(path) if origin is None else origin
        self.first = first
        self.lines = 0
        self.size: int | None = None  # the file's size as its listing gave it (None: not listed)

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[Document]:
        """Records of JSONL lines starting in bytes ``[start, stop)``, or of Parquet row groups
        ``[start, stop)``; ``stop`` None = to the end."""
        if is_parquet(self.path):
            return self._parquet(start, stop)
        return self._jsonl(start, stop)

    def read_at(self, lines: list[tuple[int, int]]) -> Iterator[Document]:
        """The records of the given (offset, line number) pairs of a plain JSONL file, each read
        alone (`Document.offset` says where a record's line starts)."""
        try:
            with open_stream(self.path) as f:
                for offset, number in sorted(lines):
                    f.seek(offset)
                    doc = self.record(f.readline(), number, offset)
                    if doc is not None:
                        yield doc
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read ({exc or type(exc).__name__})") from None

    def where(self, number: int) -> str:
        """Record ``number`` of this file, for reports and documents: ``path:N``."""
        return f"{self.shown}:{number}"

    def record(self, line: bytes | None, number: int, offset: int) -> Document | None:
        """The record of JSONL line ``number`` (None, counted, if it holds none; ``line`` None:
        one too large to read); ``offset``: where the line starts, for `Document.offset`."""
        if line is None:
            self.skips.add(self.where(number), reasons.TOO_LARGE)
            return None
        if not line.strip():
            # A blank line holds no record, but it is a line of the file: counted, so that a
            # file's lines add up to its documents and skips.
            self.skips.add(self.where(number), reasons.EMPTY)
            return None
        try:
            rec = parse_line(line)
        except UnicodeDecodeError:
            self.skips.add(self.where(number), reasons.INVALID_UTF8)
            return None
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json can parse
            self.skips.add(self.where(number), reasons.INVALID_JSON)
            return None
        doc = self._document(rec, number)
        if doc is not None:
            doc.offset = offset
        return doc

    @property
    def fields(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The text, path and language fields the core reads a record by, as this reader does."""
        return self.text_fields, PATH_FIELDS, LANG_FIELDS

    @staticmethod
    def line_bytes(batch: list[tuple[int, int, bytes | None]]) -> list[bytes]:
        """A batch of `read_lines` as the core parses it: a line too large to read (None) goes
        as a blank one, its skip counted by `parsed`."""
        return [line or b"" for _, _, line in batch]

    def parsed(
        self, batch: list[tuple[int, int, bytes | None]], reasons: list[str | None], left: list[int]
    ) -> Iterator[tuple[int, Document | None]]:
        """The records of a batch of `read_lines` that the core parsed (each line's skip reason,
        the lines it left), in line order: ``(i, None)`` for line ``i`` whose record the core
        has, ``(i, doc)`` for one it left that holds a record, read here. The skips are counted
        here, those of lines too large to read among them."""
        left_at = set(left)
        for i, ((number, offset, line), reason) in enumerate(zip(batch, reasons, strict=True)):
            if line is None:
                self.record(line, number, offset)
            elif reason is not None:
                self.skips.add(self.where(number), reason)
            elif i not in left_at:
                yield i, None
            elif (doc := self.record(line, number, offset)) is not None:
                yield i, doc

    def _document(self, rec: Any, number: int) -> Document | None:
        where = self.where(number)
        if not isinstance(rec, dict):
            self.skips.add(where, reasons.INVALID_JSON)
            return None
        text = _first(rec, self.text_fields)
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                self.skips.add(where, reasons.INVALID_UTF8)
                return None
        if not isinstance(text, str):
            self.skips.add(where, reasons.NO_TEXT)
            return None
        size, reason = check_text(text, self.max_bytes)
        if reason:
            self.skips.add(where, reason)
            return None
        path = _first(rec, PATH_FIELDS)
        path = printable(str(path)) if path else f"{self.name}:{number}"  # JSON may hold "\udcff"
        repo = _first(rec, REPO_FIELDS)
        language = normalize_language(_first(rec, LANG_FIELDS), path)
        return Document(
            where,
            path,
            printable(str(repo)) if repo else self.name,
            language,
            source=self.source,
            origin=self.origin,
            record=number,
            text=text,
            size=size,
        )

    def _jsonl(self, start: int, stop: int | None) -> Iterator[Document]:
        for number, offset, line in self.read_lines(start, stop):
            doc = self.record(line, number, offset)
            if doc is not None:
                yield doc

    def line_batches(
        self, start: int, stop: int | None, max_bytes: int, max_lines: int
    ) -> Iterator[list[tuple[int, int, bytes | None]]]:
        """`read_lines` in lists of about ``max_bytes`` of lines (at most ``max_lines``), for the
        core to parse a batch at a time."""
        return batches(self.read_lines(start, stop), max_bytes, max_lines, line_size)

    def read_lines(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, int, bytes | None]]:
        """The lines of a JSONL file starting in bytes ``[start, stop)`` (``stop`` None = to the
        end), as (number, offset, line): `record` takes them. ``offset`` is -1 where a line cannot
        be found again by seeking (a compressed file, a URL); ``line`` is None for a line too
        large to hold a record, passed over unread (its skip is counted in its place, by `record`)."""
        # Offsets only where a line can be found again by seeking: a plain local file.
        from codemill.sources.fs import is_url

        seekable = not is_compressed(self.path) and not is_url(self.path)
        try:
            with open_stream(self.path, stop, sequential=True) as f:
                pos = start
                if start > 0:
                    f.seek(start - 1)
                    if f.read(1) != b"\n":
                        pos += _past_line(f)  # the line in progress belongs to the previous part
                # A record's text is at most max_bytes, and its line, escaped as JSON, at most 3x that
                # (\uXXXX for every char of non-ASCII text; only control characters take more): a
                # longer line is too large and is skipped unread, not held whole (a 1 GiB line took 2 GB).
                # (A limit past what a read can ask for is no limit: readline takes an ssize_t.)
                cap = min(3 * self.max_bytes + 4096, sys.maxsize)
                while stop is None or pos < stop:
                    line = f.readline(cap)
                    if not line:
                        break
                    at = pos
                    pos += len(line)
                    self.lines += 1
                    number = self.first + self.lines - 1
                    if len(line) == cap and not line.endswith(b"\n"):
                        pos += _past_line(f)
                        yield number, at if seekable else -1, None
                        continue
                    yield number, at if seekable else -1, line
        except (OSError, EOFError, zlib.error) as exc:
            why = exc or type(exc).__name__
            hint = "" if isinstance(exc, FileNotFoundError) else "; is the file truncated?"
            raise SourceError(f"{self.path}: cannot read ({why}){hint}") from None
        except Exception as exc:
            if type(exc).__module__.startswith(("zstd", "zstandard")):  # zstandard(.backend_c).ZstdError
                raise SourceError(f"{self.path}: corrupt zstd stream ({exc})") from None
            raise

    def _parquet(self, start: int, stop: int | None) -> Iterator[Document]:
        pf = parquet_file(self.path)
        names = set(pf.schema_arrow.names)
        wanted = {*self.text_fields, *PATH_FIELDS, *REPO_FIELDS, *LANG_FIELDS}
        columns = [c for c in pf.schema_arrow.names if c in wanted]
        if not any(c in names for c in self.text_fields):
            fields = " or ".join(repr(f) for f in self.text_fields)
            raise SourceError(f"{self.path}: no {fields} column (columns: {', '.join(sorted(names))})")
        stop = pf.metadata.num_row_groups if stop is None else stop
        before = sum(pf.metadata.row_group(i).num_rows for i in range(start))
        groups = list(range(start, stop))
        import pyarrow as pa  # importable: parquet_file opened the file with it

        # A reader per row group: one reader over them all held what it had read, ~380 MB of
        # Arrow memory by the end of a 393 MB file (91,520 rows), against ~13 MB so.
        batches = (
            batch
            for group in groups
            for batch in pf.iter_batches(batch_size=_BATCH_ROWS, row_groups=[group], columns=columns)
        )
        while True:
            # Only the reading and decoding of a batch is guarded: a corrupt page (ArrowInvalid),
            # a string column that is not UTF-8, a failed read. Not what is done with the rows.
            try:
                batch = next(batches, None)
                rows = batch.to_pylist() if batch is not None else []
            except StorageError:
                raise
            except (OSError, ValueError, pa.ArrowException) as exc:  # ArrowInvalid, UnicodeDecodeError: ValueErrors
                raise SourceError(f"{self.path}: cannot read Parquet data ({exc})") from None
            if batch is None:
                return
            for rec in rows:
                self.lines += 1
                doc = self._document(rec, before + self.lines)
                if doc is not None:
                    yield doc


def parquet_file(path: Path | str) -> Any:
    """An open ``pyarrow.parquet.ParquetFile``, or a clear error."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise SourceError(f"{path}: reading Parquet needs pyarrow: pip install 'codemill[corpus]'") from exc
    try:
        from codemill.sources.fs import SizeUnknown, is_url, open_url, read_url

        if not (isinstance(path, str) and is_url(path)):
            return pq.ParquetFile(path)
        try:
            return pq.ParquetFile(open_url(path))
        except SizeUnknown:
            # Parquet is read from its end, which needs the size: a store that gives none (an
            # HTTP server without Content-Length) has the object fetched whole, into memory.
            import pyarrow as pa

            return pq.ParquetFile(pa.BufferReader(read_url(path)))
    except StorageError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for corrupt files
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None


def parquet_row_groups(path: Path | str) -> list[tuple[int, int]]:
    """(rows, bytes) of each row group of a Parquet file."""
    md = parquet_file(path).metadata
    return [(md.row_group(i).num_rows, md.row_group(i).total_byte_size) for i in range(md.num_row_groups)]


def line_size(line: tuple[int, int, bytes | None]) -> int:
    """The bytes a line of `RecordReader.read_lines` counts for in a batch (`line_batches`)."""
    return len(line[2] or b"")


def _past_line(f: IO[bytes]) -> int:
    """Reads past the rest of the current line a MiB at a time; returns its length."""
    n = 0
    while True:
        chunk = f.readline(1 << 20)
        n += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return n
