"""save_pretrained -> transformers.AutoTokenizer (remote code backed by codemill), and the plain
tokenizer.json of a base vocabulary loaded by HF without remote code."""

from __future__ import annotations

from pathlib import Path

import pytest
from base_samples import CODE
from codemill import CodeTokenizer

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory, tok: CodeTokenizer) -> Path:
    d = tmp_path_factory.mktemp("hf") / "codemill-32k"
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def exported(export_dir: Path, tok: CodeTokenizer) -> tuple[CodeTokenizer, object]:
    return tok, transformers.AutoTokenizer.from_pretrained(str(export_dir), trust_remote_code=True)


def test_autotokenizer_ids_equal_codemill(exported: tuple) -> None:
    tok, hf = exported
    for _, text in CODE[:20]:
        assert hf(text, add_special_tokens=False)["input_ids"] == tok.encode(text).tolist()
    assert hf.decode(hf("x = 1")["input_ids"]) == "x = 1"


def test_padding_truncation_masks_offsets(exported: tuple) -> None:
    tok, hf = exported
    texts = ["def f(x):\n    return x + 1", "naïve → 😀"]
    n = [len(tok.encode(t)) for t in texts]
    out = hf(texts, padding=True, return_offsets_mapping=True)
    ids, mask, offs = out["input_ids"], out["attention_mask"], out["offset_mapping"]
    assert [len(i) for i in ids] == [max(n)] * 2
    assert [sum(m) for m in mask] == n
    short = n.index(min(n))
    assert ids[short][min(n) :] == [hf.pad_token_id] * (max(n) - min(n))
    assert offs[short][min(n) :] == [(0, 0)] * (max(n) - min(n))
    for text, o, k in zip(texts, offs, n, strict=True):
        assert "".join(text[a:b] for a, b in o[:k]).startswith(text[:1]) and o[k - 1][1] == len(text)
    cut = hf(texts, truncation=True, max_length=3, return_offsets_mapping=True)
    assert [len(i) for i in cut["input_ids"]] == [3, 3]
    assert cut["input_ids"][0] == tok.encode(texts[0]).tolist()[:3]
    assert hf.batch_decode(hf(texts)["input_ids"]) == texts


def test_special_tokens_and_chat_template(exported: tuple) -> None:
    tok, hf = exported
    for s in ("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_sep|>", "<|repo_name|>"):
        assert hf.convert_tokens_to_ids(s) == tok.special_id(s)
        assert (
            hf(f"a{s}b", add_special_tokens=False)["input_ids"] == tok.encode(f"a{s}b", allowed_special="all").tolist()
        )
    assert hf.eos_token == "<|endoftext|>"
    chat = hf.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "user\nhi\n\nassistant\n"


def test_base_vocabulary_plain_tokenizer_json(tmp_path: Path) -> None:
    from base_data import cl100k_file

    f = cl100k_file()
    if f is None:
        pytest.skip("cl100k_base.tiktoken unavailable")
    base = CodeTokenizer.from_tiktoken(f)
    files = base.save_pretrained(tmp_path / "cl100k")
    assert any(p.endswith("tokenizer.json") for p in files)
    plain = tokenizers.Tokenizer.from_file(str(tmp_path / "cl100k" / "tokenizer.json"))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "cl100k" / "tokenizer.json"))
    for _, text in CODE[:40]:
        ours = base.encode(text).tolist()
        assert plain.encode(text, add_special_tokens=False).ids == ours
        assert fast(text, add_special_tokens=False)["input_ids"] == ours
    remote = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "cl100k"), trust_remote_code=True)
    assert remote("<|fim_prefix|>x", add_special_tokens=False)["input_ids"][0] == 100258
    # The specials keep their ids in HF too (cl100k's ranks skip 100256: HF numbered them on).
    for s, i in base.special_tokens.items():
        assert plain.token_to_id(s) == i, s
        text = f"a{s}b"
        assert plain.encode(text, add_special_tokens=False).ids == base.encode(text, allowed_special="all").tolist()
        assert fast(text, add_special_tokens=False)["input_ids"] == base.encode(text, allowed_special="all").tolist()
    # A vocabulary with no special tokens at all exports too (a bare StopIteration before).
    CodeTokenizer.from_tiktoken(f, special_tokens={}).save_pretrained(tmp_path / "bare")


def test_an_empty_text_encodes_to_nothing(exported: tuple) -> None:
    # transformers 5 takes an empty id list for an empty batch: "" and a batch holding one raised.
    _, hf = exported
    assert hf("")["input_ids"] == [] and hf.encode("") == []
    assert hf(["a", ""])["input_ids"][1] == []
    assert hf("", return_offsets_mapping=True)["offset_mapping"] == []


def test_len_covers_every_id_and_tokens_convert_back_to_their_ids(exported: tuple) -> None:
    # An identifier token and a merge spelling the same bytes ("THAT" at 259 and 13472) shared
    # one name: get_vocab, and so len(), came 177 short of the ids the tokenizer gives, and
    # resize_token_embeddings(len(tokenizer)) left the highest ids out of range.
    tok, hf = exported
    assert len(hf) == len(hf.get_vocab()) == tok.vocab_size
    ids = hf("<|repo_name|> THAT and x = 1")["input_ids"]
    assert max(ids) < len(hf)
    for _, text in CODE[:10]:
        ids = hf(text, add_special_tokens=False)["input_ids"]
        assert hf.convert_tokens_to_ids(hf.tokenize(text)) == ids
        assert hf.convert_tokens_to_string(hf.convert_ids_to_tokens(ids)) == text


