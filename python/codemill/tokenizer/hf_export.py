"""``save_pretrained``: a directory transformers loads. Always: the codemill tokenizer file, the
``tokenization_codemill.py`` class (``trust_remote_code=True``) and its configuration; for a
base vocabulary without identifier tokens also a plain ``tokenizer.json`` (no remote code)."""

from __future__ import annotations

import json
import os
from importlib import resources
from typing import TYPE_CHECKING, Any

from codemill._io import atomic_dir

if TYPE_CHECKING:
    from codemill.tokenizer.base import BaseVocabTokenizer
    from codemill.tokenizer.code_tokenizer import CodeTokenizer

TOKENIZER_FILE = "codemill_tokenizer.json"
# A plain-text role template: it needs no special tokens, so it works with any vocabulary.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}\n{{ message['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}assistant\n{% endif %}"
)


def save_pretrained(tok: CodeTokenizer, directory: str | os.PathLike[str]) -> list[str]:
    from codemill.tokenizer.base import BaseVocabTokenizer

    specials = list(tok.special_tokens)
    try:
        eos: str | None = next(s for s, i in tok.special_tokens.items() if i == tok.eot_id)
    except (KeyError, ValueError, StopIteration):  # a vocabulary without an end-of-text token
        eos = None
    config: dict[str, Any] = {
        "tokenizer_class": "CodemillTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_codemill.CodemillTokenizer", None]},
        "model_max_length": 1 << 30,
        "clean_up_tokenization_spaces": False,
        "extra_special_tokens": [s for s in specials if s != eos],
        "chat_template": CHAT_TEMPLATE,
    }
    if eos is not None:
        config["eos_token"] = eos
        config["pad_token"] = eos
    written = []
    with atomic_dir(directory) as stage:
        (stage / TOKENIZER_FILE).write_text(tok.to_json(), encoding="utf-8")
        source = resources.files("codemill.tokenizer").joinpath("hf_remote.py").read_text(encoding="utf-8")
        (stage / "tokenization_codemill.py").write_text(source, encoding="utf-8")
        (stage / "tokenizer_config.json").write_text(json.dumps(config, indent=1, ensure_ascii=False), encoding="utf-8")
        written = [TOKENIZER_FILE, "tokenization_codemill.py", "tokenizer_config.json"]
        if isinstance(tok, BaseVocabTokenizer) and not tok.identifier_vocab_size:
            (stage / "tokenizer.json").write_text(
                json.dumps(plain_tokenizer_json(tok), ensure_ascii=False), encoding="utf-8"
            )
            written.append("tokenizer.json")
    return [os.path.join(os.fspath(directory), f) for f in written]


def plain_tokenizer_json(tok: BaseVocabTokenizer) -> dict[str, Any]:
    """The base vocabulary as a HF ``tokenizer.json``: byte-level BPE with the same ids."""
    from codemill.tokenizer.huggingface import token_string

    spec = tok.spec
    # An added token the vocabulary holds goes by its text there, as in the file it came from:
    # under its byte-level spelling too, HF counted its id twice (DeepSeek-V3: 3 more than 129,280).
    text = {a.id: a.content for a in spec.added}
    vocab = {
        text[i] if i in text and text[i].encode("utf-8") == t else token_string(t): i
        for i, t in enumerate(spec.tokens)
        if t is not None
    }
    # HF gives an added token the id its content has in the model's vocabulary, else the next
    # one after it: without its raw content here, cl100k's <|endoftext|> became 100256 (a gap in
    # the ranks) and DeepSeek's 1,230 specials all moved.
    for a in spec.added:
        vocab.setdefault(a.content, a.id)
    if spec.merges is not None:
        merges = [[token_string(spec.tokens[a] or b""), token_string(spec.tokens[b] or b"")] for a, b in spec.merges]
    else:
        merges = _merges_from_ranks(spec.tokens)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": a.id,
                "content": a.content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": a.normalized,
                "special": a.special,
            }
            for a in spec.added
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [*(_hf_stage(k, a) for k, a in spec.stages), _BYTE_LEVEL],
        },
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": spec.whole_first,
            "vocab": vocab,
            "merges": merges,
        },
    }


_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}


def _hf_stage(kind: str, arg: str) -> dict[str, Any]:
    from codemill import _core

    if kind == "digits":
        return {"type": "Digits", "individual_digits": arg == "individual"}
    pattern = dict(_core.BaseTokenizer.split_patterns())[arg] if kind == "known" else arg
    # Oniguruma (HF's regex engine) reads tiktoken's `$` as the end of a line and `{1,3}+` as
    # a repeated repeat, not a possessive one: `\z` and a plain `{1,3}` say what tiktoken means.
    pattern = pattern.replace(r"\s++$", r"\s++\z").replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}


def _merges_from_ranks(tokens: list[bytes | None]) -> list[list[str]]:
    """Merges that reproduce tiktoken's ranks (with ``ignore_merges``): every split of a token
    into two tokens, ordered by the token's rank, then the parts' ranks."""
    from codemill.tokenizer.huggingface import token_string

    rank = {t: i for i, t in enumerate(tokens) if t is not None}
    names = [token_string(t) if t is not None else "" for t in tokens]
    out = []
    for t in tokens:
        if t is None or len(t) < 2:
            continue
        local = [(rank[t[:k]], rank[t[k:]]) for k in range(1, len(t)) if t[:k] in rank and t[k:] in rank]
        local.sort()
        out += [[names[a], names[b]] for a, b in local]
    return out
