"""Training samples with real targets, cut at syntax boundaries found with tree-sitter.

Kinds (and the templates that format them):

- ``raw`` (template ``raw``): the cleaned file, for pre-training / continued pre-training.
- ``completion`` (``completion``): prefix -> completion, split just after a statement or
  definition (the end byte of a tree-sitter statement node; a blank rest of line goes with the
  prefix). The completion runs to the end of the file, or to a later statement end when the
  rest is longer than ``completion_max_bytes``.
- ``fim`` (``fim-psm`` / ``fim-spm``): fill-in-the-middle with the tokenizer's special tokens.
  The middle is a run of whole sibling statements/definitions, so it starts at a node's start
  byte and ends at a node's end byte; prefix + middle + suffix is always the file. PSM is
  ``<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>M`` and SPM is the FIM paper's variant 2
  (as BigCode trains it): ``<|fim_prefix|><|fim_suffix|>S<|fim_middle|>PM``.
- ``docstring`` (``docstring-from-code`` / ``body-from-docstring``): only for functions that
  have a real docstring (Python) or doc comment (``/** */`` in Java/JS/TS, Doxygen in C/C++,
  ``///`` in Rust, the comment block before a Go func): code -> docstring, and docstring +
  signature -> body. These are instructions, given both as prompt/completion and as chat
  ``messages``.

Every sample is a dict with the same keys (see :data:`SAMPLE_FIELDS`); no separator or
end-of-text token is appended (packers add those between documents). Choices come from a
random generator seeded by (seed, repository, path, kind, content), so a file's samples do not
depend on which other files or kinds are in the run, and two files that share a repository and
path do not share their draws.

Modules: ``boundaries`` (the parsed file and its statement boundaries), ``splits``
(completion and FIM cuts), ``docstrings`` (documented functions), ``fim_tokens`` (FIM special
tokens), ``builder`` (:class:`SampleBuilder`). May import: syntax, tokenizer, errors.
"""

from __future__ import annotations

from codemill.finetune.samples.boundaries import statement_nodes
from codemill.finetune.samples.builder import KINDS, SAMPLE_FIELDS, SampleBuilder
from codemill.finetune.samples.docstrings import TEMPLATES
from codemill.finetune.samples.fim_tokens import (
    EOT,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    FIM_TOKENS,
    fim_parts,
    fim_tokens_for,
)

__all__ = [
    "EOT",
    "FIM_MIDDLE",
    "FIM_PREFIX",
    "FIM_SUFFIX",
    "FIM_TOKENS",
    "KINDS",
    "SAMPLE_FIELDS",
    "TEMPLATES",
    "SampleBuilder",
    "fim_parts",
    "fim_tokens_for",
    "statement_nodes",
]
