"""The one document reader: trees (with .gitignore), files, JSONL(.gz/.zst), Parquet.

Every command reads its inputs through this layer (:func:`iter_documents`, or
:func:`list_documents` + :func:`load_text` to read files where the work happens); every input
that is not read is counted in :class:`Skips` with a reason from :mod:`codemill.sources.skips`.
Languages come from :mod:`codemill.languages` only (extension, then shebang). Inputs may be
URLs (``s3://bucket/prefix``): :mod:`codemill.sources.fs` is the one place that opens them, and
its ``Directory`` is the one output abstraction for local paths and URLs alike.

May import: errors, languages, _io, _batches. Nothing else of codemill.
"""

from codemill.sources.document import DEFAULT_MAX_BYTES, Document, load_text, read_file, utf8_size
from codemill.sources.inputs import check_inputs, iter_documents, list_documents
from codemill.sources.records import RecordReader
from codemill.sources.skips import Skips
from codemill.sources.walk import Entry, walk

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Document",
    "Entry",
    "RecordReader",
    "Skips",
    "check_inputs",
    "iter_documents",
    "list_documents",
    "load_text",
    "read_file",
    "utf8_size",
    "walk",
]
