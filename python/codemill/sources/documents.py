"""Reading code corpora: directory trees of source files, JSONL(.gz/.zst) and Parquet.

Every file or record that is not read is reported with a reason, never dropped silently.
Large inputs are planned into deterministic tasks (`plan_tasks`) whose documents are read
streaming (`iter_task_documents`), so memory never grows with the corpus.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from codemill.languages import EXTENSIONS, detect_language

# Directories that hold tooling state, caches or vendored copies rather than the project's code.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", "target", ".mypy_cache"}
)

# Reasons a file is skipped (the keys of skip counters in reports).
TOO_LARGE = "too_large"
BINARY = "binary"
NOT_UTF8 = "invalid_utf8"
UNREADABLE = "unreadable"
EMPTY = "empty"


def iter_code_files(root: str | os.PathLike[str], all_files: bool = False) -> Iterator[Path]:
    """Files under ``root`` in a stable (sorted) order; a file root yields itself.

    Directories are walked for files with a known code extension (all files with
    ``all_files``), skipping hidden and cache directories. Symlinked directories are not
    followed, so link loops cannot trap the walk. A directory that cannot be listed is yielded
    as a path, so that reading it reports it as unreadable.
    """
    root = Path(root)
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such file or directory")
    # A directory that cannot be listed is yielded itself: reading it fails, so every caller
    # counts it as unreadable instead of losing its files silently.
    unlisted: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted.append):
        while unlisted:
            yield Path(unlisted.pop(0).filename)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if all_files or os.path.splitext(name)[1].lower() in EXTENSIONS:
                yield Path(dirpath, name)
    while unlisted:
        yield Path(unlisted.pop(0).filename)


def read_code_file(path: Path, max_bytes: int = 10_000_000) -> tuple[str | None, str | None]:
    """(text, None) for a readable UTF-8 text file, else (None, reason)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, TOO_LARGE
        data = path.read_bytes()
    except OSError:
        return None, UNREADABLE
    if not data:
        return None, EMPTY
    if b"\0" in data[:8192]:
        return None, BINARY
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, NOT_UTF8


# --- Corpus inputs at scale: planning into deterministic tasks, streaming documents ----------

# File names read as JSONL (one JSON object per line) and Parquet.
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst")
PARQUET_SUFFIXES = (".parquet",)
TEXT_FIELDS = ("text", "content")

# Reasons a record of a JSONL / Parquet input is skipped (besides EMPTY, BINARY, ...).
INVALID_JSON = "invalid_json"
NO_TEXT = "no_text"

# Language names as data sets spell them (The Stack: "Python", "C++", "JavaScript") -> ours.
_LANG_ALIASES = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "javascript": "javascript",
    "js": "javascript",
    "jsx": "javascript",
    "typescript": "typescript",
    "ts": "typescript",
    "tsx": "typescript",
    "java": "java",
    "go": "go",
    "golang": "go",
    "rust": "rust",
    "rs": "rust",
    "c": "c",
    "cpp": "cpp",
    "c++": "cpp",
    "cxx": "cpp",
    "cc": "cpp",
    "generic": "generic",
    "text": "generic",
}

_SNIFF = 8192
# A directory task holds at most this many files, so that task records stay small.
_MAX_FILES_PER_TASK = 4096


def normalize_language(lang: object, path: object = None) -> str:
    """Our scanner language for a record's ``lang`` (any spelling) or, failing that, its ``path``."""
    if isinstance(lang, str):
        found = _LANG_ALIASES.get(lang.strip().lower())
        if found:
            return found
    if isinstance(path, str) and path:
        return detect_language(path)
    return "generic"


def input_kind(path: Path) -> str:
    """``"tree"`` (a directory of code), ``"jsonl"``, ``"parquet"`` or ``"file"`` (one code file)."""
    if path.is_dir():
        return "tree"
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return "file"


@dataclass(frozen=True)
class Task:
    """A deterministic unit of work: its output shards are named after ``index``.

    ``kind`` is ``"files"`` (``files`` under ``path``), ``"jsonl"`` (lines starting in the byte
    range ``[start, stop)`` of ``path``; ``stop`` None = to the end) or ``"parquet"`` (row groups
    ``[start, stop)`` of ``path``). ``key`` fingerprints the task's inputs (names and sizes), so a
    resumed run redoes a task whose inputs changed.
    """

    index: int
    kind: str
    path: str
    files: tuple[str, ...] = ()
    start: int = 0
    stop: int | None = None
    key: str = ""
    size: int = 0  # input bytes it covers (for progress; compressed size for .gz/.zst)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"index": self.index, "kind": self.kind, "path": self.path}
        if self.kind == "files":
            d.update(files=len(self.files), first=self.files[0], last=self.files[-1])
        else:
            d.update(start=self.start, stop=self.stop)
        d.update(key=self.key, size=self.size)
        return d


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:16]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1  # unreadable: reported when the task reads it


