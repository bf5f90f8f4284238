"""Peak memory of `codemill.dedup` on a JSONL corpus of a few hundred MB, against holding
every text in memory (`dedup_texts`, what `dedup` did before it read in batches).

Run: `python benches/bench_dedup_memory.py [--mb 300] [--dir /tmp/dedup_mem]`. Each
measurement runs in a fresh process; peak RSS is `ru_maxrss`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

_WORD = re.compile(r"\b([A-Za-z_]\w{3,})\b")


def make_corpus(path: Path, mb: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benches.bench_dedup import load_corpus

    texts = load_corpus(100_000)
    written = docs = 0
    with open(path, "w", encoding="utf-8") as f:
        k = 0
        while written < mb * 1_000_000:
            for i, t in enumerate(texts):
                # Copy k renames every identifier: distinct documents; every 50th copies as is.
                text = t if k == 0 or i % 50 == 0 else _WORD.sub(lambda m, k=k: f"{m.group(1)}{k}", t)
                line = json.dumps({"content": text, "path": f"c{k}/{i}.py"}) + "\n"
                f.write(line)
                written += len(line)
                docs += 1
                if written >= mb * 1_000_000:
                    break
            k += 1
    return {"jsonl_bytes": path.stat().st_size, "docs": docs}


def child(mode: str, path: str, out: str) -> None:
    from codemill.near_dup.api import dedup, dedup_texts

    t0 = time.perf_counter()
    if mode == "batched":
        report = dedup(path, out)
        counts = report["counts"]
    else:
        texts = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                texts.append(json.loads(line)["content"])
        counts = dedup_texts(texts).counts
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"mode": mode, "peak_rss_bytes": peak, "seconds": round(time.perf_counter() - t0, 1),
                      "kept": counts["kept"], "documents": counts["documents"]}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=300)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/codemill_dedup_mem"))
    ap.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / "corpus.jsonl"
    result = {"corpus": make_corpus(path, args.mb)}
    for mode in ("batched", "all_in_memory"):
        res = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(path), str(args.dir / f"out_{mode}")],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        result[mode] = json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else res.stderr[-800:]
    docs = result["corpus"]["docs"]
    result["signature_bytes"] = docs * 256 * 4
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
