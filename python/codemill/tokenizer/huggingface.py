"""HF ``tokenizer.json`` files of byte-level BPE models (GPT-2, Llama-3, Qwen2, DeepSeek-V3,
StarCoder ...), read into a base vocabulary. A component codemill cannot reproduce exactly is
refused with an error that names it."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from codemill._io import check_regular_file
from codemill.errors import CodemillError, TokenizerFileError, UnsupportedTokenizerError
from codemill.tokenizer.base import (
    AddedToken,
    BaseSpec,
    BaseVocabTokenizer,
    pick_eos,
    stages_for_pattern,
    token_id,
)


@cache
def byte_decoder() -> dict[str, int]:
    """GPT-2's byte-to-printable-character map, inverted: the alphabet of byte-level vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


@cache
def byte_encoder() -> dict[int, str]:
    """GPT-2's byte-to-printable-character map (byte-level vocabularies spell tokens with it)."""
    return {b: c for c, b in byte_decoder().items()}


def token_bytes(token: str) -> bytes:
    dec = byte_decoder()
    try:
        return bytes(dec[c] for c in token)
    except KeyError as exc:
        raise UnsupportedTokenizerError(
            f"vocabulary entry {token!r} is not byte-level (character {exc.args[0]!r}): not a byte-level BPE"
        ) from None


def token_string(b: bytes) -> str:
    enc = byte_encoder()
    return "".join([enc[x] for x in b])


def _unsupported(what: str, component: Any) -> UnsupportedTokenizerError:
    kind = component.get("type") if isinstance(component, dict) else component
    return UnsupportedTokenizerError(f"unsupported {what}: {kind} ({json.dumps(component)[:200]})")


def _stages(pre: Any) -> list[tuple[str, str]]:
    if pre is None:
        return []
    t = pre.get("type")
    if t == "Sequence":
        out: list[tuple[str, str]] = []
        for p in pre.get("pretokenizers", []):
            out += _stages(p)
        return out
    if t == "ByteLevel":
        if pre.get("add_prefix_space"):
            raise _unsupported("pre-tokenizer ByteLevel with add_prefix_space=true", pre)
        return stages_for_pattern("gpt2") if pre.get("use_regex", True) else []
    if t == "Split":
        pat = pre.get("pattern", {})
        if pre.get("behavior") != "Isolated" or pre.get("invert"):
            raise _unsupported(
                f"pre-tokenizer Split with behavior={pre.get('behavior')} invert={pre.get('invert')}", pre
            )
        if "Regex" in pat:
            return stages_for_pattern(oniguruma_meaning(pat["Regex"]))
        if "String" in pat:
            return [("regex", re.escape(pat["String"]))]
        raise _unsupported("pre-tokenizer Split pattern", pre)
    if t == "Digits":
        return [("digits", "individual" if pre.get("individual_digits") else "runs")]
    raise _unsupported("pre-tokenizer", pre)


def oniguruma_meaning(pattern: str) -> str:
    """A Split regex as HF's Oniguruma (Ruby syntax) reads it, written for codemill's engines:
    there ``X{1,3}+`` repeats ``X{1,3}`` (tiktoken's cl100k pattern verbatim keeps a whole
    digit run in HF, not runs of 3), ``$`` ends any line and ``^`` starts one."""
    out: list[str] = []
    i, depth = 0, 0  # depth: of character classes, which nest in Oniguruma
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            depth += 1
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
                continue
        elif depth:
            if c == "]" and out[-1] not in ("[", "[^"):  # a "]" first in a class is itself
                depth -= 1
        elif c == "$":
            c = r"(?=\n|\z)"
        elif c == "^":
            c = r"(?:\A|(?<=\n))"
        elif c == "{" and (m := re.match(r"\{(\d+)(?:,\d*)?\}\+(?![+?])", pattern[i:])):
            if m[1] != "1":
                raise _unsupported(f"Split regex repeat {m[0]!r} (Oniguruma repeats the repeat)", pattern)
            out.append("+")  # (X{1,n})+ is X+
            i += len(m[0])
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _check_byte_level(pre: Any) -> None:
    # Without a ByteLevel step last HF looks the text's own characters up, not their bytes.
    steps = pre.get("pretokenizers", []) if isinstance(pre, dict) and pre.get("type") == "Sequence" else [pre]
    if not steps or not isinstance(steps[-1], dict) or steps[-1].get("type") != "ByteLevel":
        raise _unsupported("pre-tokenizer without a ByteLevel step last (not a byte-level BPE)", pre)


def _check_normalizer(norm: Any) -> None:
    if norm is None or (norm.get("type") == "Sequence" and not norm.get("normalizers")):
        return
    raise _unsupported("normalizer", norm)


def _check_model(model: dict[str, Any]) -> None:
    if model.get("type", "BPE") != "BPE":
        raise _unsupported("model", model.get("type"))
    for key in ("byte_fallback", "continuing_subword_prefix", "end_of_word_suffix", "dropout"):
        if model.get(key):
            raise _unsupported(f"BPE option {key}={model[key]!r}", model.get("type", "BPE"))


