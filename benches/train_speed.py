"""Training speed: codemill's trainer beside HF tokenizers' BpeTrainer on the same text.

    python benches/train_speed.py [--mb 1] [--vocab-size 32768] [--core 0]

Both train on the same files (the train split of `benches/corpus.py`, `--mb` per language) at
the same total vocabulary size, pinned to one core; MB/s of training text (wall clock).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=1.0, help="training MB per language")
    ap.add_argument("--vocab-size", type=int, default=32768)
    ap.add_argument("--core", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    import corpus
    import tokenizers
    from codemill import CodeTokenizer
    from codemill.bench import peers as peer_mod

    train = corpus.load("train", int(args.mb * 1e6))
    docs = [(text, lang) for files in train.values() for _, text, lang in files]
    mb = sum(len(t.encode()) for t, _ in docs) / 1e6
    t = time.perf_counter()
    CodeTokenizer.train(docs, vocab_size=args.vocab_size)
    cm = time.perf_counter() - t
    t = time.perf_counter()
    peer_mod.train_hf_baseline([d for d, _ in docs], args.vocab_size)
    hf = time.perf_counter() - t
    load = os.getloadavg()[0]
    print(f"training on {mb:.1f} MB ({len(train)} languages), vocab {args.vocab_size}, one core (load {load:.1f})")
    print(f"codemill                 {mb / cm:7.2f} MB/s  ({cm:.1f} s)")
    print(f"HF BpeTrainer {tokenizers.__version__:<10} {mb / hf:7.2f} MB/s  ({hf:.1f} s)")


if __name__ == "__main__":
    main()