def test_a_save_pretrained_directory_loads_back_in_codemill(tmp_path: Path, tok: CodeTokenizer) -> None:
    # "directory holds no tokenizer.json", though codemill's own file was there.
    tok.save_pretrained(tmp_path / "d")
    again = CodeTokenizer.load(tmp_path / "d")
    assert again.hash == tok.hash
    assert again.encode(CODE[0][1]).tolist() == tok.encode(CODE[0][1]).tolist()


def test_tokens_added_through_transformers_are_counted_encoded_and_decoded(
    export_dir: Path, tok: CodeTokenizer, tmp_path: Path
) -> None:
    # They were ignored: len() stayed put while new ids were given past it (so
    # resize_token_embeddings(len(tokenizer)) left them out of range), "a<|user|>b" was split
    # into plain tokens, and decode([new id]) raised.
    hf = transformers.AutoTokenizer.from_pretrained(str(export_dir), trust_remote_code=True)
    n = len(hf)
    hf.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": ["<|user|>"]})
    hf.add_tokens([transformers.AddedToken("<sep>", lstrip=True, rstrip=True)])
    pad, user, sep = hf.convert_tokens_to_ids(["<pad>", "<|user|>", "<sep>"])
    assert (pad, user, sep) == (n, n + 1, n + 2) and hf.pad_token_id == pad
    assert len(hf) == len(hf.get_vocab()) == n + 3 and hf.vocab_size == tok.vocab_size
    ids = hf("a<|user|>b", add_special_tokens=False)["input_ids"]
    assert ids == [*tok.encode("a").tolist(), user, *tok.encode("b").tolist()]
    assert hf.decode(ids) == "a<|user|>b" and hf.decode(ids, skip_special_tokens=True) == "ab"
    assert hf.decode([user]) == "<|user|>"
    assert hf("a<|user|>b", split_special_tokens=True)["input_ids"] == tok.encode("a<|user|>b").tolist()
    text = "x = 1  <sep>   naïve<|user|>😀<|fim_prefix|> y"
    out = hf(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = out["input_ids"]
    assert ids[ids.index(sep) + 1 : ids.index(user)] == tok.encode("naïve").tolist()  # stripped around <sep>
    assert tok.special_id("<|fim_prefix|>") in ids and max(ids) < len(hf)
    spans = out["offset_mapping"]
    assert text[slice(*spans[ids.index(sep)])] == "<sep>" and text[slice(*spans[ids.index(user)])] == "<|user|>"
    assert spans[ids.index(sep) + 1][0] == text.index("naïve") and spans[-1][1] == len(text)
    assert hf.convert_tokens_to_string(hf.tokenize(text)) == hf.decode(ids)
    batch = hf(["a", "bb cc"], padding=True)["input_ids"]
    assert batch[0][-1] == pad
    # transformers' own save_pretrained keeps them.
    hf.save_pretrained(tmp_path / "again")
    again = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "again"), trust_remote_code=True)
    assert len(again) == n + 3 and again(text)["input_ids"] == hf(text)["input_ids"]


def test_batch_padding_to_a_multiple_and_on_the_left(exported: tuple) -> None:
    # A batch ignored pad_to_multiple_of and padding_side (a single text kept them).
    tok, hf = exported
    texts = ["def f(x):", "a"]
    n = [len(tok.encode(t)) for t in texts]
    out = hf(texts, padding=True, pad_to_multiple_of=8, return_offsets_mapping=True)
    assert [len(i) for i in out["input_ids"]] == [8, 8] and [sum(m) for m in out["attention_mask"]] == n
    left = hf(texts, padding=True, padding_side="left", return_offsets_mapping=True)
    assert left["input_ids"][1] == [hf.pad_token_id] * (max(n) - 1) + tok.encode("a").tolist()
    assert left["attention_mask"][1] == [0] * (max(n) - 1) + [1]
    assert left["offset_mapping"][1][-1] == (0, 1)


def test_words_split_into_words_are_one_sequence(exported: tuple) -> None:
    # is_split_into_words=True encoded the list of words as a batch of texts.
    tok, hf = exported
    words = ["def", " foo", "(x)"]
    want = [i for w in words for i in tok.encode(w).tolist()]
    assert hf(words, is_split_into_words=True, add_special_tokens=False)["input_ids"] == want
    both = hf([words, words[:1]], is_split_into_words=True, add_special_tokens=False)["input_ids"]
    assert both == [want, tok.encode("def").tolist()]


def test_the_class_reads_any_vocab_file_codemill_reads(export_dir: Path, tok: CodeTokenizer) -> None:
    # Its own added tokens were read by parsing vocab_file as codemill's JSON, which failed for
    # the folder, file:// URL, rank file or tokenizer.json that CodeTokenizer.load reads.
    for vocab_file in (str(export_dir), (export_dir / "codemill_tokenizer.json").as_uri()):
        hf = transformers.AutoTokenizer.from_pretrained(str(export_dir), trust_remote_code=True, vocab_file=vocab_file)
        assert len(hf) == tok.vocab_size
        text = "x = 1<|fim_prefix|>"
        assert hf(text)["input_ids"] == tok.encode(text, allowed_special="all").tolist()
