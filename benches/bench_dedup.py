"""Dedup side by side: signature throughput vs datasketch and rensa, quality vs brute force,
memory for 1M x 256 signatures. Run: `python benches/bench_dedup.py [--docs N] [--json F]`.

All signers get the same shingles: codemill's piece 5-grams of Python stdlib files, hashed
to uint64 once (datasketch gets their low 32 bits, its native hash width).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import sysconfig
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from codemill import _core
from codemill.near_dup.api import MinHasher, dedup_texts
from codemill.near_dup.signing import SHINGLE_SCANNER

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def load_corpus(limit: int) -> list[str]:
    texts = []
    for p in sorted(STDLIB.rglob("*.py")):
        if "site-packages" in p.parts:
            continue
        try:
            t = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if 500 <= len(t) <= 60_000:
            texts.append(t)
        if len(texts) == limit:
            break
    return texts


def best_of(f, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def throughput(texts: list[str], num_perm: int, ds_docs: int) -> dict:
    sh = [_core.shingle_hashes(t, SHINGLE_SCANNER, 5, True) for t in texts]
    offsets = np.zeros(len(sh) + 1, dtype=np.uint64)
    offsets[1:] = np.cumsum([len(s) for s in sh])
    flat = np.concatenate(sh)
    n_sh = len(flat)
    out = {"docs": len(texts), "shingles": int(n_sh), "num_perm": num_perm}
    for scheme in ("bucket", "mersenne"):
        h = MinHasher(num_perm, scheme=scheme)
        t = best_of(lambda h=h: h.signatures_from_hashes(flat, offsets))
        out[f"codemill_{scheme}_shingles_per_s"] = n_sh / t
    h = MinHasher(num_perm)
    t = best_of(lambda: h.signatures(texts, SHINGLE_SCANNER))
    out["codemill_from_text_docs_per_s"] = len(texts) / t
    out["codemill_from_text_mb_per_s"] = sum(len(x) for x in texts) / t / 1e6
    try:
        import rensa

        t = best_of(lambda: rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, num_perm, 42))
        out["rensa_shingles_per_s"] = n_sh / t
        out["rensa_version"] = version("rensa")
    except ImportError:
        out["rensa"] = "not installed"
    try:
        import datasketch

        sub = sh[:ds_docs]
        sub32 = [(s & 0xFFFFFFFF).astype(np.uint64) for s in sub]

        def run_ds():
            for s in sub32:
                m = datasketch.MinHash(num_perm=num_perm, hashfunc=int)
                m.update_batch(s)

        t = best_of(run_ds, repeat=1)
        out["datasketch_shingles_per_s"] = sum(len(s) for s in sub) / t
        out["datasketch_version"] = version("datasketch")
    except ImportError:
        out["datasketch"] = "not installed"
    for peer in ("rensa", "datasketch"):
        if f"{peer}_shingles_per_s" in out:
            for scheme in ("bucket", "mersenne"):
                out[f"ratio_{scheme}_vs_{peer}"] = (
                    out[f"codemill_{scheme}_shingles_per_s"] / out[f"{peer}_shingles_per_s"]
                )
    return out


# ---- quality: planted near-duplicates against brute-force exact Jaccard -------------------

_IDENT = re.compile(r"\b[a-z_][a-z0-9_]{3,}\b")


def plant(text: str, rng: random.Random, kind: str) -> str:
    lines = text.splitlines(keepends=True)
    if kind == "rename":
        names = sorted(set(_IDENT.findall(text)))
        for name in rng.sample(names, min(2, len(names))):
            text = re.sub(rf"\b{name}\b", name + "_x", text)
        return text
    if kind == "delete":
        for _ in range(max(1, len(lines) // 30)):
            del lines[rng.randrange(len(lines))]
        return "".join(lines)
    if kind == "add":
        for _ in range(max(1, len(lines) // 30)):
            lines.insert(rng.randrange(len(lines) + 1), f"    log('{rng.random():.6f}')\n")
        return "".join(lines)
    if kind == "reformat":
        text = text.replace("    ", "  ").replace(", ", ",").replace(" = ", "=")
        return text.replace("\n\n", "\n")
    raise ValueError(kind)


def quality(texts: list[str], planted: int, threshold: float, num_perm: int) -> dict:
    from scipy import sparse

    rng = random.Random(7)
    kinds = ["rename", "delete", "add", "reformat"]
    corpus = list(texts)
    for i in rng.sample(range(len(texts)), min(planted, len(texts))):
        k = rng.choice(kinds)
        corpus.append(plant(texts[i], rng, k))
    n = len(corpus)
    # Brute force: exact Jaccard of every pair via a sparse incidence product.
    sets = [_core.shingle_hashes(t, SHINGLE_SCANNER, 5, True) for t in corpus]
    allh, inverse = np.unique(np.concatenate(sets), return_inverse=True)
    rows = np.repeat(np.arange(n), [len(s) for s in sets])
    a = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, inverse)), shape=(n, len(allh)))
    inter = (a @ a.T).tocoo()
    size = np.array([len(s) for s in sets], dtype=np.float64)
    m = inter.row < inter.col
    i, j, x = inter.row[m], inter.col[m], inter.data[m].astype(np.float64)
    jac = x / (size[i] + size[j] - x)
    truth = {(int(p), int(q)) for p, q, v in zip(i, j, jac, strict=True) if v >= threshold}
    out = {"docs": n, "planted": planted, "true_pairs": len(truth), "threshold": threshold}
    exact_of = {(int(p), int(q)): float(v) for p, q, v in zip(i, j, jac, strict=True)}

    def pr(pred: set) -> dict:
        tp = len(pred & truth)
        return {
            "pairs": len(pred),
            "precision": round(tp / max(1, len(pred)), 4),
            "recall": round(tp / max(1, len(truth)), 4),
        }

    def pairs_of(res) -> set:
        return {(int(p), int(q)) for p, q in res.pairs}

    s_at = np.array([0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 0.95])
    # What dedup() does by default (recall_weight 0.95, borderline verify), with the estimate
    # filter alone (--estimate-only), with --verify, and
    # with datasketch's equal weights; exact dedup off so every pair is comparable.
    for label, rw in (("default", 0.95), ("datasketch_weights", 0.5)):
        for scheme in ("bucket", "mersenne"):
            kw = dict(threshold=threshold, num_perm=num_perm, scheme=scheme, exact=False, recall_weight=rw)
            res = dedup_texts(corpus, verify=False, **kw)
            raw = dedup_texts(corpus, verify=False, estimate_filter=False, **kw)
            ver = dedup_texts(corpus, verify=True, **kw)
            border = dedup_texts(corpus, verify="borderline", **kw)
            p = res.params
            entry = {
                "bands": p["bands"],
                "rows": p["rows"],
                "min_estimate": p["min_estimate"],
                "lsh_candidates": pr(pairs_of(raw)),
                "estimate_only": pr(pairs_of(res)),
                "dedup_verify": pr(pairs_of(ver)),
                "default_verify_borderline": pr(pairs_of(border)),
                "borderline_pairs_verified": border.counts["candidate_pairs_verified"],
                "all_pairs_verified": ver.counts["candidate_pairs_verified"],
                "skipped_by_window": res.counts["candidate_pairs_skipped_by_window"],
            }
            # P/R of the estimate filter at other margins, on the same candidates
            cand = raw.pairs
            est = _core.signature_estimates(raw.signatures, cand)
            entry["margin_sweep"] = {
                f"{m:.3f}": pr({(int(a), int(b)) for a, b in cand[est >= threshold - m]})
                for m in (0.0, threshold - p["min_estimate"], 0.02, 0.04, 0.08)
            }
            if rw == 0.95:
                # The estimate errors of one seed are correlated across pairs (shared
                # hash functions, families of similar files): show the spread over seeds.
                entry["seeds"] = {}
                for seed in (2, 3, 4):
                    r2 = dedup_texts(corpus, seed=seed, verify=False, **kw)
                    b2 = dedup_texts(corpus, seed=seed, verify="borderline", **kw)
                    entry["seeds"][seed] = {"estimate_only": pr(pairs_of(r2)), "borderline": pr(pairs_of(b2))}
            if rw == 0.95:
                # estimate error on pairs that overlap enough to matter
                sigs = res.signatures
                pairs = [(a, b) for (a, b), v in exact_of.items() if v >= 0.3]
                err = np.array([(sigs[a] == sigs[b]).mean() - exact_of[(a, b)] for a, b in pairs])
                entry["estimate_bias"] = float(err.mean()) if len(err) else None
                entry["estimate_rmse"] = float(np.sqrt((err**2).mean())) if len(err) else None
                entry["estimate_pairs"] = len(err)
            out[f"{scheme}_{label}"] = entry
            h = MinHasher(num_perm, threshold=threshold, bands=p["bands"], rows=p["rows"])
            out[f"s_curve_b{h.bands}_r{h.rows}"] = {
                f"{v:.2f}": round(float(q), 4) for v, q in zip(s_at, h.collision_probability(s_at), strict=True)
            }
    return out


def memory_child(n: int, num_perm: int) -> None:
    """Runs in a fresh process: peak RSS growth while signing n tiny documents."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per = 8
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, n * per, dtype=np.uint64)
    offsets = np.arange(0, n * per + 1, per, dtype=np.uint64)
    sigs = MinHasher(num_perm).signatures_from_hashes(hashes, offsets)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "docs": n, "num_perm": num_perm, "signature_bytes": int(sigs.nbytes),
        "input_bytes": int(hashes.nbytes + offsets.nbytes),
        "peak_rss_growth_bytes": int((peak - before) * 1024),
    }))  # fmt: skip


def memory(n: int, num_perm: int) -> dict:
    code = f"import benches.bench_dedup as b; b.memory_child({n}, {num_perm})"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if res.returncode:
        return {"error": res.stderr[-500:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--planted", type=int, default=400)
    ap.add_argument("--num-perm", type=int, default=256)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--datasketch-docs", type=int, default=60)
    ap.add_argument("--memory-docs", type=int, default=1_000_000)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", choices=("throughput", "quality", "memory"), action="append")
    args = ap.parse_args()
    texts = load_corpus(args.docs)
    parts = {
        "throughput": lambda: throughput(texts, args.num_perm, args.datasketch_docs),
        "quality": lambda: quality(texts, args.planted, args.threshold, args.num_perm),
        "memory": lambda: memory(args.memory_docs, args.num_perm),
    }
    report = {"machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}"}
    for name, run in parts.items():
        if not args.only or name in args.only:
            report[name] = run()
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
