"""DedupConfig (one validated set of parameters) and dedup's all-or-nothing output directory."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import codemill.near_dup.output as output
import pytest
from codemill.errors import CodemillError, ConfigError, OutputError
from codemill.near_dup.api import dedup, dedup_texts
from codemill.near_dup.config import DedupConfig
from codemill.near_dup.minhash import MinHasher

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": 1.5}, "threshold must be strictly between 0 and 1"),
        ({"num_perm": 0}, "num_perm must be between 1 and 65536, got 0"),
        ({"num_perm": 10_000_000}, "num_perm must be between 1 and 65536"),  # not a search of hours first
        ({"ngram": 0}, "ngram must be between 1 and"),
        ({"bands": 4}, "give both bands and rows"),
        ({"bands": 64, "rows": 8}, "at most num_perm"),
        ({"recall_weight": 1.0}, "recall_weight"),
        ({"scheme": "nope"}, "unknown scheme 'nope'"),
        ({"verify": "some"}, "verify must be True, False or 'borderline'"),
        ({"keep": "middle"}, "unknown keep policy 'middle'"),
        ({"window": 0}, "window must be between 1 and"),
        ({"window": 2**64}, "window must be between 1 and"),  # not "int too big to convert" once read
        ({"margin": -0.1}, "margin must not be negative"),
    ],
)
def test_bad_parameters_name_themselves(options, message):
    with pytest.raises(ConfigError, match=message) as info:
        DedupConfig(**options)
    assert isinstance(info.value, CodemillError) and "--" not in str(info.value)


def test_a_text_the_core_cannot_take_is_named_by_its_index():
    texts = ["x = 1\n"] * 5 + ["bad \ud800 text"] + ["y = 2\n"] * 5
    with pytest.raises(ConfigError, match=r"texts\[5\]: a lone surrogate at character 4"):
        dedup_texts(texts)
    texts[5] = None
    with pytest.raises(ConfigError, match=r"texts\[5\]: not a str but NoneType"):
        dedup_texts(texts)
    with pytest.raises(TypeError, match="float"):  # not the texts' fault: the error as it came
        dedup_texts(["x = 1\n"], num_perm=128.0)


def test_options_replace_fields_of_a_config():
    base = DedupConfig(threshold=0.8, keep="longest")
    assert DedupConfig.of(base, verify=False) == DedupConfig(threshold=0.8, keep="longest", verify=False)
    assert DedupConfig.of(base) is base
    with pytest.raises(ConfigError, match="unknown dedup option"):
        DedupConfig.of(base, treshold=0.5)
    texts = ["def f(x):\n    return x + 1\n" * 20, "def g():\n    pass\n" * 20]
    res = dedup_texts(texts, base, verify=True)
    assert res.params["threshold"] == 0.8 and res.params["keep"] == "longest" and res.params["verify"] is True


def test_params_record_resolved_lsh_and_filter():
    c = DedupConfig(verify=False)
    h = MinHasher.from_config(c)
    p = c.params("ray")
    assert (p["bands"], p["rows"]) == (h.bands, h.rows) == c.bands_rows
    assert p["min_estimate"] == pytest.approx(c.threshold - h.default_margin(), abs=1e-6)
    assert p["estimate_filter"] is True and p["engine"] == "ray"
    assert DedupConfig().params()["min_estimate"] is None, "verify decides: no estimate filter"
    assert DedupConfig(verify=1).verify is True  # type: ignore[arg-type]


def _tree(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    texts = [p.read_text(encoding="utf-8") for p in sorted(STDLIB.glob("*.py"))[:3]]
    for i, t in enumerate(texts):
        (src / f"m{i}.py").write_text(t)
    (src / "copy.py").write_text(texts[0])
    return src


def test_output_is_replaced_whole(tmp_path):
    src = _tree(tmp_path)
    out = tmp_path / "out"
    dedup(src, out)
    (out / "src" / "stale.py").write_text("left from an earlier run")
    report = dedup(src, out, keep="last")  # the walk is sorted: copy.py comes first
    assert sorted(p.name for p in (out / "src").iterdir()) == ["m0.py", "m1.py", "m2.py"]
    assert json.loads((out / "dedup_report.json").read_text()) == report
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging left behind"


def test_interrupted_run_leaves_the_previous_output(tmp_path, monkeypatch):
    src = _tree(tmp_path)
    out = tmp_path / "out"
    first = dedup(src, out)

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "atomic_write_json", fail)
    with pytest.raises(KeyboardInterrupt):
        dedup(src, out, keep="last")
    assert json.loads((out / "dedup_report.json").read_text()) == first
    assert sorted(p.name for p in (out / "src").iterdir()) == ["copy.py", "m1.py", "m2.py"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_output_that_is_not_ours_is_refused(tmp_path):
    src = _tree(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("precious")
    with pytest.raises(OutputError, match="not written by `codemill dedup`; pass overwrite=True"):
        dedup(src, other)
    with pytest.raises(OutputError, match="the output is the input"):
        dedup(src, src)
    with pytest.raises(OutputError, match="inside the input"):
        dedup(src, src / "out")
    assert (other / "keep.txt").read_text() == "precious"
    assert not (src / "out").exists()
    dedup(src, other, overwrite=True)  # asked for: replaced as a whole
    assert not (other / "keep.txt").exists() and (other / "dedup_report.json").is_file()


def test_seed_and_size_limit_out_of_range_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="seed must be between 0 and 2"):
        DedupConfig(seed=1 << 70)
    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="max_file_bytes must be positive"):
        dedup(tmp_path, max_file_bytes=0)
