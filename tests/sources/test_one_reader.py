"""Every command reads through the one source layer: the same tricky tree gives the same
documents and the same skip counts in tokenize (shards and report), dedup, prepare, index,
graph and train."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import codemill
import pytest
from codemill.context.graph import ImportGraph
from codemill.corpus.reader import iter_shard_documents
from codemill.corpus.report import tokenize_report
from codemill.finetune.config import PrepareConfig
from codemill.finetune.pipeline import Preparer
from codemill.index.hybrid import HybridIndex
from codemill.sources import Skips, iter_documents

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
zstd = pytest.importorskip("zstandard")

LIMIT = 16 << 20  # every command gets the same size limit; the 20 MB file is over it

APP = '''"""The application."""

import os


def main(argv):
    """Run the tool on each argument and print what it finds."""
    for arg in argv:
        print(arg, os.path.exists(arg))
    return 0
'''
VIEW = "export function render(items: string[]): string {\n  return items.map((x) => `<li>${x}</li>`).join('');\n}\n"
FAST = "#include <vector>\n\nint sum(const std::vector<int>& xs) {\n  int s = 0;\n  for (int x : xs) s += x;\n  return s;\n}\n"  # noqa: E501
TOOL = "#!/usr/bin/env python3\nimport sys\n\nprint('tool', sys.argv[1:])\n"


def _tricky_tree(root: Path) -> Path:
    tree = root / "repo"
    for rel, text in {
        "src/app.py": APP,
        "src/web/view.ts": VIEW,
        "src/native/fast.cpp": FAST,
        "bin/tool": TOOL,  # no extension: the shebang says python
        "docs/notes.xyz": "not code\n",  # unknown extension
    }.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    (tree / "src" / "latin1.py").write_bytes("NAME = 'Fran\xe7ois'\n".encode("latin-1"))
    os.mkfifo(tree / "src" / "pipe.py")  # would block a reader that opened it
    with open(tree / "big.py", "wb") as f:
        f.truncate(20 << 20)  # 20 MB (sparse)
    (tree / "data").mkdir()
    lines = [
        json.dumps({"content": "fn main() {}\n", "path": "src/main.rs", "lang": "Rust"}),
        "{not json",
        json.dumps({"content": "package main\n\nfunc main() {}\n", "path": "main.go"}),
    ]
    (tree / "data" / "records.jsonl.zst").write_bytes(
        zstd.ZstdCompressor().compress(("\n".join(lines) + "\n").encode())
    )
    # Two small record files in a row: a corpus run reads them in one task.
    (tree / "data" / "more.jsonl").write_text(json.dumps({"content": "let x = 1;\n", "path": "x.js"}) + "\n")
    pq.write_table(
        pa.table({"content": ["int f(void) { return 1; }\n", None], "path": ["f.c", "nothing.c"]}),
        tree / "data" / "table.parquet",
    )
    return tree


EXPECTED_SKIPS = {
    "unsupported_language": 1,  # docs/notes.xyz
    "invalid_utf8": 1,  # src/latin1.py
    "not_a_file": 1,  # src/pipe.py
    "too_large": 1,  # big.py
    "invalid_json": 1,  # records.jsonl.zst:2
    "no_text": 1,  # table.parquet:2
}
# Documents in the index and the graph: files by path, records by their file and number.
EXPECTED_PATHS = {
    "src/app.py",
    "src/web/view.ts",
    "src/native/fast.cpp",
    "bin/tool",
    "data/records.jsonl.zst:1",
    "data/records.jsonl.zst:3",
    "data/more.jsonl:1",
    "data/table.parquet:1",
}
# app.py, view.ts, fast.cpp, bin/tool, and the records main.rs, main.go, x.js, f.c
EXPECTED_LANGUAGES = {"python": 2, "typescript": 1, "cpp": 1, "rust": 1, "go": 1, "javascript": 1, "c": 1}


def test_the_reader_itself(tmp_path: Path) -> None:
    tree = _tricky_tree(tmp_path)
    skips = Skips()
    docs = list(iter_documents([tree], skips, max_bytes=LIMIT))
    assert Counter(d.language for d in docs) == EXPECTED_LANGUAGES
    assert skips.as_dict() == EXPECTED_SKIPS
    assert f"{tree / 'data' / 'records.jsonl.zst'}:2" in {i["path"] for i in skips.items}


def test_every_command_reads_the_same_documents_and_skips(tmp_path: Path, small_tok) -> None:
    tree = _tricky_tree(tmp_path)
    n = sum(EXPECTED_LANGUAGES.values())
    seen: dict[str, tuple[int, dict[str, int]]] = {}

    texts = sorted(d.text or "" for d in iter_documents([tree], Skips(), max_bytes=LIMIT))
    m = codemill.tokenize_corpus([tree], tmp_path / "shards", tokenizer=small_tok, max_file_bytes=LIMIT)
    assert [t["kind"] for t in m["tasks"]].count("records") == 1
    seen["tokenize"] = (m["totals"]["documents"], m["skipped"])
    assert {lang: s["documents"] for lang, s in m["languages"].items()} == EXPECTED_LANGUAGES
    assert sorted(small_tok.decode(ids) for ids in iter_shard_documents(tmp_path / "shards")) == texts

    r = tokenize_report(small_tok, [str(tree)], max_file_bytes=LIMIT, progress=False)
    seen["tokenize report"] = (r["documents"], r["skipped"])
    assert {lang: s["documents"] for lang, s in r["languages"].items()} == EXPECTED_LANGUAGES

    d = codemill.dedup([tree], max_file_bytes=LIMIT)
    seen["dedup"] = (d["counts"]["documents"], d["counts"]["skipped"])

    run = Preparer(tree, PrepareConfig(samples=("raw",), dedup=None, max_file_bytes=LIMIT), workers=1, progress=False)
    list(run)
    assert run.report is not None
    p = run.report
    seen["prepare"] = (p["files"]["read"], p["skipped"])

    index = HybridIndex.build(tree, max_file_bytes=LIMIT)
    seen["index"] = (index.report.files, index.report.skipped)
    assert set(index.files) == EXPECTED_PATHS

    graph = ImportGraph.build(tree, max_file_bytes=LIMIT)
    seen["graph"] = (len(graph.files), dict(Counter(graph.skipped.values())))
    assert set(graph.files) == EXPECTED_PATHS

    tok = codemill.CodeTokenizer.train([tree], vocab_size=400, identifier_vocab_size=0, max_file_bytes=LIMIT)
    training = tok.metadata["training"]
    seen["train"] = (training["documents"], training["skipped"])

    for command, (documents, skipped) in seen.items():
        assert (documents, dict(skipped)) == (n, EXPECTED_SKIPS), command
