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
random generator seeded by (seed, repository, path, kind), so a file's samples do not depend
on which other files or kinds are in the run.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codemill.tokenizer.code_tokenizer import SPECIAL_TOKENS

__all__ = [
    "KINDS",
    "SAMPLE_FIELDS",
    "TEMPLATES",
    "SampleBuilder",
    "fim_parts",
    "fim_tokens_for",
    "statement_nodes",
]

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
            raise ValueError(
                f"the tokenizer has {'no' if not matches else 'several'} fim_{role} special token(s) "
                f"(special tokens: {', '.join(names) or 'none'}); FIM samples need one of each"
            )
        found.append(matches[0])
    return found[0], found[1], found[2]


LANGUAGE_NAMES = {
    "python": "Python",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "tsx": "TypeScript",
    "java": "Java",
    "go": "Go",
    "rust": "Rust",
    "c": "C",
    "cpp": "C++",
}

# Instruction templates: {language} is the language's name, {fence} its code-fence tag.
TEMPLATES: dict[str, str] = {
    "docstring-from-code": (
        "Write the documentation comment for this {language} function. Reply with the text of the "
        "documentation only.\n\n```{fence}\n{code}\n```"
    ),
    "body-from-docstring": (
        "Implement this {language} function so that it does what its documentation says. Reply with "
        "the body of the function only.\n\n```{fence}\n{code}\n```"
    ),
}

# Containers whose children are statements or definitions: a boundary must sit in one, so
# that a split never lands inside a for-header, a parameter list or an expression.
_CONTAINER = re.compile(
    r"^(module|program|source_file|translation_unit|block|statement_block|compound_statement|"
    r"declaration_list|field_declaration_list|class_body|interface_body|enum_body|"
    r"enum_body_declarations|constructor_body|switch_block_statement_group|switch_case|"
    r"switch_default|statement_list|expression_case|default_case|type_case|communication_case|"
    r"case_statement|preproc_if|preproc_ifdef|preproc_else|preproc_elif|preproc_elifdef|"
    r"namespace_definition|linkage_specification|labeled_statement)$"
)
_STATEMENT = re.compile(r"(_statement|_definition|_declaration|_item|^declaration)$")
_NOT_STATEMENT = frozenset(
    {
        "with_item",
        "attribute_item",
        "inner_attribute_item",
        "compound_statement",
        "parameter_declaration",
        "optional_parameter_declaration",
        "variadic_parameter_declaration",
        "type_parameter_declaration",
        "optional_type_parameter_declaration",
        "variadic_type_parameter_declaration",
        "template_template_parameter_declaration",
        "init_statement",
        "empty_statement",
        "attribute_declaration",
    }
)

_FUNCTIONS = {
    "python": ("function_definition",),
    "javascript": ("function_declaration", "generator_function_declaration", "method_definition"),
    "typescript": ("function_declaration", "generator_function_declaration", "method_definition"),
    "tsx": ("function_declaration", "generator_function_declaration", "method_definition"),
    "java": ("method_declaration", "constructor_declaration"),
    "go": ("function_declaration", "method_declaration"),
    "rust": ("function_item",),
    "c": ("function_definition",),
    "cpp": ("function_definition",),
}
# Wrappers whose leading comment documents the function inside them.
_WRAPPERS = frozenset({"export_statement", "template_declaration", "decorated_definition"})
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_PLACEHOLDER_BODY = re.compile(r"^(pass|\.\.\.|raise NotImplementedError(\(.*\))?)$")


