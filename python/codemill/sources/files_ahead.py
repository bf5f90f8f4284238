"""A bucket's record files read ahead of their consumer, many at once: each file's round trips
waited for one after the other left a job of small JSONL objects waiting on the store."""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from codemill._batches import full
from codemill._read_ahead import read_ahead
from codemill.sources.fs import FETCH_BATCH
from codemill.sources.records import RecordReader, line_size
from codemill.sources.streams import is_compressed

# Files read at once (`files_ahead`): as many as a reader fetches at once. 4 at a time, dedup
# signed 283 objects of 264 KB in 2.1 s from a server answering 20 ms late, in 1.0 s so (0.4 s
# from local disk). AHEAD_BYTES bounds what they hold: a plain file under WHOLE_FILE_BYTES is
# read whole, any other its first batch of lines.
FILES_AT_ONCE = FETCH_BATCH
WHOLE_FILE_BYTES = 1 << 20
AHEAD_BYTES = 16 << 20

Lines = list[tuple[int, int, bytes | None]]  # a batch of `RecordReader.line_batches`
T = TypeVar("T")


def files_ahead(
    items: Iterator[tuple[RecordReader, T]], batch_bytes: int, batch_lines: int
) -> Generator[tuple[tuple[RecordReader, T], Iterable[Lines]], None, None]:
    """Each of ``items`` (a reader and what goes with it) with its file's batches of lines
    (`RecordReader.line_batches` of ``batch_bytes`` and ``batch_lines``), in order, read ahead
    in threads, `FILES_AT_ONCE` files at a time: at least the next file, and up to twice
    `FILES_AT_ONCE` files and `AHEAD_BYTES` held ahead. A plain file under `WHOLE_FILE_BYTES` (as
    listed) is read whole; any other its first batch, counted as a whole batch (a compressed
    file's listed size says nothing of its lines: 485 KB of gzip held 120 MB of them; a file not
    listed, as tokenize's task's, may be large), the rest, if any, read on ahead as it is
    consumed (`read_ahead`, a thread each): with tokenize's batches of 4 MiB, a large task's
    small files are read about four at a time. ``items`` is drawn from ahead of the files given
    out. The threads only read lines: their skips are counted where they are parsed
    (`RecordReader.parsed`), and a file's error is raised in its place."""

    def whole(reader: RecordReader) -> bool:
        return reader.size is not None and reader.size < WHOLE_FILE_BYTES and not is_compressed(reader.path)

    def head(reader: RecordReader) -> tuple[list[Lines], Iterator[Lines] | None]:
        batches = reader.line_batches(0, None, batch_bytes, batch_lines)
        if whole(reader):
            return list(batches), None
        first = list(itertools.islice(batches, 1))
        if not first or not full(first[0], batch_bytes, batch_lines, line_size):
            return first, None  # the file's last batch: no thread to read on (~80 us each)
        return first, batches

    window: deque[tuple[tuple[RecordReader, T], int, Future[tuple[list[Lines], Iterator[Lines] | None]]]] = deque()
    held = 0  # bytes the files in ``window`` hold at most: a whole file's, or a first batch's

    def fill() -> None:
        nonlocal held
        while not window or (len(window) < 2 * FILES_AT_ONCE and held < AHEAD_BYTES):
            item = next(items, None)
            if item is None:
                return
            size = item[0].size
            cost = size if whole(item[0]) and size is not None else batch_bytes
            window.append((item, cost, pool.submit(head, item[0])))
            held += cost

    pool = ThreadPoolExecutor(FILES_AT_ONCE, thread_name_prefix="codemill-reader")
    try:
        fill()
        while window:
            item, cost, read = window.popleft()
            held -= cost
            fill()  # the files after this one, read while it is consumed
            lines, rest = read.result()
            if rest is None:
                yield item, lines
            else:
                with contextlib.closing(read_ahead(rest)) as more:
                    yield item, itertools.chain(lines, more)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
