"""`dedup` and `dedup_texts`: exact and near-duplicate removal of files, JSONL and texts.

Both sign their documents (`decide.sign`: MinHash signatures, shingle counts, content hashes;
Rust on all cores, or Ray) and hand them to the one decision, `decide.decide`, under one
`DedupConfig` (see it for the rule). `dedup` reads its inputs in batches and keeps only
signatures and per-document metadata in memory; texts are re-read for verification and when
writing. The entry points are exported as `codemill.dedup`, `codemill.DedupConfig`,
`codemill.MinHasher` and `codemill.DedupResult`.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Unpack

import numpy as np

from codemill.errors import ConfigError
from codemill.near_dup.config import KEEP_POLICIES, DedupConfig, DedupOptions, Engine
from codemill.near_dup.decide import Signed, check_engine, concat_signed, decide, sign
from codemill.near_dup.io import Doc, Skips, check_inputs, decode_file, jsonl_docs, read_documents
from codemill.near_dup.minhash import Languages, MinHasher
from codemill.near_dup.output import REPORT_NAME, check_output, write_output
from codemill.near_dup.result import DedupReport, DedupResult

__all__ = ["KEEP_POLICIES", "REPORT_NAME", "DedupConfig", "DedupResult", "MinHasher", "dedup", "dedup_texts"]

# A batch of documents is signed, then its texts are dropped (whichever limit comes first).
BATCH_DOCS = 4096
BATCH_CHARS = 32_000_000


def dedup_texts(
    texts: Sequence[str],
    languages: Languages = None,
    config: DedupConfig | None = None,
    *,
    engine: Engine = "local",
    names: Sequence[str] | None = None,
    ray_shards: int | None = None,
    **options: Unpack[DedupOptions],
) -> DedupResult:
    """Deduplicate in-memory texts by `config` (default: `DedupConfig()`) with `options`
    (its fields) replaced; `names[i]` labels text `i` in the clusters.

    >>> res = dedup_texts(["x = 1\\n", "x = 1\\n", "def f():\\n    pass\\n"], "python")
    >>> res.keep.tolist(), res.counts["exact_duplicates_removed"]
    ([True, False, True], 1)
    """
    cfg = DedupConfig.of(config, **options)
    texts = list(texts)
    if names is not None and len(names) != len(texts):
        raise ConfigError(f"names has {len(names)} entries for {len(texts)} texts")
    nodes: Counter[str] = Counter()
    signed = sign(cfg, texts, languages, engine, ray_shards, nodes)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))

    def fetch(ids: np.ndarray) -> tuple[list[str], Languages]:
        if languages is None or isinstance(languages, str):
            return [texts[i] for i in ids.tolist()], languages
        return [texts[i] for i in ids.tolist()], [languages[i] for i in ids.tolist()]

    name = names.__getitem__ if names is not None else None
    return decide(cfg, signed, lengths, fetch, name, engine=engine, ray_shards=ray_shards, nodes=nodes)


@dataclass
class _Corpus:
    """Where each document of the inputs is, without its text: the metadata `dedup` keeps."""

    paths: list[Path]
    text_field: str | None
    source: array = field(default_factory=lambda: array("i"))  # input index
    line: array = field(default_factory=lambda: array("q"))  # JSONL line (0-based) or -1
    length: array = field(default_factory=lambda: array("q"))  # characters
    lang: array = field(default_factory=lambda: array("b"))  # index into `langs`
    rel: dict[int, str] = field(default_factory=dict)  # document id -> path inside a tree
    langs: list[str | None] = field(default_factory=lambda: [None])

    def add(self, d: Doc) -> None:
        i = len(self.source)
        self.source.append(d.source)
        self.length.append(len(d.text))
        if d.language not in self.langs:
            self.langs.append(d.language)
        self.lang.append(self.langs.index(d.language))
        if isinstance(d.where, int):
            self.line.append(d.where)
        else:
            self.line.append(-1)
            self.rel[i] = d.where

    def name(self, i: int) -> str:
        path = self.paths[self.source[i]]
        if self.line[i] >= 0:
            return f"{path}:{self.line[i] + 1}"
        return str(path / self.rel[i]) if path.is_dir() else str(path)

    def where(self, i: int) -> str | int:
        return self.line[i] if self.line[i] >= 0 else self.rel[i]

    def fetch(self, ids: np.ndarray) -> tuple[list[str], list[str | None]]:
        """Re-read the texts of documents `ids` (sorted): files directly, JSONL by streaming."""
        texts: dict[int, str] = {}
        by_source: dict[int, list[int]] = {}
        for i in ids.tolist():
            by_source.setdefault(self.source[i], []).append(i)
        for src, wanted in sorted(by_source.items()):
            path = self.paths[src]
            if self.line[wanted[0]] >= 0:
                by_line = {self.line[i]: i for i in wanted}
                for d in jsonl_docs(path, src, Skips(), self.text_field):
                    i = by_line.get(d.where)  # type: ignore[arg-type]
                    if i is not None:
                        texts[i] = d.text
            else:
                for i in wanted:
                    f = path / self.rel[i] if path.is_dir() else path
                    text = decode_file(f, Skips(), str(f))
                    if text is not None:
                        texts[i] = text
        out = []
        for i in ids.tolist():
            text = texts.get(i)
            if text is None or len(text) != self.length[i]:
                raise ValueError(f"{self.name(i)}: input changed while dedup was running")
            out.append(text)
        return out, [self.langs[self.lang[i]] for i in ids.tolist()]


def dedup(
    inputs: str | Path | Iterable[str | Path],
    output: str | Path | None = None,
    config: DedupConfig | None = None,
    *,
    engine: Engine = "local",
    text_field: str | None = None,
    ray_shards: int | None = None,
    **options: Unpack[DedupOptions],
) -> DedupReport:
    """Remove exact and near duplicates from directories, source files or JSONL files.

    Duplicates are decided by `config` (default: `DedupConfig()`) with `options` (its
    fields, e.g. `threshold=0.8`) replaced; one document per group is kept.

    Inputs are read in batches: only signatures and per-document metadata stay in memory;
    texts are re-read for verification (documents in candidate pairs) and when writing. With
    `output`, that directory is replaced as a whole by the kept documents in each input's
    format (JSONL lines verbatim, files copied under the input's name) and
    `dedup_report.json`. Returns the report: parameters, counts (skipped inputs with
    reasons) and clusters.
    """
    paths = [Path(inputs)] if isinstance(inputs, str | Path) else [Path(p) for p in inputs]
    if not paths:
        raise ConfigError("no inputs given")
    check_inputs(paths)
    cfg = DedupConfig.of(config, **options)
    check_engine(engine)
    if output is not None:
        check_output(Path(output), paths)
    skips = Skips()
    corpus = _Corpus(paths, text_field)
    parts: list[Signed] = []
    nodes: Counter[str] = Counter()
    batch: list[Doc] = []
    chars = 0

    def flush() -> None:
        texts = [d.text for d in batch]
        langs = [d.language for d in batch]
        parts.append(sign(cfg, texts, langs, engine, ray_shards, nodes))
        batch.clear()

    for doc in read_documents(paths, skips, text_field):
        corpus.add(doc)
        batch.append(doc)
        chars += len(doc.text)
        if len(batch) >= BATCH_DOCS or chars >= BATCH_CHARS:
            flush()
            chars = 0
    if batch:
        flush()
    signed = concat_signed(parts, cfg)
    parts.clear()
    lengths = np.frombuffer(corpus.length, dtype=np.int64)
    result = decide(cfg, signed, lengths, corpus.fetch, corpus.name, engine=engine, ray_shards=ray_shards, nodes=nodes)
    report = result.report()
    if engine == "ray":
        report["tasks_per_node"] = result.tasks_per_node
    report["inputs"] = [str(p) for p in paths]
    report["counts"]["skipped"] = skips.as_dict()
    report["counts"]["skipped_total"] = sum(skips.counts.values())
    if output is not None:
        kept: dict[int, set[str | int]] = {}
        for i in np.flatnonzero(result.keep).tolist():
            kept.setdefault(corpus.source[i], set()).add(corpus.where(i))
        write_output(paths, Path(output), kept, report)
    return report
