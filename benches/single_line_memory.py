"""Peak memory of encoding one huge single-line file (issue 12's target: under 200 MB for 20 MB).

    python benches/single_line_memory.py [--mb 20] [--json]

Each input is generated (deterministic, seed 0) and written to a temporary file; a fresh Python
process loads the bundled tokenizer, reads the file and encodes it in one call, and its peak
RSS (VmHWM) is reported beside the same process's peak before the encode (import, load
and read alone), so the encoder's own share shows. Inputs: random minified JavaScript (one line
of statements, identifiers and string literals) and random punctuation (no line break, no
identifier: the chunker's worst case, every chunk cut by the 256-byte cap).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import re, sys, time
from codemill.tokenizer import load_tokenizer
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's RSS at fork (kept over exec).
peak = lambda: int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
tok = load_tokenizer(None)
loaded = peak()
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8")
del data
before = peak()
t = time.perf_counter()
ids = tok.encode(text, sys.argv[2])
seconds = time.perf_counter() - t
after = peak()
assert tok.decode(ids) == text, "not lossless"
print(loaded, before, after, len(ids), seconds)
"""


def minified_js(n: int, rng: random.Random) -> str:
    words = ["var", "function", "return", "this", "if", "else", "new", "null", "length", "push"]
    parts: list[str] = []
    size = 0
    while size < n:
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_$") for _ in range(rng.randint(1, 8)))
        s = rng.choice(
            [
                f"{rng.choice(words)} {name}={rng.randint(0, 99999)};",
                f"{name}({name}.{rng.choice(words)},'{name}{rng.randint(0, 999)}');",
                f"if({name}>{rng.random():.3f}){{{name}++}}",
                f"{name}=[{','.join(str(rng.randint(0, 9)) for _ in range(rng.randint(1, 6)))}];",
            ]
        )
        parts.append(s)
        size += len(s)
    return "".join(parts)[:n]


def punctuation(n: int, rng: random.Random) -> str:
    return "".join(rng.choice("{}()[];:,.+-*/%&|^!~<>=?#@") for _ in range(n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = int(args.mb * 1e6)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = [("minified JS", minified_js), ("punctuation", punctuation)]
        for name, make in inputs:
            path = Path(tmp) / "input.txt"
            path.write_text(make(n, random.Random(0)), encoding="utf-8")
            t = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), "javascript"], capture_output=True, text=True, check=False
            )
            if run.returncode != 0:
                sys.exit(f"{name}: the encoding process failed: {run.stderr.strip().splitlines()[-1:]}")
            loaded_kb, before_kb, peak_kb, tokens, seconds = run.stdout.split()
            rows.append(
                {
                    "input": name,
                    "mb": args.mb,
                    "peak_rss_mb": int(peak_kb) / 1024,
                    "import_and_load_mb": int(loaded_kb) / 1024,
                    "before_encode_mb": int(before_kb) / 1024,
                    "tokens": int(tokens),
                    "encode_s": float(seconds),
                    "process_s": time.perf_counter() - t,
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(
            f"{r['input']:12} {r['mb']:.0f} MB, one line: peak RSS {r['peak_rss_mb']:.0f} MB "
            f"(import + load {r['import_and_load_mb']:.0f} MB, + read {r['before_encode_mb']:.0f} MB), "
            f"{r['tokens']:,} tokens, "
            f"encode {r['encode_s']:.2f} s"
        )


if __name__ == "__main__":
    main()
