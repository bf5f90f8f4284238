"""Deterministic cost of a first encode pass: to judge a change of a few percent on a noisy machine.

    cargo build --release --example encode_stats                  # once per build to compare,
    cp target/release/examples/encode_stats /tmp/es_before        # e.g. before and after a change
    python benches/encode_cost.py /tmp/es_before target/release/examples/encode_stats [--mb 2]

Wall-time A/B rounds of the same binary on this project's shared 2-core VMs varied by up to 1.5x
between runs (and by ±20% even with A and B running side by side on the two cores), so a
change worth 5% cannot be seen in them. This runs each `examples/encode_stats` binary under
valgrind's cachegrind, with branch prediction and caches simulated (the last level set to this
host's L2), over the held-back files of `benches/corpus.py` (those `first_pass.py` encodes),
and prints what does not depend on load: instructions, mispredicted conditional branches, L1 and
L2 data misses, and a rough cycle estimate from them (weights below). The tokenizer's load is
measured alone (no encode pass) and subtracted. The estimate is a guide, not a clock: it
matched the measured first pass within ~20% on the 2-core x86 VMs, and cachegrind's branch
predictor is simpler than a real one. Wall time, measured by `first_pass.py`, decides in the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

TOKENIZER = Path(__file__).parent.parent / "python" / "codemill" / "data" / "codemill-code-32k.json"
# Cycles per event, for a ~3 GHz x86 core: instructions retire ~2.5 a cycle in this code, a
# mispredicted branch costs ~18 cycles, an L1 miss that hits L2 ~14, an L2 miss ~60 (L3).
WEIGHTS = {"Ir": 0.4, "Bcm": 18.0, "D1mr": 14.0, "LLdmr": 60.0}
EVENTS = {"Ir": r"I\s+refs", "Bcm": r"Mispredicts", "D1mr": r"D1\s+misses", "LLdmr": r"LLd misses"}


def l2_config() -> list[str]:
    """cachegrind's --LL option for this host's L2 (its last level would otherwise be L3)."""
    base = Path("/sys/devices/system/cpu/cpu0/cache/index2")
    try:
        size = (base / "size").read_text().strip()
        ways = int((base / "ways_of_associativity").read_text())
        line = int((base / "coherency_line_size").read_text())
    except (OSError, ValueError):
        return []
    unit = {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
    nbytes = int(size.rstrip("KM")) * unit
    sets = nbytes // max(1, ways * line)
    if sets <= 0 or sets & (sets - 1):
        return []  # cachegrind needs a power-of-two number of sets
    return [f"--LL={nbytes},{ways},{line}"]


def cost(binary: str, files: list[str], passes: int) -> dict[str, int]:
    env = dict(os.environ, NO_STATS="1", PASSES=str(passes))
    cmd = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=yes",
        "--branch-sim=yes",
        *l2_config(),
        "--cachegrind-out-file=/dev/null",
        binary,
        str(TOKENIZER),
        *files,
    ]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"{binary}: exited with {run.returncode}: {run.stderr.strip().splitlines()[-1:]}")
    out = {}
    for name, pattern in EVENTS.items():
        m = re.search(pattern + r":\s+([\d,]+)", run.stderr)
        if m is None:
            sys.exit(f"{binary}: no {name} total in valgrind's output")
        out[name] = int(m.group(1).replace(",", ""))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binaries", nargs="+", help="examples/encode_stats builds to compare")
    ap.add_argument("--mb", type=float, default=2.0, help="held-back MB per language")
    ap.add_argument("--passes", type=int, default=1, help="encode passes (1: the first pass)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found: apt-get install valgrind")
    for b in args.binaries:
        if not os.access(b, os.X_OK):
            sys.exit(f"{b}: not an executable (cargo build --release --example encode_stats)")
    import corpus

    data = corpus.load("test", int(args.mb * 1e6))
    if not data:
        sys.exit("benchmark sources missing: run benches/fetch_corpus.sh")
    files = [path for docs in data.values() for path, _, _ in docs]
    mb = sum(Path(f).stat().st_size for f in files) / 1e6
    print(f"{len(files)} held-back files, {mb:.1f} MB; {args.passes} pass(es); weights {WEIGHTS}")
    print(f"{'binary':40} {'Ir':>8} {'mispred':>8} {'L1 miss':>8} {'L2 miss':>8} {'cycles':>8} {'vs first':>8}")
    first = None
    for b in args.binaries:
        load, total = cost(b, files, 0), cost(b, files, args.passes)
        enc = {k: total[k] - load[k] for k in total}
        cycles = sum(WEIGHTS[k] * v for k, v in enc.items())
        first = cycles if first is None else first
        print(
            f"{b[-40:]:40} {enc['Ir'] / 1e6:7.0f}M {enc['Bcm'] / 1e6:7.2f}M {enc['D1mr'] / 1e6:7.2f}M "
            f"{enc['LLdmr'] / 1e6:7.2f}M {cycles / 1e6:7.0f}M {cycles / first:7.3f}x"
        )


if __name__ == "__main__":
    main()
