"""Documented functions: a Python docstring or a doc comment right above a function, split
into the documentation, the code without it, the signature and the body."""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from codemill.finetune.samples.boundaries import SourceFile, line_end_after, line_start
from codemill.syntax.definitions import COMMENT_KINDS, LEADING_KINDS, WRAPPER_KINDS, definition_name

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

_LETTERS = re.compile(r"[^\W\d_]{2,}")
_PLACEHOLDER_BODY = re.compile(r"^(pass|\.\.\.|raise NotImplementedError(\(.*\))?)$")
# Siblings between a doc comment and its function that belong to the code: Rust's attributes,
# TypeScript's decorators.
_ATTRIBUTE_KINDS = LEADING_KINDS - COMMENT_KINDS
# A banner of slashes: an ordinary comment to rustdoc and Doxygen, stepped over, never doc text.
_BANNER = re.compile(r"////+\s*")


@dataclass
class Documented:
    """A function with its documentation."""

    name: str
    start: int
    end: int
    doc: str  # the documentation text, markers stripped
    code: str  # the function without its documentation
    head: str  # documentation + signature
    body: str | None  # the body (None when it is only a placeholder)


def documented(f: SourceFile, node: Any) -> Documented | None:
    """The documentation of a function node, or None when it has none worth learning from."""
    return python_doc(f, node) if f.grammar == "python" else comment_doc(f, node)


def _dedent(text: str, indent: str) -> str:
    if not indent:
        return text
    return "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in text.split("\n"))


def _string_body(literal: str) -> str:
    """The text between the quotes of a Python string literal, as written (prefix dropped)."""
    body = literal.lstrip("rRuU")
    quote = 3 if body[:3] in ('"""', "'''") else 1
    return body[quote:-quote]


def python_doc(f: SourceFile, node: Any) -> Documented | None:
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
    source = f.slice(lit.start_byte, lit.end_byte)
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(value, str):
        return None
    # The docstring as written, not its value: `\n` in the source is two characters the model
    # should write, not a line break (the body-from-docstring prompt shows the source form).
    doc = _cleandoc(_string_body(source))
    if not _LETTERS.search(doc):
        return None
    data = f.data
    outer = node.parent if node.parent is not None and node.parent.type == "decorated_definition" else node
    start = line_start(data, outer.start_byte)
    indent = f.slice(start, outer.start_byte)
    doc_line = line_start(data, first.start_byte)
    rest = body.named_children[1:]
    doc_stop = first.end_byte
    if rest and rest[0].type in COMMENT_KINDS and rest[0].start_point[0] == first.end_point[0]:
        # A comment after it on its line (a linter's "noqa: D401") goes with the docstring.
        doc_stop = rest[0].end_byte
        rest = rest[1:]
    doc_end = line_end_after(data, doc_stop)
    # (line_end_after stays put at a statement after it, and at the end of the file)
    if indent.strip() or f.slice(doc_line, first.start_byte).strip() or doc_end == doc_stop < len(data):
        return None  # something shares a line with the definition or the docstring
    end = int(node.end_byte)
    code = _dedent(f.slice(start, doc_line) + f.slice(doc_end, end), indent)
    body_text = None
    if rest:
        body_start = line_start(data, rest[0].start_byte)
        # Comments are no body: `# TODO` alone, or `pass  # TODO`, is a placeholder too.
        code_nodes = [c for c in rest if c.type not in COMMENT_KINDS]
        placeholder = not code_nodes or (
            len(code_nodes) == 1
            and _PLACEHOLDER_BODY.match(f.slice(code_nodes[0].start_byte, code_nodes[0].end_byte).strip())
        )
        if not placeholder:
            body_text = _dedent(f.slice(body_start, end), indent)
        head = _dedent(f.slice(start, body_start), indent)
    else:
        head = _dedent(f.slice(start, doc_end), indent)
    return Documented(definition_name(node) or "", start, end, doc, code, head.rstrip("\n"), body_text)


# What gofmt takes for a directive, not documentation: //go:noinline, //nolint:errcheck,
# //line f.go:1, //export F, //extern f; and a bare //nolint (golangci-lint's).
_GO_DIRECTIVE = re.compile(r"//(line |extern |export |nolint\b|[a-z0-9]+:[a-z0-9])")


def _is_doc_comment(text: str, grammar: str) -> bool:
    if grammar in ("java", "javascript", "typescript", "tsx"):
        return text.startswith("/**") and not text.startswith("/**/")
    if grammar == "rust":
        return (text.startswith("///") and not text.startswith("////")) or text.startswith("/**")
    if grammar in ("c", "cpp"):
        return text.startswith(("/**", "/*!", "///", "//!")) and not text.startswith(("/**/", "////"))
    if grammar == "go":
        return text.startswith(("//", "/*"))
    return False


def _clean_comment(text: str) -> str:
    if text.startswith("/*"):
        return _clean_block_comment(text)
    # Consecutive line comments (`///`, `//!`, Go's `//`): the marker and one space after it go,
    # the rest of each line stays as written (an indented example, a gofmt code block after
    # `//<tab>`), and only a margin every line shares is removed. Stripping each line lost the
    # indentation of every example.
    lines = []
    for raw in text.split("\n"):
        line = _after_marker(raw.strip(), ("///", "//!", "//"))
        lines.append(line[1:] if line.startswith(" ") else line)
    return textwrap.dedent("\n".join(lines)).strip("\n")


