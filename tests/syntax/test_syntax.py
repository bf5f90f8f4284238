from __future__ import annotations

from codemill.syntax.parsers import GRAMMARS, available_languages, first_error_byte, parse, parse_file, parser_for
from conftest import FIXTURES


def test_every_grammar_is_installed_and_parses_its_fixture() -> None:
    assert set(available_languages()) == set(GRAMMARS)
    for lang, ext in [
        ("python", "py"),
        ("javascript", "js"),
        ("typescript", "ts"),
        ("java", "java"),
        ("go", "go"),
        ("rust", "rs"),
        ("c", "c"),
        ("cpp", "cpp"),
    ]:
        tree = parse((FIXTURES / f"sample.{ext}").read_text(), lang)
        assert tree is not None and tree.root_node.child_count > 0, lang


def test_unknown_language_has_no_parser() -> None:
    assert parser_for("cobol") is None and parse("x", "generic") is None


CPP_HEADER = """#pragma once
#include <string>
namespace util {
/// Reverses s.
inline std::string reverse(const std::string& s) {
    return std::string(s.rbegin(), s.rend());
}
}  // namespace util
"""


def test_a_cpp_header_named_h_is_parsed_as_cpp_and_a_c_one_as_c() -> None:
    # `.h` is C in the language table; the C grammar read a C++ header as errors from its
    # `namespace` on, so prepare, the index and the context graph found nothing in it.
    grammar, tree = parse_file(CPP_HEADER, "util.h", "c")
    assert grammar == "cpp" and not tree.root_node.has_error
    c_header = "#include <stdio.h>\n/** Adds. */\nstatic inline int add(int a, int b) { return a + b; }\n"
    assert parse_file(c_header, "add.h", "c")[0] == "c"
    assert parse_file("int class = 1;\n", "k.h", "c")[0] == "c"  # C that C++ cannot read stays C
    assert parse_file(CPP_HEADER, "util.c", "c")[0] == "c"  # only headers are in doubt
    # A C header neither grammar reads cleanly (a macro they cannot follow) stays C, even where
    # the C++ grammar's first error comes a little later.
    mixed = "int f(void) noexcept;\nint x = 1 @;\n"  # C fails first, C++ a little later
    c_first, cpp_first = (first_error_byte(parse(mixed, g).root_node) for g in ("c", "cpp"))
    assert c_first is not None and cpp_first is not None and c_first < cpp_first
    assert parse_file(mixed, "m.h", "c")[0] == "c"
    # A C++ header with a macro neither grammar follows is still C++: its namespace and classes
    # are declarations C has no form of (the rule before took it for C: its C++ tree had an error).
    qt = (
        "#pragma once\nnamespace app {\ntemplate <typename T> class Stack {\n public:\n"
        "  void push(T v);\n};\nclass Widget {\n  Q_OBJECT\n public:\n  int width() const;\n};\n}\n"
    )
    assert parse(qt, "cpp").root_node.has_error
    assert parse_file(qt, "w.h", "c")[0] == "cpp"
    assert parse_file("typedef int using;\nusing u;\nint f(void) X Y;\n", "u.h", "c")[0] == "c"  # a C type 'using'
    for using in ("using namespace std;", "using std::string;"):  # C has no such declaration
        assert parse_file(f"{using}\nint f(void) X Y;\n", "u.h", "c")[0] == "cpp"


def test_prepare_the_index_and_definitions_read_a_cpp_header_named_h() -> None:
    from codemill.context.definitions import definitions
    from codemill.finetune.samples import SampleBuilder
    from codemill.index.chunking import chunk_text

    samples, missed = SampleBuilder(["completion", "docstring"]).build(CPP_HEADER * 3, "c", "util.h", "r")
    assert {s["template"] for s in samples} >= {"completion", "docstring-from-code"}, missed
    assert "reverse" in [d.name for d in definitions(CPP_HEADER, "c", "util.h")]
    assert any((c.symbol or "").endswith("reverse") for c in chunk_text(CPP_HEADER, "c", "util.h"))