def _query(language: str) -> Any | None:
    """One query per language, built once per process: statements (@s) and functions (@f)."""
    if language in _QUERY_CACHE:
        return _QUERY_CACHE[language]
    from codemill.syntax import parsers as syntax

    lang = syntax.language_for(language)
    query = None
    if lang is not None:
        import tree_sitter

        kinds = sorted(
            {
                lang.node_kind_for_id(i)
                for i in range(lang.node_kind_count)
                if lang.node_kind_is_named(i) and lang.node_kind_is_visible(i)
            }
        )
        stmts = [k for k in kinds if _STATEMENT.search(k) and k not in _NOT_STATEMENT]
        funcs = [k for k in _FUNCTIONS.get(language, ()) if k in kinds]
        source = "[" + " ".join(f"({k})" for k in stmts) + "] @s"
        if funcs:
            source += "\n[" + " ".join(f"({k})" for k in funcs) + "] @f"
        query = tree_sitter.Query(lang, source)
    _QUERY_CACHE[language] = query
    return query


_QUERY_CACHE: dict[str, Any] = {}
_PARSERS: dict[str, Any] = {}


def _captures(root: Any, language: str) -> tuple[list[Any], list[Any]]:
    """(statement nodes, function nodes) of a tree, each in document order (one tree walk)."""
    query = _query(language)
    if query is None:
        return [], []
    import tree_sitter

    found = tree_sitter.QueryCursor(query).captures(root)
    out = []
    for name in ("s", "f"):
        nodes = found.get(name, [])
        nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
        out.append(nodes)
    return out[0], out[1]


def grammar_language(language: str, path: str) -> str:
    """The grammar to parse with: TSX files need the tsx grammar, not plain TypeScript."""
    if language == "typescript" and path.lower().endswith(".tsx"):
        return "tsx"
    return language


def parse(data: bytes, language: str) -> Any | None:
    parser = _PARSERS.get(language)
    if parser is None:
        from codemill.syntax import parsers as syntax

        parser = syntax.parser_for(language)
        if parser is None:
            return None
        _PARSERS[language] = parser
    return parser.parse(data)


def first_error_byte(root: Any) -> int | None:
    """The start byte of the first ERROR or MISSING node, or None for a clean tree."""
    if not root.has_error:
        return None
    node = root
    while True:
        for child in node.children:
            if child.is_error or child.is_missing:
                return int(child.start_byte)
            if child.has_error:
                node = child
                break
        else:
            return int(node.start_byte)


def statement_nodes(root: Any, language: str) -> list[Any]:
    """Statement/definition nodes that sit directly in a block-like container, in order.

    Nodes at or after the first syntax error are left out: boundaries past an error are guesses.
    """
    return _boundary_nodes(_captures(root, language)[0], first_error_byte(root))


def _boundary_nodes(nodes: list[Any], limit: int | None) -> list[Any]:
    out = []
    for node in nodes:
        if limit is not None and node.end_byte > limit:
            continue
        parent = node.parent
        if parent is None or node.has_error:
            continue
        if parent.parent is None or _CONTAINER.match(parent.type):
            out.append(node)
    return out