def _after_marker(line: str, markers: tuple[str, ...]) -> str:
    """``line`` past the first of ``markers`` (longest first) that starts it."""
    for marker in markers:
        if line.startswith(marker):
            return line[len(marker) :]
    return line


def _cleandoc(text: str) -> str:
    """`inspect.cleandoc` without its tab expansion: a tab in a docstring (`@param a<tab>the
    first`) is the target as written, not spaces to the next stop (counted before the margin
    went, so misaligned too). The first line loses its leading blanks, the others the margin
    they share, and empty lines at either end go."""
    lines = text.split("\n")
    margins = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(margins, default=0)
    lines = [lines[0].lstrip(), *(line[margin:] for line in lines[1:])]
    # Blank at either end: the closing quotes' indentation too (a one-line summary has no
    # margin to remove it: 25 of 1,103 targets ended in spaces).
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


def _clean_block_comment(text: str) -> str:
    lines = text.split("\n")
    lines[0] = _after_marker(lines[0].strip(), ("/**", "/*!", "/*"))
    if not lines[0].strip("*"):
        lines[0] = ""  # a banner's top edge, `/*****`
    lines[-1] = lines[-1].rstrip().removesuffix("*/").rstrip("*")  # `**/` and `*****/` too
    # A `*` margin when the first line after the opening has one, gone from each line that has
    # it (as javadoc and Doxygen read it); without one the lines keep their indentation (an
    # example, a nested list), and a `* item` of a markdown list is text.
    text_lines = [line.lstrip() for line in lines[1:] if line.strip()]
    if text_lines and text_lines[0].startswith("*"):
        lines[1:] = [line.lstrip()[1:] if line.lstrip().startswith("*") else line for line in lines[1:]]
    return _cleandoc("\n".join(line.rstrip() for line in lines))


def comment_doc(f: SourceFile, node: Any) -> Documented | None:
    """A function with a doc comment right above it (attributes may sit between)."""
    body = node.child_by_field_name("body")
    if body is None:
        return None
    anchor = node
    while anchor.parent is not None and anchor.parent.type in WRAPPER_KINDS:
        anchor = anchor.parent
    prev = anchor.prev_sibling
    row = anchor.start_point[0]
    code_node = anchor  # where the code to document starts: its attributes (Rust's) are part of it
    while prev is not None and prev.type in _ATTRIBUTE_KINDS and prev.end_point[0] >= row - 1:
        row = prev.start_point[0]
        code_node = prev
        prev = prev.prev_sibling
    comments = []
    while prev is not None and prev.type in COMMENT_KINDS:
        if prev.end_point[0] < row - 1:
            break
        # A line comment's node may end with its line break (tree-sitter-rust's does).
        text = f.slice(prev.start_byte, prev.end_byte).rstrip("\r\n")
        if f.grammar != "go" and _BANNER.fullmatch(text):  # (to gofmt, a line of the doc)
            row = prev.start_point[0]
            prev = prev.prev_sibling
            continue
        if not _is_doc_comment(text, f.grammar):
            break
        if not (f.grammar == "go" and _GO_DIRECTIVE.match(text)):
            comments.append((prev, text))
        if text.startswith("/*"):
            break  # one block comment is the whole doc
        row = prev.start_point[0]
        prev = prev.prev_sibling
    if not comments:
        return None
    comments.reverse()
    data = f.data
    texts = [text for _, text in comments]
    # A block comment is the first of them (the walk up stops at one); line comments after it
    # are cleaned as line comments (their markers were left in a block's text).
    block = [texts.pop(0)] if len(texts) > 1 and texts[0].startswith("/*") else []
    doc = "\n".join(_clean_comment(text) for text in [*block, "\n".join(texts)])
    if not _LETTERS.search(doc):
        return None
    first = comments[0][0]
    start = line_start(data, first.start_byte)
    indent = f.slice(start, first.start_byte)
    code_start = line_start(data, code_node.start_byte)
    if indent.strip() or f.slice(code_start, code_node.start_byte) != indent:
        return None
    end = int(anchor.end_byte)
    code = _dedent(f.slice(code_start, end), indent)
    head = _dedent(f.slice(start, body.start_byte), indent).rstrip()
    body_text = _dedent(indent + f.slice(body.start_byte, end), indent)
    # A body of comments only (`{ // TODO }`) is no target.
    return Documented(definition_name(node) or "", start, end, doc, code, head, body_text if _has_code(body) else None)


def _has_code(node: Any) -> bool:
    """Whether anything but comments is inside ``node`` (some grammars wrap a block's statements
    in a list node, which holds only comments in a `{ // TODO }` body). A walk with a stack, not
    recursion: a `return "a" + "b" + ...` of 400 terms nests 400 deep (a RecursionError ended the
    whole run)."""
    stack = [node]
    while stack:
        for c in stack.pop().named_children:
            if c.type in COMMENT_KINDS:
                continue
            if c.named_child_count == 0:
                return True
            stack.append(c)
    return False
