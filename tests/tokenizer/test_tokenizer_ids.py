"""The bundled tokenizer's ids are pinned, for both encodings of its vocabulary.

- ``token_ids/expected.json``: the ids of the vocabulary as a ``codemill-tokenizer/1`` file
  (merges replayed), computed with the encoder as it was before the first-pass speed work
  (see token_ids/README.md). Every later ``/1`` encoder must give exactly these.
- ``token_ids/expected_v2.json``: the ids of the vocabulary as a ``codemill-tokenizer/2`` file
  (longest match with one token of lookahead after every longest token), pinned when that
  encoding landed.
- ``token_ids/expected_v3.json``: the ids of the bundled ``codemill-tokenizer/3`` file (the
  lookahead only after the tokens its list names), pinned when that encoding landed.

A change to any of them means the file format version must change too.
"""

from __future__ import annotations

import hashlib
import json
import random
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from codemill import CodeTokenizer
from codemill.tokenizer.code_tokenizer import DEFAULT_TOKENIZER

# Not under fixtures/: tests that walk fixtures/ count its files.
IDS = Path(__file__).parent / "token_ids"
EXPECTED = {
    "merges": json.loads((IDS / "expected.json").read_text(encoding="utf-8")),
    "lookahead": json.loads((IDS / "expected_v2.json").read_text(encoding="utf-8")),
    "weighed": json.loads((IDS / "expected_v3.json").read_text(encoding="utf-8")),
}
BUNDLED = resources.files("codemill") / "data" / DEFAULT_TOKENIZER
FILES = sorted(k for k in EXPECTED["merges"] if not k.startswith("@"))


def as_format(text: str, version: int) -> str:
    """The bundled file as the ``/1`` or ``/2`` file it was: the same vocabulary, merges
    replayed, or every second candidate weighed."""
    v = json.loads(text)
    v["format"] = f"codemill-tokenizer/{version}"
    del v["lookahead"]
    if version == 1:
        v["pretokenizer"]["max_chunk_bytes"] = 256
    return json.dumps(v)


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CodeTokenizer]:
    bundled = BUNDLED.read_text(encoding="utf-8")
    old = {}
    for version in (1, 2):
        path = tmp_path_factory.mktemp(f"v{version}") / "codemill-code-32k.json"
        path.write_text(as_format(bundled, version), encoding="utf-8")
        old[version] = CodeTokenizer.load(path)
    return {"merges": old[1], "lookahead": old[2], "weighed": CodeTokenizer.default()}


def sha(ids: np.ndarray) -> str:
    return hashlib.sha256(ids.astype("<u4").tobytes()).hexdigest()


def mix() -> str:
    rng = random.Random(12)
    atoms = ["self", ".", " ", "(", ")", "\n", "    ", "x", "_", "=", '"', "'", "#", "//", "/*", "*/", "é", "\t"]
    atoms += ["1", "ab", "getUserById", "\r\n", "\\", "`", "😀"]
    return "".join(rng.choice(atoms) for _ in range(20000))


@pytest.mark.parametrize("encoding", ["merges", "lookahead", "weighed"])
@pytest.mark.parametrize("name", FILES)
def test_ids_pinned_on_real_files(tokenizers: dict[str, CodeTokenizer], encoding: str, name: str) -> None:
    want = EXPECTED[encoding][name]
    text = (IDS / name).read_text(encoding="utf-8")
    # Twice: the first call meets the file cold, the second through warm caches.
    for _ in range(2):
        ids = tokenizers[encoding].encode(text, want["language"])
        assert [int(x) for x in ids[:24]] == want["head"]
        assert (len(ids), sha(ids)) == (want["tokens"], want["sha256"])


@pytest.mark.parametrize("language", sorted(EXPECTED["merges"]["@mix"]))
def test_ids_pinned_on_hard_cases(tokenizers: dict[str, CodeTokenizer], language: str) -> None:
    text = mix()
    for encoding, tok in tokenizers.items():
        # Lookahead ids do not depend on the language: one pin serves them all.
        want = EXPECTED[encoding]["@mix"][language if encoding == "merges" else "any"]
        ids = tok.encode(text, language)
        assert (len(ids), sha(ids)) == (want["tokens"], want["sha256"]), encoding
        assert tok.decode(ids) == text


def test_bundled_file_is_format_3_and_encodes_in_fewer_tokens(tokenizers: dict[str, CodeTokenizer]) -> None:
    assert json.loads(BUNDLED.read_text(encoding="utf-8"))["format"] == "codemill-tokenizer/3"
    total = {encoding: 0 for encoding in EXPECTED}
    for name in FILES:
        tokens = {encoding: EXPECTED[encoding][name]["tokens"] for encoding in EXPECTED}
        assert tokens["lookahead"] < tokens["merges"], name
        assert tokens["weighed"] < tokens["merges"], name
        for encoding, n in tokens.items():
            total[encoding] += n
    # The lookahead kept after fewer tokens costs well under the 0.5% the encoding may cost.
    assert total["lookahead"] <= total["weighed"] <= total["lookahead"] * 1.005


def test_token_to_id_is_the_id_encoding_gives(tokenizers: dict[str, CodeTokenizer]) -> None:
    """Seven identifier entries share their bytes with a merge (``PORT``): under ``/2`` the merge,
    which matches anywhere, is the one encoding produces, and the one ``token_to_id`` names."""
    tok = tokenizers["lookahead"]
    shared = 0
    for i in range(256, 256 + 1024):
        text = tok.decode([i])
        ids = tok.encode(text, "generic")
        if len(ids) == 1:
            assert int(ids[0]) == tok.token_to_id(text), text
            shared += int(ids[0]) != i
    assert shared > 0
    assert tok.token_to_id("PORT") in [int(x) for x in tok.encode("MY_PORT = 1")]
