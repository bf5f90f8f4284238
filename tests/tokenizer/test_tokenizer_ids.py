"""The bundled tokenizer's ids are pinned: a faster encoder must produce exactly the same ids.

`token_ids/expected.json` was computed with the encoder before the first-pass speed work
(see token_ids/README.md). A change here means the file format version must change too.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
from codemill import CodeTokenizer

# Not under fixtures/: tests that walk fixtures/ count its files.
IDS = Path(__file__).parent / "token_ids"
EXPECTED = json.loads((IDS / "expected.json").read_text(encoding="utf-8"))
FILES = sorted(k for k in EXPECTED if not k.startswith("@"))


@pytest.fixture(scope="module")
def bundled() -> CodeTokenizer:
    return CodeTokenizer.default()


def sha(ids: np.ndarray) -> str:
    return hashlib.sha256(ids.astype("<u4").tobytes()).hexdigest()


@pytest.mark.parametrize("name", FILES)
def test_ids_pinned_on_real_files(bundled: CodeTokenizer, name: str) -> None:
    want = EXPECTED[name]
    text = (IDS / name).read_text(encoding="utf-8")
    # Twice: the first call meets the file cold, the second through warm caches.
    for _ in range(2):
        ids = bundled.encode(text, want["language"])
        assert [int(x) for x in ids[:24]] == want["head"]
        assert (len(ids), sha(ids)) == (want["tokens"], want["sha256"])


@pytest.mark.parametrize("language", sorted(EXPECTED["@mix"]))
def test_ids_pinned_on_hard_cases(bundled: CodeTokenizer, language: str) -> None:
    rng = random.Random(12)
    atoms = ["self", ".", " ", "(", ")", "\n", "    ", "x", "_", "=", '"', "'", "#", "//", "/*", "*/", "é", "\t"]
    atoms += ["1", "ab", "getUserById", "\r\n", "\\", "`", "😀"]
    mix = "".join(rng.choice(atoms) for _ in range(20000))
    want = EXPECTED["@mix"][language]
    ids = bundled.encode(mix, language)
    assert (len(ids), sha(ids)) == (want["tokens"], want["sha256"])
    assert bundled.decode(ids) == mix