@dataclass
class _File:
    text: str
    data: bytes
    language: str  # the grammar used
    path: str
    repository: str
    tree: Any = None
    error_at: int | None = None  # first syntax error's byte
    stmts: list[Any] = field(default_factory=list)
    funcs: list[Any] = field(default_factory=list)
    # byte offset -> char offset, built on demand
    _char_of: dict[int, int] = field(default_factory=dict)

    def chars(self, byte: int) -> int:
        got = self._char_of.get(byte)
        if got is None:
            got = len(self.data[:byte].decode("utf-8"))
            self._char_of[byte] = got
        return got

    def slice(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8")


def _line_end_after(data: bytes, pos: int) -> int:
    """``pos`` moved past trailing spaces and one newline when the rest of the line is blank."""
    i = pos
    n = len(data)
    while i < n and data[i] in b" \t":
        i += 1
    if i < n and data[i] == 10:
        return i + 1
    if i == n:
        return n
    return pos


def _line_start(data: bytes, pos: int) -> int:
    return data.rfind(b"\n", 0, pos) + 1


class SampleBuilder:
    """Builds the samples of one file. One builder per process; it caches parsers and queries."""

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
            raise ValueError(f"unknown sample kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
        for name, rate in (("fim_rate", fim_rate), ("fim_spm_rate", fim_spm_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        self.kinds = tuple(k for k in KINDS if k in kinds)
        self.fim_rate = fim_rate
        self.fim_spm_rate = fim_spm_rate
        self.seed = seed
        self.completion_max_bytes = completion_max_bytes
        self.fim_max_middle_bytes = fim_max_middle_bytes
        self.max_docstring_functions = max_docstring_functions
        self.fim_tokens = tuple(fim_tokens)

    def rng(self, repository: str, path: str, kind: str) -> random.Random:
        digest = hashlib.blake2b(f"{self.seed}\0{repository}\0{path}\0{kind}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "little"))

    def build(self, text: str, language: str, path: str, repository: str) -> tuple[list[dict[str, Any]], Counter[str]]:
        """The samples of one cleaned file and a count of kinds it could not give (with why)."""
        missed: Counter[str] = Counter()
        samples: list[dict[str, Any]] = []
        f = _File(text, text.encode("utf-8", "surrogatepass"), grammar_language(language, path), path, repository)
        if "raw" in self.kinds:
            samples.append(self._sample(f, language, "raw", "raw", text, "", "", None, {}))
        if any(k in self.kinds for k in ("completion", "fim", "docstring")):
            f.tree = parse(f.data, f.language)
            if f.tree is None:
                missed["no_grammar"] += 1
                return samples, missed
            root = f.tree.root_node
            f.error_at = first_error_byte(root)
            stmts, f.funcs = _captures(root, f.language)
            f.stmts = _boundary_nodes(stmts, f.error_at)
        if "completion" in self.kinds:
            s = self._completion(f, language)
            if s is None:
                missed["completion_no_boundary"] += 1
            else:
                samples.append(s)
        if "fim" in self.kinds:
            rng = self.rng(repository, path, "fim")
            if rng.random() < self.fim_rate:
                s = self._fim(f, language, rng)
                if s is None:
                    missed["fim_no_boundary"] += 1
                else:
                    samples.append(s)
        if "docstring" in self.kinds:
            samples.extend(self._docstrings(f, language))
        return samples, missed

    # -- sample kinds -------------------------------------------------------------------------

    def _sample(
        self,
        f: _File,
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

    def _completion(self, f: _File, language: str) -> dict[str, Any] | None:
        data = f.data
        n = len(data)
        last = len(data.rstrip())  # a completion must hold more than whitespace
        # A node ending before `last` has a non-blank rest, so its split (end of its line at
        # most) is before `last` too; splits are computed only where needed.
        ends = [(int(node.end_byte), node) for node in f.stmts]
        cands = [(e, node) for e, node in ends if 0 < e < last]
        if not cands:
            return None
        # Prefer a split with real context on both sides.
        middle = [c for c in cands if 0.1 * n <= c[0] <= 0.9 * n] or cands
        rng = self.rng(f.repository, f.path, "completion")
        boundary, node = middle[rng.randrange(len(middle))]
        split = _line_end_after(data, boundary)
        end = n
        if n - split > self.completion_max_bytes:
            # Cut at the last statement end that fits (the blank rest of its line included),
            # or at the first one after the split when none fits.
            limit = split + self.completion_max_bytes
            fitted = None
            for e in sorted({e for e, _ in cands if e > split}):
                e = _line_end_after(data, e)
                if e > limit:
                    if fitted is None:
                        fitted = e
                    break
                fitted = e
            if fitted is not None:
                end = fitted
        prompt, completion = f.slice(0, split), f.slice(split, end)
        meta = {
            "boundary": node.type,
            "boundary_byte": boundary,
            "split_byte": split,
            "end_byte": end,
            "split_char": f.chars(split),
        }
        return self._sample(
            f, language, "completion", "completion", prompt + completion, prompt, completion, None, meta
        )

    def _fim(self, f: _File, language: str, rng: random.Random) -> dict[str, Any] | None:
        nodes = [s for s in f.stmts if s.end_byte - s.start_byte <= self.fim_max_middle_bytes]
        if not nodes:
            return None
        first = nodes[rng.randrange(len(nodes))]
        last = first
        # Extend the middle over up to two following sibling statements.
        for _ in range(rng.randrange(3)):
            nxt = last.next_named_sibling
            if (
                nxt is None
                or nxt.type in _NOT_STATEMENT
                or not _STATEMENT.search(nxt.type)
                or nxt.has_error
                or nxt.end_byte - first.start_byte > self.fim_max_middle_bytes
            ):
                break
            last = nxt
        a, b = int(first.start_byte), int(last.end_byte)
        prefix, middle, suffix = f.slice(0, a), f.slice(a, b), f.slice(b, len(f.data))
        spm = rng.random() < self.fim_spm_rate
        pre, mid, suf = self.fim_tokens
        if spm:
            prompt = f"{pre}{suf}{suffix}{mid}{prefix}"
            template = "fim-spm"
        else:
            prompt = f"{pre}{prefix}{suf}{suffix}{mid}"
            template = "fim-psm"
        meta = {
            "order": "spm" if spm else "psm",
            "middle_start_byte": a,
            "middle_end_byte": b,
            "middle_start_char": f.chars(a),
            "middle_end_char": f.chars(b),
            "middle_nodes": [first.type] if first == last else [first.type, last.type],
        }
        return self._sample(f, language, "fim", template, prompt + middle, prompt, middle, None, meta)

    def _docstrings(self, f: _File, language: str) -> list[dict[str, Any]]:
        limit = f.error_at
        found = []
        for node in f.funcs:
            if node.has_error or (limit is not None and node.end_byte > limit):
                continue
            doc = _python_doc(f, node) if f.language == "python" else _comment_doc(f, node)
            if doc is not None:
                found.append(doc)
        if len(found) > self.max_docstring_functions:
            rng = self.rng(f.repository, f.path, "docstring")
            keep = sorted(rng.sample(range(len(found)), self.max_docstring_functions))
            found = [found[i] for i in keep]
        out = []
        name = LANGUAGE_NAMES.get(f.language, language)
        fence = "cpp" if f.language == "cpp" else ("typescript" if f.language == "tsx" else f.language)

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


@dataclass
class _Doc:
    name: str
    start: int
    end: int
    doc: str  # the documentation text, markers stripped
    code: str  # the function without its documentation
    head: str  # documentation + signature
    body: str | None  # the body (None when it is only a placeholder)


def _dedent(text: str, indent: str) -> str:
    if not indent:
        return text
    return "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in text.split("\n"))


def _name(node: Any) -> str:
    name = node.child_by_field_name("name")
    if name is None:
        declarator = node.child_by_field_name("declarator")
        while declarator is not None and declarator.child_by_field_name("declarator") is not None:
            declarator = declarator.child_by_field_name("declarator")
        name = declarator
    return name.text.decode("utf-8", "replace") if name is not None and name.text else ""


def _python_doc(f: _File, node: Any) -> _Doc | None:
    """A function with a real docstring: a plain string literal as its first statement."""
    body = node.child_by_field_name("body")
    if body is None or not body.named_children:
        return None
    first = body.named_children[0]
    if first.type != "expression_statement" or len(first.named_children) != 1:
        return None
    lit = first.named_children[0]
    if lit.type != "string":
        return None
    try:
        value = ast.literal_eval(f.slice(lit.start_byte, lit.end_byte))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(value, str):
        return None
    doc = inspect.cleandoc(value)
    if not _LETTERS.search(doc):
        return None
    data = f.data
    outer = node.parent if node.parent is not None and node.parent.type == "decorated_definition" else node
    start = _line_start(data, outer.start_byte)
    indent = f.slice(start, outer.start_byte)
    doc_line = _line_start(data, first.start_byte)
    doc_end = _line_end_after(data, first.end_byte)
    if indent.strip() or f.slice(doc_line, first.start_byte).strip() or doc_end == first.end_byte:
        return None  # something shares a line with the definition or the docstring
    end = int(node.end_byte)
    code = _dedent(f.slice(start, doc_line) + f.slice(doc_end, end), indent)
    rest = body.named_children[1:]
    body_text = None
    if rest:
        body_start = _line_start(data, rest[0].start_byte)
        candidate = f.slice(body_start, end)
        if not _PLACEHOLDER_BODY.match(candidate.strip()):
            body_text = _dedent(candidate, indent)
        head = _dedent(f.slice(start, body_start), indent)
    else:
        head = _dedent(f.slice(start, doc_end), indent)
    return _Doc(_name(node), start, end, doc, code, head.rstrip("\n"), body_text)


def _is_doc_comment(text: str, language: str) -> bool:
    if language in ("java", "javascript", "typescript", "tsx"):
        return text.startswith("/**") and not text.startswith("/**/")
    if language == "rust":
        return (text.startswith("///") and not text.startswith("////")) or text.startswith("/**")
    if language in ("c", "cpp"):
        return text.startswith(("/**", "/*!", "///", "//!")) and not text.startswith("/**/")
    if language == "go":
        return text.startswith(("//", "/*"))
    return False


def _clean_comment(text: str) -> str:
    lines = []
    for raw in text.split("\n"):
        line = raw.strip()
        for marker in ("/**", "/*!", "/*", "///", "//!", "//"):
            if line.startswith(marker):
                line = line[len(marker) :]
                break
        if line.endswith("*/"):
            line = line[:-2]
        line = line.strip()
        if line.startswith("*"):
            line = line[1:]
        lines.append(line.rstrip())
    return inspect.cleandoc("\n".join(lines))


def _comment_doc(f: _File, node: Any) -> _Doc | None:
    """A function with a doc comment right above it (attributes may sit between)."""
    body = node.child_by_field_name("body")
    if body is None:
        return None
    anchor = node
    while anchor.parent is not None and anchor.parent.type in _WRAPPERS:
        anchor = anchor.parent
    prev = anchor.prev_sibling
    row = anchor.start_point[0]
    while prev is not None and prev.type == "attribute_item" and prev.end_point[0] >= row - 1:
        row = prev.start_point[0]
        prev = prev.prev_sibling
    comments = []
    while prev is not None and prev.type in ("comment", "line_comment", "block_comment"):
        if prev.end_point[0] < row - 1:
            break
        text = f.slice(prev.start_byte, prev.end_byte)
        if not _is_doc_comment(text, f.language):
            break
        comments.append(prev)
        if text.startswith("/*"):
            break  # one block comment is the whole doc
        row = prev.start_point[0]
        prev = prev.prev_sibling
    if not comments:
        return None
    comments.reverse()
    data = f.data
    doc = _clean_comment("\n".join(f.slice(c.start_byte, c.end_byte) for c in comments))
    if not _LETTERS.search(doc):
        return None
    start = _line_start(data, comments[0].start_byte)
    indent = f.slice(start, comments[0].start_byte)
    code_start = _line_start(data, anchor.start_byte)
    if indent.strip() or f.slice(code_start, anchor.start_byte) != indent:
        return None
    end = int(anchor.end_byte)
    code = _dedent(f.slice(code_start, end), indent)
    head = _dedent(f.slice(start, body.start_byte), indent).rstrip()
    body_text = _dedent(indent + f.slice(body.start_byte, end), indent)
    inner = body_text.strip().lstrip("{").rstrip("}").strip()
    return _Doc(_name(node), start, end, doc, code, head, body_text if inner else None)


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
        raise ValueError("not a FIM sample: its text lacks the FIM special tokens")
    return prefix, middle, suffix