def _check_decoder(dec: Any) -> None:
    if dec is None or dec.get("type") == "ByteLevel":
        return
    raise _unsupported("decoder", dec)


def _hf_added_ids(added: list[dict[str, Any]], vocab: dict[str, int]) -> dict[str, int]:
    """The ids HF gives the added tokens on load (tokenizers 0.23's AddedVocabulary): it reads
    no "id", but takes the content's id in model.vocab, else the next after the vocabulary's
    size and the new added tokens before it, in the file's order (an id of model.vocab past its
    size, in a vocabulary with gaps, does not move them)."""
    ids: dict[str, int] = {}
    new = len(vocab)
    for a in added:
        c = a["content"]
        if c in ids:
            continue
        if c in vocab:
            ids[c] = vocab[c]
        else:
            ids[c], new = new, new + 1
    return ids


def find_tokenizer_json(path: Path) -> Path:
    if path.is_dir():
        f = path / "tokenizer.json"
        if not f.exists():
            raise FileNotFoundError(f"{path}: directory holds no tokenizer.json")
        return f
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return path


def from_huggingface(path: str | os.PathLike[str]) -> BaseVocabTokenizer:
    """A tokenizer from a ``tokenizer.json`` (or a directory holding one)."""
    f = check_regular_file(find_tokenizer_json(Path(path)), TokenizerFileError)
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenizerFileError(f"{f}: not a tokenizer.json ({exc})") from None
    config = {}
    cfg_file = f.parent / "tokenizer_config.json"
    if cfg_file.exists():
        try:
            config = json.loads(check_regular_file(cfg_file, TokenizerFileError).read_text(encoding="utf-8"))
        except OSError as exc:
            raise TokenizerFileError(f"{cfg_file}: cannot read ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            config = {}
    try:
        return from_huggingface_json(data, source=str(f), config=config)
    except UnsupportedTokenizerError as exc:
        raise UnsupportedTokenizerError(f"{f}: {exc}") from None
    except TokenizerFileError as exc:
        raise TokenizerFileError(f"{f}: {exc}") from None


def from_huggingface_json(
    data: dict[str, Any], *, source: str, config: dict[str, Any] | None = None
) -> BaseVocabTokenizer:
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise TokenizerFileError("not a tokenizer.json (no 'model' object)")
    try:
        return _from_json(data, source, config)
    except CodemillError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, OverflowError) as exc:
        # Valid JSON of another shape (a number where an object goes, an id that is a string...).
        raise TokenizerFileError(f"not a tokenizer.json of the expected shape ({type(exc).__name__}: {exc})") from None


def _from_json(data: dict[str, Any], source: str, config: dict[str, Any] | None) -> BaseVocabTokenizer:
    _check_normalizer(data.get("normalizer"))
    model = data["model"]
    _check_model(model)
    _check_decoder(data.get("decoder"))
    stages = _stages(data.get("pre_tokenizer"))
    vocab: dict[str, int] = model.get("vocab", {})
    if not isinstance(vocab, dict):
        raise TokenizerFileError("model.vocab must map tokens to ids")
    for tok, i in vocab.items():
        token_id(i, f"model.vocab[{tok!r}]")
    # Added tokens may sit in the vocabulary too, spelled as text rather than byte-level.
    added_ids = _hf_added_ids(data.get("added_tokens", []), vocab)
    tokens: list[bytes | None] = [None] * (max(vocab.values(), default=-1) + 1)
    for tok, i in vocab.items():
        tokens[i] = tok.encode("utf-8") if added_ids.get(tok) == i else token_bytes(tok)
    merges: list[tuple[int, int]] = []
    for n, m in enumerate(model.get("merges", [])):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        try:
            merges.append((vocab[a], vocab[b]))
        except KeyError as exc:
            raise TokenizerFileError(f"merge {n} names {exc.args[0]!r}, which is not in the vocabulary") from None
    added = []
    for a in data.get("added_tokens", []):
        for flag in ("lstrip", "rstrip", "single_word"):
            if a.get(flag):
                raise _unsupported(f"added token {a['content']!r} with {flag}=true", flag)
        token_id(a["id"], "added token")
        added.append(
            AddedToken(a["content"], added_ids[a["content"]], bool(a.get("special")), bool(a.get("normalized")))
        )
    _check_byte_level(data.get("pre_tokenizer"))
    eos = (config or {}).get("eos_token")
    if isinstance(eos, dict):
        eos = eos.get("content")
    spec = BaseSpec(
        tokens=tokens,
        merges=merges,
        whole_first=bool(model.get("ignore_merges")),
        stages=stages,
        added=added,
        eos=pick_eos(added, eos),
        source={
            "kind": "huggingface",
            "name": Path(source).parent.name or Path(source).name,
            "file": Path(source).name,
        },
    )
    return BaseVocabTokenizer(spec)
