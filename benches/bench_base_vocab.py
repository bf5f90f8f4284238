"""Base vocabularies, side by side on the same vocabulary: codemill vs tiktoken, HF tokenizers
and gigatoken, one core (the script re-runs itself under ``taskset -c 0``), over held-back
real code (stdlib, site-packages, the cargo registry). First pass = a fresh tokenizer object
(empty caches) over files it has never seen; steady = the same object again.

    python benches/bench_base_vocab.py [--mb 8] [--vocab cl100k|o200k|deepseek] [--json out.json]

Also checks, on the same files, that every peer's ids equal codemill's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "tokenizer"))

from base_data import LITELLM_TIKTOKEN, cl100k_file, deepseek_v3_file, litellm_file

SUFFIXES = (".py", ".rs", ".go", ".java", ".js", ".ts", ".c", ".h", ".cpp", ".cc", ".hpp")


def held_back_code(mb: float, seed: int = 7) -> list[str]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    cargo = Path.home() / ".cargo" / "registry" / "src"
    if cargo.exists():
        roots.append(cargo)
    files = [p for r in roots for p in r.rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    random.Random(seed).shuffle(files)
    texts, total = [], 0
    for f in files:
        try:
            t = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if not t or len(t) > 400_000:
            continue
        texts.append(t)
        total += len(t.encode())
        if total >= mb * 1e6:
            break
    return texts


def peers(vocab: str, workdir: Path) -> dict[str, Callable[[], Callable[[str], Any]]]:
    """name -> factory of a fresh encoder (text -> ids)."""
    from codemill import CodeTokenizer

    out: dict[str, Callable[[], Callable[[str], Any]]] = {}
    if vocab in ("cl100k", "o200k"):
        path = cl100k_file() if vocab == "cl100k" else litellm_file(LITELLM_TIKTOKEN["o200k_base"])
        if path is None:
            sys.exit(f"{vocab}: rank file unavailable")
        base = CodeTokenizer.from_tiktoken(path)
        out["codemill"] = lambda: CodeTokenizer.from_json(base.to_json()).encode
        import tiktoken
        from codemill import _core
        from codemill.tokenizer.tiktoken_files import read_ranks

        ranks = {t: i for i, t in enumerate(read_ranks(path)) if t is not None}
        pat = dict(_core.BaseTokenizer.split_patterns())[vocab]
        out["tiktoken"] = lambda: (
            tiktoken.Encoding(vocab, pat_str=pat, mergeable_ranks=ranks, special_tokens={}).encode_ordinary
        )
        hf_dir = workdir / "hf"
        base.save_pretrained(hf_dir)
        hf_json = hf_dir / "tokenizer.json"
        try:
            import gigatoken

            out["gigatoken"] = lambda: gigatoken.Tokenizer.from_tiktoken(path, pretokenizer=vocab).encode
        except ImportError:
            pass
    else:
        hf_json = deepseek_v3_file()
        if hf_json is None:
            sys.exit("DeepSeek-V3 tokenizer.json unavailable")
        local = workdir / "tokenizer.json"
        shutil.copyfile(hf_json, local)
        hf_json = local
        out["codemill"] = lambda: CodeTokenizer.from_huggingface(local).encode
        try:
            import gigatoken

            out["gigatoken"] = lambda: gigatoken.Tokenizer(local).encode
        except ImportError:
            pass
    import tokenizers

    def hf() -> Callable[[str], Any]:
        t = tokenizers.Tokenizer.from_file(str(hf_json))
        return lambda s: t.encode(s, add_special_tokens=False).ids

    out["HF tokenizers"] = hf
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    texts = held_back_code(args.mb)
    nbytes = sum(len(t.encode()) for t in texts)
    with tempfile.TemporaryDirectory() as tmp:
        factories = peers(args.vocab, Path(tmp))
        reference = [list(map(int, factories["codemill"]()(t))) for t in texts[: args.check]]
        agree = {}
        for name, make in factories.items():
            enc = make()
            agree[name] = all(list(map(int, enc(t))) == r for t, r in zip(texts, reference, strict=False))
        results: dict[str, dict[str, float]] = {}
        for name, make in factories.items():
            first, steady = [], []
            for _ in range(args.repeat):
                enc = make()
                t0 = time.perf_counter()
                for t in texts:
                    enc(t)
                first.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for t in texts:
                    enc(t)
                steady.append(time.perf_counter() - t0)
            results[name] = {
                "first_pass_mb_s": nbytes / statistics.median(first) / 1e6,
                "steady_mb_s": nbytes / statistics.median(steady) / 1e6,
            }
    cm = results["codemill"]
    for r in results.values():
        r["codemill_first_pass_ratio"] = cm["first_pass_mb_s"] / r["first_pass_mb_s"]
        r["codemill_steady_ratio"] = cm["steady_mb_s"] / r["steady_mb_s"]
    versions = {}
    for pkg in ("codemill", "tiktoken", "tokenizers", "gigatoken"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "source tree" if pkg == "codemill" else "absent"
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        "?",
    )
    return {
        "vocab": args.vocab,
        "files": len(texts),
        "bytes": nbytes,
        "repeat": args.repeat,
        "ids_agree_with_codemill": agree,
        "results": results,
        "versions": versions,
        "machine": f"{cpu}, {os.cpu_count()} cores, {platform.platform()}, pinned to one core (taskset -c 0)",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=8.0)
    ap.add_argument("--vocab", choices=("cl100k", "o200k", "deepseek"), default="cl100k")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--check", type=int, default=300, help="files on which ids are compared")
    ap.add_argument("--json")
    args = ap.parse_args()
    if os.environ.get("CODEMILL_PINNED") != "1" and shutil.which("taskset"):
        env = {**os.environ, "CODEMILL_PINNED": "1", "RAYON_NUM_THREADS": "1"}
        sys.exit(subprocess.call(["taskset", "-c", "0", sys.executable, *sys.argv], env=env))
    report = run(args)
    head = f"{args.vocab}: {report['files']} files, {report['bytes'] / 1e6:.1f} MB"
    print(f"| {head} | first pass MB/s | steady MB/s | codemill ×, first | codemill ×, steady | ids agree |")
    print("|---|---|---|---|---|---|")
    for name, r in report["results"].items():
        version = report["versions"].get(name.split()[0].lower(), "")
        agree = report["ids_agree_with_codemill"][name]
        print(
            f"| {name} {version} | {r['first_pass_mb_s']:.1f} | {r['steady_mb_s']:.1f} | "
            f"{r['codemill_first_pass_ratio']:.2f} | {r['codemill_steady_ratio']:.2f} | {agree} |"
        )
    print(report["machine"])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