def plan_tasks(inputs: Iterable[str | os.PathLike[str]], task_bytes: int = 64 << 20) -> list[Task]:
    """Split inputs into tasks of about ``task_bytes`` each, in a stable order.

    Directory trees are walked (sorted) and their files grouped; uncompressed JSONL is split at
    byte offsets (a line belongs to the range its first byte is in); compressed JSONL is one
    task per file; Parquet is split by row groups. Only sizes are read here, never contents.
    """
    if task_bytes <= 0:
        raise ValueError("task_bytes must be positive")
    tasks: list[Task] = []

    def add(kind: str, path: str, key: str, **kw: Any) -> None:
        tasks.append(Task(len(tasks), kind, path, key=key, **kw))

    for raw in inputs:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(f"{path}: no such file or directory")
        kind = input_kind(path)
        if kind in ("tree", "file"):
            group: list[str] = []
            sizes: list[int] = []
            total = 0
            for f in iter_code_files(path):
                group.append(str(f))
                sizes.append(_size(f))
                total += max(sizes[-1], 0)
                if total >= task_bytes or len(group) >= _MAX_FILES_PER_TASK:
                    add("files", str(path), _key(group, sizes), files=tuple(group), size=total)
                    group, sizes, total = [], [], 0
            if group:
                add("files", str(path), _key(group, sizes), files=tuple(group), size=total)
        elif kind == "jsonl":
            size = _size(path)
            if size < 0:
                raise ValueError(f"{path}: cannot read")
            if path.name.lower().endswith((".gz", ".zst")):
                add("jsonl", str(path), _key(str(path), size), start=0, stop=None, size=size)
            else:
                for start in range(0, max(size, 1), task_bytes):
                    stop = start + task_bytes if start + task_bytes < size else None
                    end = size if stop is None else stop
                    add("jsonl", str(path), _key(str(path), size, start), start=start, stop=stop, size=end - start)
        else:
            sizes = _parquet_row_group_sizes(path)
            start, acc = 0, 0
            for i, s in enumerate(sizes):
                acc += s
                if acc >= task_bytes or i == len(sizes) - 1:
                    add("parquet", str(path), _key(str(path), sizes, start), start=start, stop=i + 1, size=acc)
                    start, acc = i + 1, 0
    return tasks


def _parquet_file(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ValueError(f"{path}: reading Parquet needs pyarrow: pip install 'codemill[corpus]'") from exc
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for corrupt files
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None


def _parquet_row_group_sizes(path: Path) -> list[int]:
    md = _parquet_file(path).metadata
    return [md.row_group(i).total_byte_size for i in range(md.num_row_groups)]


class Skips:
    """Skipped items counted by reason, with the first ``limit`` of them listed."""

    def __init__(self, limit: int = 1000) -> None:
        self.counts: Counter[str] = Counter()
        self.items: list[dict[str, str]] = []
        self.limit = limit

    def add(self, where: str, reason: str) -> None:
        self.counts[reason] += 1
        if len(self.items) < self.limit:
            self.items.append({"path": where, "reason": reason})


@dataclass
class Document:
    text: str
    language: str
    nbytes: int  # UTF-8 size of ``text``


def _check_text(text: str, max_bytes: int) -> tuple[int, str | None]:
    """(UTF-8 size, None) for a usable record text, else (0, reason)."""
    if not text:
        return 0, EMPTY
    try:
        n = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates from JSON "\\ud800" escapes
        return 0, NOT_UTF8
    if n > max_bytes:
        return 0, TOO_LARGE
    if "\0" in text[:_SNIFF]:
        return 0, BINARY
    return n, None


def _open_stream(path: Path) -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".zst"):
        try:
            import zstandard
        except ImportError as exc:
            raise ValueError(f"{path}: reading .zst needs zstandard: pip install 'codemill[corpus]'") from exc
        raw = open(path, "rb")  # noqa: SIM115 - closed with the returned stream
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))  # type: ignore[arg-type]
    return open(path, "rb")


