"""The fill-in-the-middle special tokens: codemill's, a tokenizer's, and reading a FIM sample back."""

from __future__ import annotations

from typing import Any

from codemill.errors import CodemillError
from codemill.tokenizer.code_tokenizer import SPECIAL_TOKENS

EOT, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"
assert {EOT, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX} <= set(SPECIAL_TOKENS), "codemill's special tokens changed"
# (prefix, middle, suffix): codemill's FIM special tokens.
FIM_TOKENS = (FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX)


def fim_tokens_for(tokenizer: Any) -> tuple[str, str, str]:
    """The (prefix, middle, suffix) FIM special tokens of a tokenizer (``special_tokens``
    names holding ``fim_prefix`` / ``fim_middle`` / ``fim_suffix``, as codemill's and
    StarCoder's do); a clear error when it has none."""
    names = list(tokenizer.special_tokens)
    found = []
    for role in ("prefix", "middle", "suffix"):
        matches = [t for t in names if f"fim_{role}" in t]
        if len(matches) != 1:
            raise CodemillError(
                f"the tokenizer has {'no' if not matches else 'several'} fim_{role} special token(s) "
                f"(special tokens: {', '.join(names) or 'none'}); FIM samples need one of each"
            )
        found.append(matches[0])
    return found[0], found[1], found[2]


def fim_parts(sample: dict[str, Any], fim_tokens: tuple[str, str, str] = FIM_TOKENS) -> tuple[str, str, str]:
    """(prefix, middle, suffix) parsed back out of a FIM sample's ``text``, PSM or SPM.

    In SPM order the prefix and middle run together after the middle token; the prefix
    length (``meta["middle_start_char"]``) separates them.
    """
    pre, mid, suf = fim_tokens
    text = sample["text"]
    if text.startswith(pre + suf):
        suffix, sep, joined = text[len(pre + suf) :].partition(mid)
        cut = sample["meta"]["middle_start_char"]
        prefix, middle = joined[:cut], joined[cut:]
    elif text.startswith(pre):
        prefix, sep, rest = text[len(pre) :].partition(suf)
        suffix, sep2, middle = rest.partition(mid)
        sep = sep and sep2
    else:
        sep = ""
    if not sep:
        raise CodemillError("not a FIM sample: its text lacks the FIM special tokens")
    return prefix, middle, suffix
