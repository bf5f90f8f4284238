"""The `codemill` command: train, encode, decode, tokenize, bench; errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from codemill.cli import main
from conftest import FIXTURES, STDLIB


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_encode_decode(tmp_path, capsys) -> None:
    out_path = tmp_path / "tok.json"
    code, out, _ = run(capsys, "train", str(STDLIB / "json"), "-o", str(out_path), "--vocab-size", "1000", "--json")
    assert code == 0 and json.loads(out)["vocab_size"] == 1000
    src = FIXTURES / "sample.go"
    _, out, _ = run(capsys, "encode", "--tokenizer", str(out_path), str(src), "--json")
    record = json.loads(out)
    assert record["language"] == "go" and record["ids"]
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(out)
    code, out, _ = run(capsys, "decode", "--tokenizer", str(out_path), str(ids_file))
    assert out == src.read_text()
    code, out, _ = run(capsys, "encode", str(src), "--format", "pieces")
    assert "'package'" in out.splitlines()


def test_decode_reads_what_encode_json_prints_for_many_files(tmp_path, capsys) -> None:
    # encode --json prints a line per file; decode took the whole text as one object and said
    # "not JSON with an 'ids' list". A name that is not UTF-8 went out raw, breaking the JSON.
    a, b = tmp_path / "a.py", tmp_path / "b\udce9.py"
    a.write_text("x = 1\n")
    b.write_text("def f():\n    return 2\n")
    code, out, _ = run(capsys, "encode", str(a), str(b), "--json")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["file"].endswith("b\\xe9.py")
    out.encode("utf-8")  # (a lone surrogate in it would not encode)
    ids = tmp_path / "enc.jsonl"
    ids.write_text(out)
    code, decoded, err = run(capsys, "decode", str(ids))
    assert (code, decoded) == (0, "x = 1\ndef f():\n    return 2\n"), err
    ids.write_text(lines[0] + "\n{oops\n")
    code, _, err = run(capsys, "decode", str(ids))
    assert code == 2 and "enc.jsonl:2: not JSON" in err


def test_encode_allowed_special_spelled_as_tokenize_spells_it(tmp_path, capsys) -> None:
    text = tmp_path / "t.txt"
    text.write_text("a<|endoftext|>b")
    got = {}
    for value in ("none", "all", "<|endoftext|>"):
        code, out, _ = run(capsys, "encode", "--allowed-special", value, str(text))
        assert code == 0
        got[value] = out.split()
    assert got["all"] == got["<|endoftext|>"] and len(got["none"]) > len(got["all"])
    assert run(capsys, "encode", str(text))[1].split() == got["none"]  # the default: none


def test_tokenize_report(capsys) -> None:
    code, out, _ = run(capsys, "tokenize", str(FIXTURES), "--json")
    report = json.loads(out)
    assert code == 0 and report["documents"] == len(list(FIXTURES.glob("sample.*")))
    assert set(report["languages"]) >= {"python", "go", "rust", "java", "c", "cpp", "typescript", "javascript"}
    assert report["tokens"] > 0 and report["bytes_per_token"] > 3
    code, out, _ = run(capsys, "tokenize", str(FIXTURES))
    assert "bytes/token" in out and "total" in out


def test_bench_small(capsys) -> None:
    code, out, _ = run(capsys, "bench", str(FIXTURES), "--repeat", "1", "--json")
    assert code == 0
    report = json.loads(out)
    names = [r["name"] for r in report["results"]]
    assert names[0] == "codemill" and "tiktoken (same vocab)" in names and "pure-python (same vocab)" in names
    tik = next(r for r in report["results"] if r["name"].startswith("tiktoken"))
    assert tik["codemill_speedup"] > 0 and tik["bytes"] == report["results"][0]["bytes"]


def test_bench_warms_a_fresh_encoder_per_language_before_its_first_pass() -> None:
    # A peer's one-time start-up is not a first pass over code: every encoder meets the same
    # unrelated prose before the timed calls. And each language gets a fresh encoder: with one
    # for all, the second language met caches the first had warmed.
    from codemill.bench.benchmark import _measure, warm_text

    warm = warm_text()
    assert len(warm) > 1000 and "def " not in warm[:1000]
    calls: list[tuple[int, str, str]] = []
    made: list[int] = []

    def make():
        made.append(len(made))
        me = made[-1]

        def encode(text: str, lang: str) -> int:
            calls.append((me, text, lang))
            return len(text)

        return encode

    r = _measure("fake", make, {"python": ["a = 1\n"], "rust": ["fn f() {}\n"]}, 1, warm)
    python = [(0, warm, "generic"), (0, "a = 1\n", "python"), (0, "a = 1\n", "python")]
    rust = [(1, warm, "generic"), (1, "fn f() {}\n", "rust"), (1, "fn f() {}\n", "rust")]
    assert calls == [*python, *rust]
    assert r["bytes"] == 16 and r["languages"]["python"]["tokens"] == 6
    # No repeats: no steady-state figure rather than the first pass under that name.
    r = _measure("fake", make, {"python": ["a = 1\n"]}, 0, warm)
    assert r["mb_per_s"] is None and r["languages"]["python"]["mb_per_s"] is None and r["first_pass_mb_per_s"] > 0


def test_bench_says_which_peers_did_not_run(capsys, monkeypatch) -> None:
    # A peer that cannot be built is named with why; before, a missing tiktoken crashed the run
    # when gigatoken was there, and a missing gigatoken dropped tiktoken (cl100k) silently.
    from codemill.bench import peers

    def missing() -> None:
        raise ImportError("tiktoken is needed for this comparison")

    monkeypatch.setattr(peers, "tiktoken_cl100k", missing)
    monkeypatch.setattr(peers, "tiktoken_encoding", lambda tok: missing())
    # gigatoken missing too (as on a machine without it): the same whether it is installed or not
    monkeypatch.setattr(peers, "gigatoken_encoding", missing)
    code, out, _ = run(capsys, "bench", str(FIXTURES / "sample.py"), "--repeat", "0", "--no-python", "--json")
    assert code == 0
    report = json.loads(out)
    assert set(report["peers_not_run"]) == {"tiktoken (same vocab)", "tiktoken (cl100k)", "gigatoken (cl100k)"}
    assert all(r["codemill_speedup"] is None for r in report["results"][1:])  # no steady state
    code, out, _ = run(capsys, "bench", str(FIXTURES / "sample.py"), "--repeat", "0", "--no-python")
    assert "tiktoken (cl100k)" in out and "not run: tiktoken is needed" in out


def test_bench_plot(tmp_path, capsys) -> None:
    png = tmp_path / "bench.png"
    code, out, _ = run(capsys, "bench", str(FIXTURES / "sample.py"), "--repeat", "0", "--no-python", "--plot", str(png))
    assert code == 0 and "bytes per token" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Its own plot is replaced; a file it did not write is refused before the benchmark runs.
    again = ("bench", str(FIXTURES / "sample.py"), "--repeat", "0", "--no-python", "--no-tiktoken", "--plot")
    assert run(capsys, *again, str(png))[0] == 0
    other = tmp_path / "notes.png"
    other.write_bytes(b"mine")
    code, _, err = run(capsys, *again, str(other))
    assert code == 2 and "notes.png" in err and "--overwrite" in err and other.read_bytes() == b"mine"


def test_bench_trains_peers_on_same_data(tmp_path, capsys) -> None:
    code, out, _ = run(
        capsys,
        "bench",
        str(STDLIB / "json" / "decoder.py"),
        "--train-on",
        str(STDLIB / "json"),
        "--repeat",
        "0",
        "--no-python",
        "--no-tiktoken",
        "--json",
    )
    assert code == 0
    names = [r["name"] for r in json.loads(out)["results"]]
    assert "hf-gpt4-regex (same data)" in names and "codemill (same data)" in names


def test_errors_are_one_line(tmp_path, capsys) -> None:
    code, _, err = run(capsys, "encode", "--tokenizer", str(tmp_path / "nope.json"), str(FIXTURES / "sample.py"))
    assert code == 2 and "nope.json" in err and "Traceback" not in err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe")
    code, _, err = run(capsys, "encode", str(bad))
    assert code == 2 and "bad.txt: not UTF-8" in err
    code, _, err = run(capsys, "encode", "--language", "cobol", str(FIXTURES / "sample.py"))
    assert code == 2 and "unknown language" in err
    code, _, err = run(capsys, "tokenize", str(tmp_path / "missing"))
    assert code == 2 and "missing: no such file or directory" in err
    ids = tmp_path / "ids.txt"
    ids.write_text("1 2 x")
    code, _, err = run(capsys, "decode", str(ids))
    assert code == 2 and "ids.txt: token ids must be integers" in err
    ids.write_text('{"ids": [65, 66.9, true]}')  # not truncated to 66 and 1
    code, _, err = run(capsys, "decode", str(ids))
    assert code == 2 and "ids.txt: 'ids' must be a list of integers" in err


@pytest.mark.slow
def test_console_script_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codemill.cli", "encode", "--language", "python"],
        input="x = 1\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip().split()


def test_encode_decode_a_custom_tiktoken_file_with_its_pattern(tmp_path, capsys) -> None:
    import base64

    ranks = tmp_path / "bytes.tiktoken"  # an encoding codemill does not recognise: 256 byte ranks
    ranks.write_text("".join(f"{base64.b64encode(bytes([i])).decode()} {i}\n" for i in range(256)))
    text = tmp_path / "t.txt"
    text.write_text("hi there")
    code, _, err = run(capsys, "encode", "--tokenizer", str(ranks), str(text))
    assert code == 2 and "give its split pattern" in err
    code, out, _ = run(capsys, "encode", "--tokenizer", str(ranks), "--pattern", r"\w+|\s+", str(text))
    assert code == 0 and out.split() == [str(b) for b in b"hi there"]
    ids = tmp_path / "ids.txt"
    ids.write_text(out)
    code, out, _ = run(capsys, "decode", "--tokenizer", str(ranks), "--pattern", r"\w+|\s+", str(ids))
    assert code == 0 and out == "hi there"


def test_bench_argument_errors_are_one_line_before_the_run(tmp_path, capsys, monkeypatch) -> None:
    from codemill.bench import peers

    src = str(FIXTURES / "sample.py")
    code, _, err = run(capsys, "bench", src, "--peer", str(tmp_path / "nope.json"))
    assert code == 2 and "--peer" in err and "nope.json" in err and "Traceback" not in err
    code, _, err = run(capsys, "bench", src, "--plot", "")
    assert code == 2 and "--plot" in err
    real = peers._require

    def no_tokenizers(module: str, extra: str = "bench"):
        if module == "tokenizers":
            raise ImportError("tokenizers is needed for this comparison")
        return real(module, extra)

    monkeypatch.setattr(peers, "_require", no_tokenizers)
    measured = []
    monkeypatch.setattr("codemill.bench.benchmark._measure", lambda *a, **k: measured.append(a))
    code, _, err = run(capsys, "bench", src, "--train-on", str(FIXTURES))
    assert code == 2 and "--train-on: tokenizers is needed" in err and "Traceback" not in err
    assert measured == []  # refused before any measurement


def test_a_tokenizer_url_is_read_from_its_store(s3_server, bucket, small_tok, tmp_path, capsys, monkeypatch) -> None:
    import base64

    from codemill.errors import CodemillError
    from codemill.tokenizer import CodeTokenizer, load_tokenizer

    # It was taken as a local path: `s3:/b/tok.json: no such file or directory`, and a folder
    # named `s3:` where the command ran was read instead.
    small_tok.save(tmp_path / "tok.json")
    s3_server.upload_file(str(tmp_path / "tok.json"), bucket, "tokenizers/tok.json")
    url = f"s3://{bucket}/tokenizers/tok.json"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s3:" / bucket / "tokenizers").mkdir(parents=True)
    CodeTokenizer.default().save(tmp_path / "s3:" / bucket / "tokenizers" / "tok.json")
    assert load_tokenizer(url).hash == small_tok.hash and CodeTokenizer.load(url).hash == small_tok.hash
    code, out, err = run(capsys, "tokenize", "--tokenizer", url, str(FIXTURES / "sample.py"), "-o", "out", "--json")
    assert code == 0, err
    assert json.loads(out)["tokenizer"]["hash"] == small_tok.hash
    # Recognised by its name as a local file is: a .tiktoken rank file, with its pattern.
    ranks = "".join(f"{base64.b64encode(bytes([i])).decode()} {i}\n" for i in range(256))
    s3_server.put_object(Bucket=bucket, Key="bytes.tiktoken", Body=ranks.encode())
    tok = load_tokenizer(f"s3://{bucket}/bytes.tiktoken", r"\w+|\s+")
    assert tok.encode("hi there").tolist() == list(b"hi there")
    with pytest.raises(CodemillError, match=rf"^s3://{bucket}/bytes.tiktoken: unknown tiktoken encoding"):
        load_tokenizer(f"s3://{bucket}/bytes.tiktoken")
    # A file that is no tokenizer is named as given, not as its copy.
    s3_server.put_object(Bucket=bucket, Key="notes.json", Body=b"not json")
    code, _, err = run(capsys, "encode", "--tokenizer", f"s3://{bucket}/notes.json", str(FIXTURES / "sample.py"))
    assert code == 2 and err.count("\n") == 1 and f"s3://{bucket}/notes.json: not JSON" in err
    assert "codemill-tokenizer-" not in err


def test_a_missing_tokenizer_url_is_one_line_naming_it(s3_server, bucket, capsys) -> None:
    src = str(FIXTURES / "sample.py")
    for url, words in [
        (f"s3://{bucket}/tok.json", "no such bucket or object"),
        (f"s3://{bucket}-none/tok.json", "no such bucket or object"),
    ]:
        code, _, err = run(capsys, "encode", "--tokenizer", url, src)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert f"{url}: {words}" in err
    # A folder of a saved tokenizer is no file to fetch: said so, with what to name.
    s3_server.put_object(Bucket=bucket, Key="model/tokenizer.json", Body=b"{}")
    code, _, err = run(capsys, "encode", "--tokenizer", f"s3://{bucket}/model", src)
    assert code == 2 and err.count("\n") == 1
    assert f"s3://{bucket}/model: is a folder; name the tokenizer file in it" in err
