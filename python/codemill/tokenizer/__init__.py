"""Tokenizers: CodeTokenizer (train, load/save, encode/decode, bundled default) and base
vocabularies (a model's tiktoken rank file or byte-level BPE tokenizer.json, encoded with its
own ids; identifier extension; transformers export; offsets and streaming decode).

May import: codemill._core, errors, languages, sources, _io. Nothing above it (corpus,
finetune, index, context, bench, commands) is imported from here. ``hf_remote`` is the one
module that imports transformers: it is copied into exported directories and runs there.
"""

from codemill.tokenizer.code_tokenizer import SPECIAL_TOKENS, CodeTokenizer, TokenizerArg, load_tokenizer

__all__ = ["SPECIAL_TOKENS", "CodeTokenizer", "TokenizerArg", "load_tokenizer"]
