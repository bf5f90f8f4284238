"""SampleBuilder: the samples of one file (raw, completion, FIM, docstring) as uniform dicts."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from codemill.errors import CodemillError
from codemill.finetune.samples.boundaries import SourceFile, boundary_nodes, captures
from codemill.finetune.samples.docstrings import LANGUAGE_NAMES, TEMPLATES, documented
from codemill.finetune.samples.fim_tokens import FIM_TOKENS
from codemill.finetune.samples.splits import Split, completion_split, fim_split
from codemill.syntax.parsers import first_error_byte, grammar_for_path, parse_file

KINDS = ("raw", "completion", "fim", "docstring")
SAMPLE_FIELDS = (
    "id",
    "kind",
    "template",
    "language",
    "repository",
    "path",
    "text",
    "prompt",
    "completion",
    "messages",
    "meta",
)


def _none_reason(f: SourceFile, kind: str) -> str:
    """Why a file gave no split of ``kind``: no boundary, or none before its first syntax error
    (nothing past one is a boundary; the file has them, the parser lost them)."""
    return f"{kind}_syntax_error" if f.error_at is not None else f"{kind}_no_boundary"


class SampleBuilder:
    """Builds the samples of one file. Parsers and queries are cached per process (and thread)
    by :mod:`codemill.syntax`."""

    def __init__(
        self,
        kinds: Sequence[str] = KINDS,
        *,
        fim_rate: float = 0.5,
        fim_spm_rate: float = 0.5,
        seed: int = 0,
        completion_max_bytes: int = 4096,
        fim_max_middle_bytes: int = 2048,
        max_docstring_functions: int = 8,
        fim_tokens: tuple[str, str, str] = FIM_TOKENS,
    ) -> None:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise CodemillError(f"unknown sample kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
        if not kinds:  # as the command refuses --samples '': an empty output, said nowhere
            raise CodemillError(f"samples must name at least one kind; known: {', '.join(KINDS)}")
        for name, rate in (("fim_rate", fim_rate), ("fim_spm_rate", fim_spm_rate)):
            if not 0.0 <= rate <= 1.0:
                raise CodemillError(f"{name} must be between 0 and 1, got {rate}")
        for name, n, least in (
            ("completion_max_bytes", completion_max_bytes, 1),
            ("fim_max_middle_bytes", fim_max_middle_bytes, 1),
            ("max_docstring_functions", max_docstring_functions, 0),
        ):
            if n < least:  # -1 ended a run inside a worker (random.sample); -5 cut every completion
                raise CodemillError(f"{name} must be at least {least}, got {n}")
        self.kinds = tuple(k for k in KINDS if k in kinds)
        self.fim_rate = fim_rate
        self.fim_spm_rate = fim_spm_rate
        self.seed = seed
        self.completion_max_bytes = completion_max_bytes
        self.fim_max_middle_bytes = fim_max_middle_bytes
        self.max_docstring_functions = max_docstring_functions
        self.fim_tokens: tuple[str, str, str] = (fim_tokens[0], fim_tokens[1], fim_tokens[2])

    def rng(self, f: SourceFile, kind: str) -> random.Random:
        """The choices of one kind of sample of one file: seeded by the run's seed, the file's
        repository and path, and its content, so two files that share a repository and path (a
        record file's records that repeat `setup.py`, two inputs whose folders share a name)
        draw apart, as every other pair of files does."""
        h = hashlib.blake2b(f"{self.seed}\0{f.repository}\0{f.path}\0{kind}\0".encode(), digest_size=8)
        h.update(f.data)
        return random.Random(int.from_bytes(h.digest(), "little"))

    def build(self, text: str, language: str, path: str, repository: str) -> tuple[list[dict[str, Any]], Counter[str]]:
        """The samples of one cleaned file and a count of kinds it could not give (with why)."""
        missed: Counter[str] = Counter()
        samples: list[dict[str, Any]] = []
        if "fim" in self.kinds and self.fim_rate > 0 and any(token in text for token in self.fim_tokens):
            # Its samples would carry the markers as text, which `tokenize` (told by the sidecar
            # that this output uses them) encodes as the special tokens, and a FIM sample of it
            # could not be split back into its parts: a file that spells them gives none. Without
            # FIM samples (none asked for, or a rate of 0) the sidecar names no markers, and they
            # are text like any other.
            missed["fim_token_in_text"] += 1
            return samples, missed
        f = SourceFile(text, text.encode("utf-8", "surrogatepass"), grammar_for_path(path, language), path, repository)
        if "raw" in self.kinds:
            samples.append(self._sample(f, language, "raw", "raw", text, "", "", None, {}))
        if any(k in self.kinds for k in ("completion", "fim", "docstring")):
            f.grammar, f.tree = parse_file(f.data, path, language)
            if f.tree is None:
                missed["no_grammar"] += 1
                return samples, missed
            root = f.tree.root_node
            f.error_at = first_error_byte(root)
            stmts, f.funcs = captures(root, f.grammar)
            f.stmts = boundary_nodes(stmts, f.error_at)
        if "completion" in self.kinds:
            split = completion_split(f, self.rng(f, "completion"), self.completion_max_bytes)
            if split is None:
                missed[_none_reason(f, "completion")] += 1
            else:
                samples.append(self._split_sample(f, language, "completion", "completion", split))
        if "fim" in self.kinds:
            rng = self.rng(f, "fim")
            if rng.random() < self.fim_rate:
                fim = fim_split(f, rng, self.fim_max_middle_bytes, self.fim_spm_rate, self.fim_tokens)
                if fim is None:
                    missed[_none_reason(f, "fim")] += 1
                else:
                    samples.append(self._split_sample(f, language, "fim", *fim))
        if "docstring" in self.kinds:
            samples.extend(self._docstrings(f, language, missed))
        return samples, missed

    def _sample(
        self,
        f: SourceFile,
        language: str,
        kind: str,
        template: str,
        text: str,
        prompt: str,
        completion: str,
        messages: list[dict[str, str]] | None,
        meta: dict[str, Any],
        n: int = 0,
    ) -> dict[str, Any]:
        return {
            "id": f"{f.repository}/{f.path}#{template}" + (f"-{n}" if n else ""),
            "kind": kind,
            "template": template,
            "language": language,
            "repository": f.repository,
            "path": f.path,
            "text": text,
            "prompt": prompt,
            "completion": completion,
            "messages": messages,
            "meta": meta,
        }

    def _split_sample(self, f: SourceFile, language: str, kind: str, template: str, split: Split) -> dict[str, Any]:
        text = split.prompt + split.target
        return self._sample(f, language, kind, template, text, split.prompt, split.target, None, split.meta)

    def _docstrings(self, f: SourceFile, language: str, missed: Counter[str]) -> list[dict[str, Any]]:
        limit = f.error_at
        found = []
        broken = False  # a function left out for a syntax error
        for node in f.funcs:
            if node.has_error or (limit is not None and node.end_byte > limit):
                broken = True
                continue
            doc = documented(f, node)
            if doc is not None:
                found.append(doc)
        if not found:
            # No documented function, as the other kinds count; or none before a syntax error.
            missed["docstring_syntax_error" if broken else "docstring_none"] += 1
        if len(found) > self.max_docstring_functions:
            missed["docstring_over_limit"] += len(found) - self.max_docstring_functions
            rng = self.rng(f, "docstring")
            keep = sorted(rng.sample(range(len(found)), self.max_docstring_functions))
            found = [found[i] for i in keep]
        out = []
        name = LANGUAGE_NAMES.get(f.grammar, language)
        fence = "cpp" if f.grammar == "cpp" else ("typescript" if f.grammar == "tsx" else f.grammar)

        def chat(template: str, code: str, answer: str, meta: dict[str, Any], n: int) -> dict[str, Any]:
            # An instruction sample: the template filled with `code` asks, `answer` replies.
            prompt = TEMPLATES[template].format(language=name, fence=fence, code=code)
            messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
            return self._sample(
                f, language, "docstring", template, prompt + "\n\n" + answer, prompt, answer, messages, meta, n
            )

        for i, d in enumerate(found, 1):
            meta = {"function": d.name, "start_byte": d.start, "end_byte": d.end}
            out.append(chat("docstring-from-code", d.code, d.doc, meta, i))
            if d.body is not None:
                out.append(chat("body-from-docstring", d.head, d.body, meta, i))
        return out
