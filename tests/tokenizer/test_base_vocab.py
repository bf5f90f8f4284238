"""Base vocabularies: ids identical to tiktoken and HF tokenizers on real code of every
language and on generated text; unsupported tokenizer.json components refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from base_fixtures import cl100k, cl100k_path, deepseek, o200k, p50k, tt_cl100k  # noqa: F401 (fixtures)
from base_samples import CODE, TEXT
from codemill import CodeTokenizer
from codemill.errors import CodemillError, TokenizerFileError, UnsupportedTokenizerError
from hypothesis import HealthCheck, given, settings

tiktoken = pytest.importorskip("tiktoken")
tokenizers = pytest.importorskip("tokenizers")


def _same(ours: np.ndarray, theirs: list[int], name: str) -> None:
    if ours.tolist() != theirs:
        i = next(
            (k for k, (a, b) in enumerate(zip(ours.tolist(), theirs, strict=False)) if a != b),
            min(len(ours), len(theirs)),
        )
        raise AssertionError(
            f"{name}: first difference at token {i}: {ours[i : i + 5].tolist()} vs {theirs[i : i + 5]}"
        )


def test_cl100k_matches_tiktoken_on_real_code(cl100k: CodeTokenizer, tt_cl100k: object) -> None:
    assert len(CODE) > 150
    for name, text in CODE:
        _same(cl100k.encode(text), tt_cl100k.encode_ordinary(text), name)  # type: ignore[attr-defined]
        assert cl100k.decode(cl100k.encode(text)) == text


def test_o200k_and_p50k_match_tiktoken_on_real_code(o200k: tuple, p50k: tuple) -> None:
    for ours, theirs in (o200k, p50k):
        for name, text in CODE:
            _same(ours.encode(text), theirs.encode_ordinary(text), name)


def test_deepseek_v3_matches_hf_tokenizers_on_real_code(deepseek: tuple) -> None:
    # HF splits the added tokens out of any text; `encode` reads them as plain text unless
    # allowed, as HF does with `encode_special_tokens`. Real code holds them: codemill's own
    # tokenizer/base.py names "<｜end▁of▁sentence｜>", and an installed copy of it is sampled on a
    # machine where the sample draws it.
    ours, theirs, f = deepseek
    plain = tokenizers.Tokenizer.from_file(str(f))
    plain.encode_special_tokens = True
    for name, text in [*CODE, ("eos.py", 'EOS = "<｜end▁of▁sentence｜>"\n')]:
        _same(ours.encode(text), plain.encode(text, add_special_tokens=False).ids, name)
        _same(ours.encode(text, allowed_special="all"), theirs.encode(text, add_special_tokens=False).ids, name)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_tiktoken_vocabularies_match_on_generated_text(
    text: str, cl100k: CodeTokenizer, tt_cl100k: object, o200k: tuple, p50k: tuple
) -> None:
    _same(cl100k.encode(text), tt_cl100k.encode_ordinary(text), repr(text))  # type: ignore[attr-defined]
    for ours, theirs in (o200k, p50k):
        _same(ours.encode(text), theirs.encode_ordinary(text), repr(text))
    assert cl100k.decode(cl100k.encode(text)) == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_deepseek_v3_matches_on_generated_text(text: str, deepseek: tuple) -> None:
    ours, theirs, _ = deepseek
    _same(ours.encode(text), theirs.encode(text, add_special_tokens=False).ids, repr(text))


def test_special_tokens_only_when_allowed(cl100k: CodeTokenizer, tt_cl100k: object) -> None:
    text = "a<|endoftext|>b<|fim_prefix|>c"
    plain = cl100k.encode(text)
    assert cl100k.eot_id not in plain.tolist()
    _same(cl100k.encode(text, allowed_special="all"), tt_cl100k.encode(text, allowed_special="all"), text)  # type: ignore[attr-defined]
    assert cl100k.eot_id == 100257
    assert cl100k.special_id("<|fim_prefix|>") == 100258


def test_deepseek_added_tokens_match_hf_when_allowed(deepseek: tuple) -> None:
    ours, theirs, path = deepseek
    # load() and from_json() recognise a tokenizer.json whose "model" comes megabytes in.
    assert (
        CodeTokenizer.load(path).vocab_size == CodeTokenizer.from_json(path.read_text()).vocab_size == ours.vocab_size
    )
    text = "x<｜begin▁of▁sentence｜>def f():<｜end▁of▁sentence｜> y"
    _same(ours.encode(text, allowed_special="all"), theirs.encode(text, add_special_tokens=False).ids, text)


def test_save_load_round_trip_and_load_dispatch(cl100k: CodeTokenizer, cl100k_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "cl100k.json"
    cl100k.save(out)
    again = CodeTokenizer.load(out)
    text = CODE[0][1]
    assert again.encode(text).tolist() == cl100k.encode(text).tolist()
    assert CodeTokenizer.load(cl100k_path).encode(text).tolist() == cl100k.encode(text).tolist()
    assert CodeTokenizer.from_json(cl100k.to_json()).vocab_size == cl100k.vocab_size == 100277


def test_pattern_by_regex_falls_back_to_fancy_regex(cl100k_path: Path) -> None:
    # A regex with no hand-written scanner: words only as letters, everything else alone.
    tok = CodeTokenizer.from_tiktoken(cl100k_path, pattern=r"\p{L}+|\p{N}+|\s+|.")
    text = "def f(x):\n    return x + 1\n"
    assert tok.decode(tok.encode(text)) == text
    assert tok.pretokenize(text)[:5] == ["def", " ", "f", "(", "x"]


def test_offsets_and_stream(cl100k: CodeTokenizer) -> None:
    text = "naïve = '→ ok' # 😀 done"
    enc = cl100k.encode_with_offsets(text)
    raw = text.encode()
    assert b"".join(raw[a:b] for a, b in enc.byte_offsets) == raw
    assert enc.char_offsets[-1][1] == len(text)
    assert all(text[a:b] for a, b in enc.char_offsets)
    stream = cl100k.decode_stream()
    parts = list(stream.feed(enc.ids))
    assert "".join(parts) + stream.finish() == text
    # Every yielded piece is whole text: no replacement characters from a cut character.
    assert all("\ufffd" not in p for p in parts)


def test_refuses_unsupported_components(tmp_path: Path) -> None:
    base = {
        "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
        "normalizer": {"type": "NFKC"},
        "pre_tokenizer": None,
        "added_tokens": [],
    }
    f = tmp_path / "tokenizer.json"
    f.write_text(json.dumps(base))
    with pytest.raises(UnsupportedTokenizerError, match="normalizer: NFKC"):
        CodeTokenizer.from_huggingface(f)
    base["normalizer"] = None
    base["model"] = {"type": "WordPiece", "vocab": {"a": 0}}
    f.write_text(json.dumps(base))
    with pytest.raises(UnsupportedTokenizerError, match="model: WordPiece"):
        CodeTokenizer.load(tmp_path)
    with pytest.raises(TokenizerFileError):
        CodeTokenizer.from_json('{"format": "codemill-base-tokenizer/9"}')


def test_a_tokenizer_json_without_byte_level_is_refused(tmp_path: Path) -> None:
    # It was read as byte-level: ids unlike HF's, which looks the text's characters up.
    split = {"type": "Split", "pattern": {"Regex": "\\w+|\\s+"}, "behavior": "Isolated", "invert": False}
    f = tmp_path / "tokenizer.json"
    for pre in (split, None, {"type": "Sequence", "pretokenizers": [split]}):
        f.write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": pre}))
        with pytest.raises(UnsupportedTokenizerError, match="without a ByteLevel step"):
            CodeTokenizer.from_huggingface(f)


def test_a_split_regex_means_what_it_means_to_hf(cl100k: CodeTokenizer, tmp_path: Path) -> None:
    # tiktoken's cl100k pattern verbatim was taken with tiktoken's meaning; HF's Oniguruma reads
    # `\p{N}{1,3}+` as repeated runs of 1-3 digits (a whole run is one piece), `$`/`^` by line.
    from codemill import _core
    from codemill.tokenizer.hf_export import plain_tokenizer_json

    d = plain_tokenizer_json(cl100k)
    f = tmp_path / "tokenizer.json"
    texts = ["x = 1234567", "total 2025\n", "ab cd\n  ef gh\nij  \n", *(t for _, t in CODE[:20])]
    for pattern in (dict(_core.BaseTokenizer.split_patterns())["cl100k"], r"^ +|\p{L}+$|\p{L}+|[^\p{L}\n]|\n"):
        d["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = pattern
        f.write_text(json.dumps(d))
        ours, theirs = CodeTokenizer.from_huggingface(f), tokenizers.Tokenizer.from_file(str(f))
        for text in texts:
            _same(ours.encode(text), theirs.encode(text, add_special_tokens=False).ids, pattern)


@pytest.mark.parametrize(
    ("shape", "says"),
    [
        ({"model": {"type": "BPE", "vocab": 5, "merges": 3}}, "model.vocab must map"),
        ({"model": {"type": "BPE", "vocab": {"a": -1}}}, "not a token id"),
        ({"model": {"type": "BPE", "vocab": {"a": 5_000_000_000}}}, "not a token id"),  # no 40 GB table
        ({"model": {"type": "BPE", "vocab": {"a": "x"}}}, "not a token id"),
        ({"model": {"type": "BPE", "vocab": {"a": True}}}, "not a token id"),
        ({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [5]}}, "expected shape"),
        ({"model": None}, "no 'model' object"),
        ({"model": {"type": "BPE", "vocab": {"a": 0}}, "pre_tokenizer": 5}, "expected shape"),
        ({"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"id": "x"}]}, "expected shape"),
        (
            {"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"content": "<s>", "id": 10**9}]},
            "not a token id",
        ),
        (
            {"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"content": "<s>", "id": -1}]},
            "not a token id",
        ),
        (
            {"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"content": "<s>", "id": 300.7}]},
            "not a token id",
        ),
    ],
)
def test_a_tokenizer_json_of_another_shape_is_one_error_naming_it(tmp_path: Path, shape: dict, says: str) -> None:
    f = tmp_path / "tokenizer.json"
    f.write_text(json.dumps(shape))
    with pytest.raises(TokenizerFileError, match=f"tokenizer.json.*{says}"):
        CodeTokenizer.from_huggingface(f)


def test_bad_rank_file(tmp_path: Path) -> None:
    f = tmp_path / "x.tiktoken"
    f.write_text("not a rank line\n")
    with pytest.raises(TokenizerFileError, match=r"x\.tiktoken:1"):
        CodeTokenizer.from_tiktoken(f)
    for rank in ("-1", "99999999999"):  # no negative index, no table of 10^11 ranks
        f.write_text(f"YQ== {rank}\n")
        with pytest.raises(TokenizerFileError, match=r"x\.tiktoken:1"):
            CodeTokenizer.from_tiktoken(f)
    with pytest.raises(CodemillError, match="unknown tiktoken encoding"):
        f.write_text("YQ== 0\n")
        CodeTokenizer.from_tiktoken(f)


def test_bad_arguments_of_a_rank_file_are_refused(tmp_path: Path, cl100k: CodeTokenizer) -> None:
    import base64

    f = tmp_path / "x.tiktoken"
    f.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    # A special token's id: -1 read the last rank ("which is a rank of"), "7" and 10**12 gave
    # bare TypeError / OverflowError.
    for bad in (-1, "7", 10**12, True, 300.0):
        with pytest.raises(CodemillError, match="is not a token id"):
            CodeTokenizer.from_tiktoken(f, "gpt2", {"<|x|>": bad})  # type: ignore[dict-item]
    numpy_id = CodeTokenizer.from_tiktoken(f, "gpt2", {"<|x|>": np.int64(300)})  # type: ignore[dict-item]
    assert numpy_id.encode("a<|x|>", allowed_special="all").tolist() == [97, 300]
    # A misspelt pattern name was taken as a regex matching itself: other ids, no word said.
    for typo in ("cl100k-base", "llama-3", "qwen2.5"):
        with pytest.raises(CodemillError, match=f"unknown split pattern name '{typo}'"):
            CodeTokenizer.from_tiktoken(f, typo)
    assert CodeTokenizer.from_tiktoken(f, r"\w+|\s+").encode("ab").tolist() == [97, 98]
    # The language is checked though a base vocabulary's ids do not depend on it (the bundled
    # tokenizer refused "klingon", a base vocabulary took it).
    for call in (lambda: cl100k.encode("x", "klingon"), lambda: cl100k.encode_batch(["x"], ["klingon"])):
        with pytest.raises(CodemillError, match='unknown language "klingon"'):
            call()


def test_a_lone_surrogate_is_one_clear_error_in_pretokenize(cl100k: CodeTokenizer) -> None:
    # encode said so in a CodemillError; pretokenize let PyO3's UnicodeEncodeError out.
    for call in (cl100k.encode, cl100k.pretokenize):
        with pytest.raises(CodemillError, match=r"not valid Unicode.*surrogate"):
            call("a\ud800b")


def test_deepseek_v3_plain_tokenizer_json_names_each_id_once(deepseek: tuple, tmp_path: Path) -> None:
    # Ids 0-2 (added tokens the vocabulary holds) were there under their text and a byte-level
    # spelling: HF's vocabulary size came out 3 too large.
    ours, theirs, _ = deepseek
    ours.save_pretrained(tmp_path / "ds")
    plain = tokenizers.Tokenizer.from_file(str(tmp_path / "ds" / "tokenizer.json"))
    assert plain.get_vocab_size() == theirs.get_vocab_size()
    for text in ["<｜begin▁of▁sentence｜>x = 1<｜end▁of▁sentence｜>", *(t for _, t in CODE[:10])]:
        assert plain.encode(text, add_special_tokens=False).ids == theirs.encode(text, add_special_tokens=False).ids


def test_a_deepseek_v3_directory_in_transformers_counts_its_added_tokens_once(deepseek: tuple, tmp_path: Path) -> None:
    # transformers loads the folder's added tokens (DeepSeek's FIM markers are "special":
    # false): named twice, len() was 48 over the ids, a token added next got an id 48 past
    # HF's, and every call took transformers' slow splitting.
    transformers = pytest.importorskip("transformers")
    ours, _, _ = deepseek
    ours.save_pretrained(tmp_path / "ds")
    hf = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "ds"), trust_remote_code=True)
    fast = transformers.PreTrainedTokenizerFast.from_pretrained(str(tmp_path / "ds"))
    assert len(hf) == len(fast) == ours.vocab_size
    text = "x<｜fim▁hole｜>y<｜begin▁of▁sentence｜>z " + CODE[0][1]
    assert hf(text)["input_ids"] == fast(text)["input_ids"]
    # A word of the vocabulary added is split out of text as transformers does (not its own).
    hf.add_tokens(["hello"])
    fast.add_tokens(["hello"])
    for text in ["xhelloy hello world", "def hello(): return 1"]:
        assert hf(text)["input_ids"] == fast(text)["input_ids"]
    hf.add_tokens(["<new>"])
    fast.add_tokens(["<new>"])
    assert hf.convert_tokens_to_ids("<new>") == fast.convert_tokens_to_ids("<new>") == ours.vocab_size
    assert len(hf) == len(fast)
    # One of its own added tokens made special: the same id (it was given a new one).
    hole = "<｜fim▁hole｜>"
    for t in (hf, fast):
        t.add_special_tokens({"additional_special_tokens": [hole]})
    assert hf.convert_tokens_to_ids(hole) == fast.convert_tokens_to_ids(hole) == ours.encode(hole).tolist()[0]
    assert len(hf) == len(fast) and hf("a" + hole)["input_ids"] == fast("a" + hole)["input_ids"]


def test_added_token_ids_are_the_ones_hf_gives_on_load(tmp_path: Path) -> None:
    # HF reads no added-token "id" (the content's vocabulary id, else the next free one after
    # the vocabulary, in file order): codemill kept the file's ids, unlike HF's with no word.
    from codemill.tokenizer.huggingface import token_string

    vocab = {token_string(bytes([b])): b for b in range(256)}
    added = [("<a>", 258), ("<b>", 256), ("x", 3), ("<c>", 900)]
    check_added_ids(tmp_path / "tokenizer.json", vocab, added)
    # A vocabulary with a gap: its id past its size moves no new added token (they follow the
    # 257 entries), nor does an in-vocabulary one named before them.
    check_added_ids(tmp_path / "gap.json", {**vocab, "<h>": 300}, [("<h>", 5), ("<n>", 6), ("<m>", 7)])


def check_added_ids(f: Path, vocab: dict[str, int], added: list[tuple[str, int]]) -> None:
    f.write_text(
        json.dumps(
            {
                "model": {"type": "BPE", "vocab": vocab, "merges": []},
                "pre_tokenizer": {
                    "type": "ByteLevel",
                    "add_prefix_space": False,
                    "trim_offsets": False,
                    "use_regex": True,
                },
                "added_tokens": [
                    dict.fromkeys(("single_word", "lstrip", "rstrip", "normalized"), False)
                    | {"id": i, "content": c, "special": True}
                    for c, i in added
                ],
            }
        )
    )
    ours, theirs = CodeTokenizer.from_huggingface(f), tokenizers.Tokenizer.from_file(str(f))
    text = "y".join(c for c, _ in added)
    assert ours.encode(text, allowed_special="all").tolist() == theirs.encode(text, add_special_tokens=False).ids
    assert {c: ours.special_id(c) for c, _ in added} == {c: theirs.token_to_id(c) for c, _ in added}
