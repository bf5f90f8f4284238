"""CodeTokenizer: round trips, special tokens, persistence, vocabulary and errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from codemill import SPECIAL_TOKENS, CodemillError, CodeTokenizer, TokenizerFileError, detect_language
from conftest import FIXTURES, STDLIB

LANG_FILES = sorted(FIXTURES.glob("sample.*"))


@pytest.mark.parametrize("path", LANG_FILES, ids=lambda p: p.suffix)
def test_round_trip_real_code_every_language(tok: CodeTokenizer, path) -> None:
    text = path.read_text(encoding="utf-8")
    lang = detect_language(path)
    ids = tok.encode(text, lang)
    assert ids.dtype == np.uint32 and ids.ndim == 1
    assert tok.decode(ids) == text
    # Compression on code: well beyond one token per 3 bytes for the bundled tokenizer.
    assert len(text.encode()) / len(ids) > 3.0, (path.name, len(ids))
    # The language only picks the scanner table: any table round-trips too.
    for other in ("python", "rust", "c", None):
        assert tok.decode(tok.encode(text, other)) == text


def test_round_trip_stdlib_files(tok: CodeTokenizer) -> None:
    for name in ("json/decoder.py", "collections/__init__.py", "textwrap.py", "difflib.py"):
        text = (STDLIB / name).read_text(encoding="utf-8")
        assert tok.decode(tok.encode(text, "python")) == text


def test_identifier_vocabulary_tokens(tok: CodeTokenizer) -> None:
    tokens = [tok.id_to_token(int(i)) for i in tok.encode("x = getUserById(user_id)\n", "python")]
    assert "User" in tokens and "By" in tokens  # parts at camelCase boundaries
    # Vocabulary ids come only from the boundary-anchored matcher (BPE never creates them): a
    # lower-case entry is matched on its own, never inside a longer lower-case word.
    entries = {i: tok.id_to_token(i) for i in range(256, 256 + tok.identifier_vocab_size)}
    entry, word = next((i, w) for i, w in entries.items() if w and w.isalpha() and w.islower() and len(w) >= 4)
    assert tok.encode(word, "python").tolist() == [entry]
    assert entry not in tok.encode(f"zq{word}", "python").tolist()


def test_special_tokens_only_when_allowed(tok: CodeTokenizer) -> None:
    text = "x<|endoftext|>y<|fim_prefix|>"
    plain = tok.encode(text, "python")
    assert tok.eot_id not in plain.tolist()
    assert not set(plain.tolist()) & set(tok.special_tokens.values())
    assert tok.decode(plain) == text
    some = tok.encode(text, "python", allowed_special={"<|endoftext|>"})
    assert tok.eot_id in some.tolist() and tok.special_id("<|fim_prefix|>") not in some.tolist()
    every = tok.encode(text, "python", allowed_special="all")
    assert tok.special_id("<|fim_prefix|>") in every.tolist()
    assert tok.decode(every) == text
    with pytest.raises(CodemillError, match="unknown special tokens"):
        tok.encode(text, allowed_special={"<|nope|>"})
    assert set(tok.special_tokens) == set(SPECIAL_TOKENS)


def test_encode_batch_matches_encode(tok: CodeTokenizer) -> None:
    texts = [p.read_text(encoding="utf-8") for p in LANG_FILES]
    langs = [detect_language(p) for p in LANG_FILES]
    single = [tok.encode(t, lang) for t, lang in zip(texts, langs, strict=True)]
    for threads in (1, 2, None):
        batch = tok.encode_batch(texts, langs, num_threads=threads)
        assert all(np.array_equal(a, b) for a, b in zip(single, batch, strict=True))
    ids, offsets = tok.encode_batch_flat(texts, langs, num_threads=2)
    assert offsets.dtype == np.uint64 and len(offsets) == len(texts) + 1
    for k, expected in enumerate(single):
        assert np.array_equal(ids[offsets[k] : offsets[k + 1]], expected)
    # Empty texts take no room in the flat ids (which are not zeroed before they are written).
    ids, offsets = tok.encode_batch_flat(["", texts[0], ""], [langs[0]] * 3, num_threads=2)
    assert offsets.tolist() == [0, 0, len(single[0]), len(single[0])] and np.array_equal(ids, single[0])
    ids, offsets = tok.encode_batch_flat([])
    assert len(ids) == 0 and offsets.tolist() == [0]
    assert tok.encode_batch([]) == []
    with pytest.raises(CodemillError, match="languages has 1 entries for 2 texts"):
        tok.encode_batch(["a", "b"], ["python"])
    with pytest.raises(CodemillError, match="sequence of texts"):
        tok.encode_batch("abc")  # type: ignore[arg-type]
    with pytest.raises(CodemillError, match="num_threads"):
        tok.encode_batch(["a"], num_threads=0)
    # The text at fault is named by its place (a bare "'None' is not an instance of 'str'"),
    # and a negative count is an argument error (a bare OverflowError).
    texts = ["x = 1\n"] * 50
    texts[37] = None  # type: ignore[call-overload]
    for call in (tok.encode_batch, tok.encode_batch_flat, tok.count_batch):
        with pytest.raises(CodemillError, match=r"texts\[37\] is NoneType, not str"):
            call(texts)
    with pytest.raises(CodemillError, match=r"texts\[37\] is NoneType, not str"):
        tok.encode_batch_packed(texts, eot_id=tok.eot_id, width=4)
    texts[37] = "ok \ud800"
    with pytest.raises(CodemillError, match=r"texts\[37\] is not valid Unicode"):
        tok.encode_batch(texts)
    with pytest.raises(CodemillError, match="num_threads must be at least 1"):
        tok.encode_batch(["a"], num_threads=-1)
    with pytest.raises(CodemillError, match="eot_id must be a token id"):
        tok.encode_batch_packed(["a"], eot_id=-1, width=4)


def test_encode_batch_packed_is_the_flat_ids_with_an_eot_after_each_text(tok: CodeTokenizer) -> None:
    texts = ["", *(p.read_text(encoding="utf-8") for p in LANG_FILES), ""]
    langs = [None, *(detect_language(p) for p in LANG_FILES), None]
    ids, offsets = tok.encode_batch_flat(texts, langs)
    counts = np.diff(offsets).tolist()
    assert tok.count_batch(texts, langs, 2) == counts
    expected = np.insert(ids, offsets[1:].astype(np.intp), tok.eot_id)
    for width, dtype in ((2, "<u2"), (4, "<u4")):
        for threads in (1, 2):
            packed, lengths = tok.encode_batch_packed(texts, langs, threads, eot_id=tok.eot_id, width=width)
            assert lengths == [n + 1 for n in counts] and isinstance(packed, bytes)
            assert np.array_equal(np.frombuffer(packed, dtype), expected)
    assert tok.encode_batch_packed([], eot_id=0, width=2) == (b"", [])
    with pytest.raises(CodemillError, match="width must be 2 or 4 bytes per token id, got 3"):
        tok.encode_batch_packed(["a"], eot_id=0, width=3)
    with pytest.raises(CodemillError, match="end-of-text id 70000 does not fit in 2 bytes"):
        tok.encode_batch_packed(["a"], eot_id=70_000, width=2)


def test_save_load_identical(tmp_path, small_tok: CodeTokenizer) -> None:
    path = tmp_path / "tok.json"
    small_tok.save(path)
    again = CodeTokenizer.load(path)
    text = (FIXTURES / "sample.py").read_text()
    assert np.array_equal(again.encode(text, "python"), small_tok.encode(text, "python"))
    assert again.hash == small_tok.hash
    assert json.loads(path.read_text())["format"] == "codemill-tokenizer/3"
    assert again.vocab_size == small_tok.vocab_size


def test_training_is_deterministic_and_reports_skips(tmp_path) -> None:
    (tmp_path / "a.py").write_text("def add(a, b):\n    return a + b\n" * 20)
    (tmp_path / "b.py").write_bytes(b"\xff\xfe bad utf-8")
    (tmp_path / "c.py").write_bytes(b"")
    (tmp_path / "d.py").write_bytes(b"binary\x00data")
    one = CodeTokenizer.train([tmp_path, ("let x = 1;\n" * 10, "rust")], vocab_size=300, identifier_vocab_size=4)
    two = CodeTokenizer.train([tmp_path, ("let x = 1;\n" * 10, "rust")], vocab_size=300, identifier_vocab_size=4)
    assert one.to_json() == two.to_json()
    skipped = one.metadata["training"]["skipped"]
    assert skipped == {"binary": 1, "empty": 1, "invalid_utf8": 1}
    assert one.metadata["training"]["documents"] == 2


def test_vocabulary_lookups(tok: CodeTokenizer) -> None:
    assert tok.vocab_size <= 65536  # corpora store as uint16
    for i in (0, 65, 255, 300, 5000, tok.vocab_size - 1):
        token = tok.id_to_token(i)
        assert token is not None
        assert tok.token_to_id(token) is not None
        assert tok.id_to_bytes(tok.token_to_id(token)) == tok.id_to_bytes(i)
    assert tok.id_to_token(0xE2) == "<0xE2>"  # a lone UTF-8 lead byte
    assert tok.token_to_id(b"\xe2") == 0xE2
    assert tok.id_to_token(tok.vocab_size) is None
    assert tok.token_to_id("<|endoftext|>") == tok.eot_id
    assert tok.token_to_id("surely-not-a-single-token-xyz") is None
    assert "CodeTokenizer(vocab_size=" in repr(tok)


def test_decode_errors(tok: CodeTokenizer) -> None:
    with pytest.raises(CodemillError, match=r"token id 99999999 at position 1 is outside"):
        tok.decode([1, 99999999])
    with pytest.raises(CodemillError, match="outside the vocabulary"):
        tok.decode([-1])
    with pytest.raises(CodemillError, match="integers"):
        tok.decode(np.array([1.5]))
    with pytest.raises(CodemillError, match="one-dimensional"):
        tok.decode(np.zeros((2, 2), dtype=np.uint32))
    cut = tok.encode("é", None)
    assert tok.decode_bytes(cut) == "é".encode()
    assert tok.decode([]) == ""
    # A sequence cut inside a UTF-8 character: strict raises, replace substitutes.
    with pytest.raises(UnicodeDecodeError):
        tok.decode([0xC3])
    assert tok.decode([0xC3], errors="replace") == "\ufffd"


@pytest.mark.parametrize(
    "text",
    [
        "def f(x):\n    return x + 1\n" * 3,  # ASCII: the string's own bytes
        "# caf\u00e9 na\u00efve \u00ff\n" + "x = 1\n" * 10,  # one byte a character
        "// em\u2014dash \u4e2d\u6587\n" + "int main(void) { return 0; }\n" * 2,  # two bytes
        "/* \U0001f600 */\nfn main() {}\n" * 3 + "\U0010ffff",  # four bytes
        "\u00e9",
        "",
    ],
)
def test_every_string_width_encodes_as_its_utf8(tok: CodeTokenizer, text: str) -> None:
    """The core reads a string's stored characters (one, two or four bytes each) and converts
    them to UTF-8 itself: the ids decode to the text (its UTF-8 exactly), alike from `encode`,
    `encode_batch` (converted in parallel) and `count_tokens`."""
    fresh = text.encode().decode()  # a new string, as a file read gives
    ids = tok.encode(fresh, "c")
    assert tok.decode_bytes(ids) == text.encode()
    batch = tok.encode_batch(["x" * 40, text.encode().decode(), "\u00e9" * 20], "c")
    assert batch[1].tolist() == ids.tolist()
    assert tok.decode(batch[2]) == "\u00e9" * 20
    assert tok.count_tokens(text.encode().decode(), "c") == len(ids)
    # A lone surrogate after characters of each width is still refused.
    with pytest.raises(CodemillError, match=r"not valid Unicode.*surrogate"):
        tok.encode(fresh + "\udc80")


def test_bad_input_errors(tmp_path, tok: CodeTokenizer) -> None:
    with pytest.raises(CodemillError, match=r"not valid Unicode.*surrogate"):
        tok.encode("abc\ud800def")
    with pytest.raises(CodemillError, match="not valid Unicode"):
        tok.encode_batch(["ok", "\udfff"])
    with pytest.raises(CodemillError, match='unknown language "cobol"'):
        tok.encode("x", "cobol")
    with pytest.raises(FileNotFoundError):
        CodeTokenizer.load(tmp_path / "missing.json")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "codemill-tokenizer/1", "merges": [')
    with pytest.raises(TokenizerFileError, match=r"corrupt\.json: invalid tokenizer file: not JSON"):
        CodeTokenizer.load(corrupt)
    wrong = tmp_path / "v9.json"
    wrong.write_text(tok.to_json().replace("codemill-tokenizer/3", "codemill-tokenizer/9"))
    with pytest.raises(TokenizerFileError, match="unsupported format version"):
        CodeTokenizer.load(wrong)
    for bad, why in [(None, 'missing field "lookahead"'), ([1 << 20], "no ordinary token")]:
        v = json.loads(tok.to_json())
        del v["lookahead"]
        if bad is not None:
            v["lookahead"] = bad
        listed = tmp_path / "listed.json"
        listed.write_text(json.dumps(v))
        with pytest.raises(TokenizerFileError, match=why):
            CodeTokenizer.load(listed)
    other = tmp_path / "hf.json"
    other.write_text('{"version": "1.0", "model": {"type": "BPE"}}')
    with pytest.raises(TokenizerFileError, match="not a codemill tokenizer"):
        CodeTokenizer.load(other)
    broken = json.loads(tok.to_json())
    broken["merges"][0] = [10**6, 1]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    with pytest.raises(TokenizerFileError, match="refers to a token that does not exist"):
        CodeTokenizer.load(bad)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\x00")
    with pytest.raises(TokenizerFileError, match="not UTF-8"):
        CodeTokenizer.load(binary)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "tok.fifo"
        os.mkfifo(fifo)  # reading one blocked forever
        with pytest.raises(TokenizerFileError, match=r"tok\.fifo: not a regular file"):
            CodeTokenizer.load(fifo)
        from codemill.tokenizer.code_tokenizer import load_tokenizer

        with pytest.raises(TokenizerFileError, match=r"tok\.fifo: not a regular file"):
            load_tokenizer(fifo, "cl100k_base")  # a rank file with its pattern
        (tmp_path / "hf").mkdir()
        os.mkfifo(tmp_path / "hf" / "tokenizer.json")  # a directory's tokenizer.json
        with pytest.raises(TokenizerFileError, match=r"tokenizer\.json: not a regular file"):
            CodeTokenizer.load(tmp_path / "hf")
        # ... and the tokenizer_config.json read beside a valid tokenizer.json (it hung too)
        from codemill.tokenizer.huggingface import byte_encoder

        (tmp_path / "hf2").mkdir()
        byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        model = {"type": "BPE", "vocab": {c: b for b, c in byte_encoder().items()}, "merges": []}
        hf = {
            "model": model,
            "normalizer": None,
            "pre_tokenizer": byte_level,
            "decoder": byte_level,
            "added_tokens": [],
        }
        (tmp_path / "hf2" / "tokenizer.json").write_text(json.dumps(hf))
        assert CodeTokenizer.load(tmp_path / "hf2").encode("ab").tolist() == [97, 98]
        os.mkfifo(tmp_path / "hf2" / "tokenizer_config.json")
        with pytest.raises(TokenizerFileError, match=r"tokenizer_config\.json: not a regular file"):
            CodeTokenizer.load(tmp_path / "hf2")
    assert issubclass(TokenizerFileError, CodemillError) and issubclass(CodemillError, ValueError)


def test_train_argument_errors() -> None:
    with pytest.raises(CodemillError, match="too small"):
        CodeTokenizer.train(["x = 1"], vocab_size=10)
    with pytest.raises(CodemillError, match="no training text"):
        CodeTokenizer.train([("", None)], vocab_size=1000)
    with pytest.raises(CodemillError, match="line_merge_fraction"):
        CodeTokenizer.train(["x = 1\n"], vocab_size=1000, line_merge_fraction=2.0)
    with pytest.raises(CodemillError, match="cannot train on int"):
        CodeTokenizer.train([3], vocab_size=1000)  # type: ignore[list-item]
    # NaN reached the core as metadata it could not read ("metadata is not JSON").
    with pytest.raises(CodemillError, match=r"line_merge_fraction must be in \[0, 1\], got nan"):
        CodeTokenizer.train(["x = 1\n"], vocab_size=1000, line_merge_fraction=float("nan"))
    # One string made a special token of each of its characters.
    with pytest.raises(CodemillError, match="special_tokens: a list of tokens, not one string"):
        CodeTokenizer.train(["x = 1\n"], vocab_size=1000, special_tokens="<a>")


def test_count_and_pretokenize(tok: CodeTokenizer) -> None:
    text = "if (x >>>= 2) { return `a${b}`; }"
    assert tok.count_tokens(text, "javascript") == len(tok.encode(text, "javascript"))
    pieces = tok.pretokenize(text, "javascript")
    assert "".join(pieces) == text and ">>>=" in pieces
    kinds = dict(tok.pretokenize("def f(): pass", "python", with_kinds=True))
    assert kinds["def"] == "keyword" and kinds["f"] == "identifier" and kinds["("] == "delimiter"
