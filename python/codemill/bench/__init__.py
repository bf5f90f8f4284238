"""Side-by-side tokenizer comparisons behind `codemill bench` (tiktoken, HF tokenizers, ...).

May import: tokenizer, sources, languages, errors, _io, outputs.
"""
