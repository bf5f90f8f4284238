"""The one table of definition kinds: chunking, context and samples read the same definitions.

Each test below pins a case where the three tables that existed before disagreed."""

from __future__ import annotations

import pytest
from codemill.context.definitions import definitions
from codemill.finetune.samples import SampleBuilder
from codemill.index.chunking import chunk_text
from codemill.syntax.definitions import TABLES, find_definitions, function_node_kinds
from codemill.syntax.parsers import GRAMMARS, grammar_for_path, parse

pytest.importorskip("tree_sitter_python")


def _chunks(text: str, language: str, path: str = "") -> list[tuple[str | None, str]]:
    return [(c.symbol, c.kind) for c in chunk_text(text, language, path) if c.kind not in ("code", "lines")]


def _context(text: str, language: str, path: str = "") -> list[tuple[str, str]]:
    return [(d.qualname, d.kind) for d in definitions(text, language, path)]


def test_every_grammar_has_one_table() -> None:
    assert set(TABLES) == set(GRAMMARS)


def test_grammar_for_path() -> None:
    assert grammar_for_path("a/B.TSX", "typescript") == "tsx"
    assert grammar_for_path("a/b.ts", "typescript") == "typescript"
    assert grammar_for_path("a/b.tsx", "javascript") == "javascript"


def test_arrow_function_constant_is_a_function_everywhere() -> None:
    # chunking knew no variables, so `const f = () => ...` was only top-level code there
    src = "export const handle = async (req) => {\n  return req.body;\n};\nconst limit = 5;\n"
    assert _chunks(src, "javascript") == [("handle", "function")]
    assert _context(src, "javascript") == [("handle", "function"), ("limit", "variable")]


def test_c_definitions_inside_an_include_guard() -> None:
    # no table looked into preprocessor blocks: a header's definitions were invisible
    src = (
        "#ifndef POINT_H\n#define POINT_H\n\n/* A point. */\nstruct point {\n  int x, y;\n};\n\n"
        "typedef struct point point_t;\n\nstatic int norm(point_t p) {\n  return p.x * p.x + p.y * p.y;\n}\n\n#endif\n"
    )
    assert _chunks(src, "c") == [("point", "struct"), ("point_t", "type"), ("norm", "function")]
    ctx = definitions(src, "c")
    assert [(d.name, d.kind) for d in ctx] == [
        ("POINT_H", "variable"),
        ("point", "struct"),
        ("point_t", "type"),
        ("norm", "function"),
    ]
    assert ctx[1].start_line == 4  # the comment above belongs to the struct


def test_rust_macros_unions_and_type_aliases_are_definitions() -> None:
    # chunking's Rust table lacked them (they were anonymous `code` chunks)
    src = (
        "macro_rules! square {\n    ($x:expr) => { $x * $x };\n}\n\npub type Id = u64;\n\n"
        "pub union Bits {\n    i: u32,\n    f: f32,\n}\n"
    )
    expected = [("square", "macro"), ("Id", "type"), ("Bits", "union")]
    assert _chunks(src, "rust") == expected
    assert _context(src, "rust") == expected


def test_a_function_in_a_namespace_is_a_function_not_a_method() -> None:
    # context called every definition with a parent a method, a module's functions included
    rs = "mod util {\n    pub fn clamp(x: i32) -> i32 {\n        x\n    }\n}\n"
    assert _context(rs, "rust") == [("util", "namespace"), ("util.clamp", "function")]
    assert _chunks(rs, "rust") == [("util.clamp", "function")]
    cpp = "namespace geo {\nint area(int w, int h) { return w * h; }\n}\n"
    assert _context(cpp, "cpp") == [("geo", "namespace"), ("geo.area", "function")]


def test_python_definitions_inside_top_level_try() -> None:
    # context looked into `try`/`if` at the top level, chunking did not
    src = "try:\n    from _speedups import scan\nexcept ImportError:\n    def scan(s):\n        return s\n"
    assert _chunks(src, "python") == [("scan", "function")]
    assert _context(src, "python") == [("scan", "function")]


def test_tsx_files_are_chunked_with_the_tsx_grammar() -> None:
    # chunking parsed .tsx with the plain TypeScript grammar: JSX made the tree an error
    src = (
        "export function App(props: Props) {\n"
        "  const items = props.items.map((i) => <li key={i.id}>{i.name}</li>);\n"
        '  return (\n    <div className="app">\n      <ul>{items}</ul>\n    </div>\n  );\n}\n\n'
        "export function Footer() {\n  return <footer>bye</footer>;\n}\n"
    )
    chunks = chunk_text(src, "typescript", "ui/App.tsx")
    assert [(c.symbol, c.kind, c.start_line, c.end_line) for c in chunks] == [
        ("App", "function", 1, 8),
        ("Footer", "function", 10, 12),
    ]
    assert _context(src, "typescript", "ui/App.tsx") == [("App", "function"), ("Footer", "function")]


def test_cpp_struct_with_methods_is_a_container_everywhere() -> None:
    # context took a C++ struct for a plain type and never saw its methods
    src = "struct Stack {\n  int n = 0;\n  void push(int v) { n += v; }\n};\n"
    assert _chunks(src, "cpp") == [("Stack", "struct"), ("Stack.push", "method")]
    assert _context(src, "cpp") == [("Stack", "struct"), ("Stack.push", "method")]


def test_container_without_member_definitions_is_shown_whole() -> None:
    src = '@dataclass\nclass Point:\n    """A point."""\n\n    x: int\n    y: int\n'
    [d] = definitions(src, "python")
    assert (d.kind, d.start_line, d.end_line, d.signature_end, d.container) == ("class", 1, 6, 6, False)


def test_out_of_class_cpp_method_keeps_its_qualified_name() -> None:
    src = "int Stack::pop() {\n  return 1;\n}\n"
    tree = parse(src, "cpp")
    [found] = find_definitions(tree.root_node, "cpp")
    assert (found.kind, found.name) == ("function", "Stack::pop")


def test_docstring_samples_read_function_kinds_from_the_table() -> None:
    assert function_node_kinds("go") == ("function_declaration", "method_declaration")
    assert "method_definition" in function_node_kinds("tsx")
    src = "package p\n\n// Sum adds the numbers of xs.\nfunc (c *Calc) Sum(xs []int) int {\n\treturn 0\n}\n"
    samples, _ = SampleBuilder(["docstring"]).build(src, "go", "calc.go", "repo")
    assert [s["meta"]["function"] for s in samples] == ["Sum", "Sum"]
