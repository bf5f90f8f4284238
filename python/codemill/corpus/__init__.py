"""Corpus-scale tokenization: task planning, shard formats (npy, Megatron), the job, engines.

Arrows point down: ``job`` plans (``plan``) and hands tasks to an engine (``engines.local``,
``engines.ray``), which runs ``engines.task`` with the shard writer (``shards``, ``megatron``);
``reader`` reads an output directory back. May import: tokenizer, sources, errors, languages,
_io, outputs, progress, _cpus, _workers. Nothing here imports the job but the package's public names below.
"""

from codemill.corpus.job import tokenize_corpus
from codemill.corpus.reader import iter_shard_documents, read_manifest, read_npy_shard

__all__ = ["iter_shard_documents", "read_manifest", "read_npy_shard", "tokenize_corpus"]
