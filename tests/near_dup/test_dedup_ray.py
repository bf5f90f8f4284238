"""The Ray engine returns the same signatures and clusters as the local engine."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs the optional 'ray' extra")

from codemill.near_dup.api import dedup_texts  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def corpus() -> list[str]:
    rng = random.Random(3)
    texts = [p.read_text(encoding="utf-8", errors="replace")[:8000] for p in
             sorted(STDLIB.glob("*.py"))[:40]]  # fmt: skip
    out = list(texts)
    for t in texts[:15]:
        lines = t.splitlines(keepends=True)
        del lines[rng.randrange(len(lines))]
        out.append("".join(lines))
    out.append(texts[0])
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("window", [64, 1])
def test_ray_matches_local(local_ray, window):
    texts = corpus()
    local = dedup_texts(texts, threshold=0.7, num_perm=128, bands=64, rows=2, window=window)
    for shards in (1, 3):
        remote = dedup_texts(texts, threshold=0.7, num_perm=128, bands=64, rows=2,
                             window=window, engine="ray", ray_shards=shards)  # fmt: skip
        assert np.array_equal(local.signatures, remote.signatures)
        assert np.array_equal(local.labels, remote.labels)
        assert np.array_equal(local.keep, remote.keep)
        assert local.clusters == remote.clusters
        assert local.counts == remote.counts
    if window == 1:
        assert local.counts["candidate_pairs_skipped_by_window"] > 0
    assert local.counts["near_duplicates_removed"] >= 10
