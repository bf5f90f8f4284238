"""The bundled tokenizer's ids are pinned, for both encodings of its vocabulary.

- ``token_ids/expected.json``: the ids of the vocabulary as a ``codemill-tokenizer/1`` file
  (merges replayed), computed with the encoder as it was before the first-pass speed work
  (see token_ids/README.md). Every later ``/1`` encoder must give exactly these.
- ``token_ids/expected_v2.json``: the ids of the bundled ``codemill-tokenizer/2`` file (longest
  match with one token of lookahead), pinned when that encoding landed.

A change to either means the file format version must change too.
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
}
BUNDLED = resources.files("codemill") / "data" / DEFAULT_TOKENIZER
FILES = sorted(k for k in EXPECTED["merges"] if not k.startswith("@"))


def as_format_1(text: str) -> str:
    """The bundled file as the ``/1`` file it was: the same vocabulary, merges replayed."""
    v = json.loads(text)
    v["format"] = "codemill-tokenizer/1"
    v["pretokenizer"]["max_chunk_bytes"] = 256
    return json.dumps(v)


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CodeTokenizer]:
    old = tmp_path_factory.mktemp("v1") / "codemill-code-32k.json"
    old.write_text(as_format_1(BUNDLED.read_text(encoding="utf-8")), encoding="utf-8")
    return {"merges": CodeTokenizer.load(old), "lookahead": CodeTokenizer.default()}


def sha(ids: np.ndarray) -> str:
    return hashlib.sha256(ids.astype("<u4").tobytes()).hexdigest()


def mix() -> str:
    rng = random.Random(12)
    atoms = ["self", ".", " ", "(", ")", "\n", "    ", "x", "_", "=", '"', "'", "#", "//", "/*", "*/", "é", "\t"]
    atoms += ["1", "ab", "getUserById", "\r\n", "\\", "`", "😀"]
    return "".join(rng.choice(atoms) for _ in range(20000))


@pytest.mark.parametrize("encoding", ["merges", "lookahead"])
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


def test_bundled_file_is_format_2_and_encodes_in_fewer_tokens(tokenizers: dict[str, CodeTokenizer]) -> None:
    assert json.loads(BUNDLED.read_text(encoding="utf-8"))["format"] == "codemill-tokenizer/2"
    for name in FILES:
        new, old = EXPECTED["lookahead"][name]["tokens"], EXPECTED["merges"][name]["tokens"]
        assert new < old, name


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