def iter_jsonl(
    path: Path, skips: Skips, max_bytes: int = 100 << 20, start: int = 0, stop: int | None = None
) -> Iterator[Document]:
    """Documents of a JSONL file (``text`` or ``content``; optional ``lang``/``path``), streaming.

    With a byte range, yields the lines whose first byte lies in ``[start, stop)``. Bad lines
    are skipped and counted as ``path@offset``; a corrupt compressed stream is an error.
    """
    try:
        with _open_stream(path) as f:
            pos = start
            if start > 0:
                f.seek(start - 1)
                if f.read(1) != b"\n":
                    pos += len(f.readline())  # the line in progress belongs to the previous range
            while stop is None or pos < stop:
                line = f.readline()
                if not line:
                    break
                where = f"{path}@{pos}"
                pos += len(line)
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except UnicodeDecodeError:
                    skips.add(where, NOT_UTF8)
                    continue
                except ValueError:
                    skips.add(where, INVALID_JSON)
                    continue
                text = next((obj[k] for k in TEXT_FIELDS if k in obj), None) if isinstance(obj, dict) else None
                if not isinstance(text, str):
                    skips.add(where, NO_TEXT)
                    continue
                n, reason = _check_text(text, max_bytes)
                if reason:
                    skips.add(where, reason)
                    continue
                yield Document(text, normalize_language(obj.get("lang", obj.get("language")), obj.get("path")), n)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    except Exception as exc:
        if type(exc).__module__.startswith("zstd"):  # zstandard.ZstdError
            raise ValueError(f"{path}: corrupt zstd stream ({exc})") from None
        raise


def iter_parquet(
    path: Path, skips: Skips, max_bytes: int = 100 << 20, start: int = 0, stop: int | None = None
) -> Iterator[Document]:
    """Documents of row groups ``[start, stop)`` of a Parquet file with The Stack's columns
    (``content`` or ``text``; optional ``lang``, ``path``), read a batch at a time."""
    pf = _parquet_file(path)
    names = set(pf.schema_arrow.names)
    text_col = next((c for c in ("content", "text") if c in names), None)
    if text_col is None:
        raise ValueError(f"{path}: no 'content' or 'text' column (columns: {', '.join(sorted(names))})")
    cols = [text_col] + [c for c in ("lang", "path") if c in names]
    stop = pf.metadata.num_row_groups if stop is None else stop
    row = sum(pf.metadata.row_group(i).num_rows for i in range(start))
    try:
        for batch in pf.iter_batches(batch_size=1024, row_groups=list(range(start, stop)), columns=cols):
            texts = batch.column(text_col).to_pylist()
            langs = batch.column("lang").to_pylist() if "lang" in cols else [None] * len(texts)
            paths = batch.column("path").to_pylist() if "path" in cols else [None] * len(texts)
            for text, lang, p in zip(texts, langs, paths, strict=True):
                where = f"{path}#{row}"
                row += 1
                if isinstance(text, bytes):
                    try:
                        text = text.decode("utf-8")
                    except UnicodeDecodeError:
                        skips.add(where, NOT_UTF8)
                        continue
                if not isinstance(text, str):
                    skips.add(where, NO_TEXT)
                    continue
                n, reason = _check_text(text, max_bytes)
                if reason:
                    skips.add(where, reason)
                    continue
                yield Document(text, normalize_language(lang, p), n)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read Parquet data ({exc})") from None


def iter_files(files: Iterable[str], skips: Skips, max_bytes: int = 100 << 20) -> Iterator[Document]:
    """Documents of code files; unreadable, empty, binary, too large, non-UTF-8 ones are skipped."""
    for name in files:
        path = Path(name)
        text, reason = read_code_file(path, max_bytes)
        if text is None:
            skips.add(name, reason or UNREADABLE)
            continue
        yield Document(text, detect_language(path, text[:128].encode("utf-8")), len(text.encode("utf-8")))


def iter_task_documents(task: Task, skips: Skips, max_bytes: int = 100 << 20) -> Iterator[Document]:
    """The documents of one task, in order."""
    if task.kind == "files":
        return iter_files(task.files, skips, max_bytes)
    if task.kind == "jsonl":
        return iter_jsonl(Path(task.path), skips, max_bytes, task.start, task.stop)
    if task.kind == "parquet":
        return iter_parquet(Path(task.path), skips, max_bytes, task.start, task.stop)
    raise ValueError(f"unknown task kind {task.kind!r}")


def iter_documents(
    inputs: Iterable[str | os.PathLike[str]], skips: Skips, max_bytes: int = 100 << 20
) -> Iterator[Document]:
    """Every document of every input (trees, code files, JSONL, Parquet), streaming, in order."""
    for task in plan_tasks(inputs, task_bytes=1 << 62):
        yield from iter_task_documents(task, skips, max_bytes)
