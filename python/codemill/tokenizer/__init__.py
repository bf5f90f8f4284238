"""The code-aware tokenizer: CodeTokenizer (train, load/save, encode/decode, bundled default).

May import: codemill._core, errors, languages, sources. Nothing above it (corpus, finetune,
index, context, bench, commands) is imported from here.
"""

from codemill.tokenizer.code_tokenizer import SPECIAL_TOKENS, CodeTokenizer

__all__ = ["SPECIAL_TOKENS", "CodeTokenizer"]
