"""tree-sitter grammars and parsers: which grammar a file needs, and one cached parser per grammar.

Grammars come from the per-language PyPI packages (``tree-sitter-python`` ...), which ship
compiled grammars: nothing is fetched at run time, so this works air-gapped. Install them with
``pip install 'codemill[syntax]'``. A language without an installed grammar gets ``None`` from
:func:`parser_for` and :func:`parse`, and callers fall back to line-based handling.
"""

from __future__ import annotations

import functools
import importlib
import threading
from typing import Any

# grammar -> (grammar module, function returning the language pointer)
GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "java": ("tree_sitter_java", "language"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}

# Parsers are not thread-safe: each thread keeps its own, one per grammar.
_local = threading.local()


def grammar_for_path(path: str, language: str) -> str:
    """The grammar a file is parsed with: ``tsx`` for a ``.tsx`` file (JSX inside TypeScript
    needs its own grammar), else the codemill language name itself."""
    if language == "typescript" and path.lower().endswith(".tsx"):
        return "tsx"
    return language


@functools.cache
def language_for(grammar: str) -> Any | None:
    """The tree-sitter ``Language`` of a grammar, or None if its package is not installed."""
    spec = GRAMMARS.get(grammar)
    if spec is None:
        return None
    try:
        import tree_sitter

        module = importlib.import_module(spec[0])
        return tree_sitter.Language(getattr(module, spec[1])())
    except (ImportError, AttributeError, ValueError):
        return None


def parser_for(grammar: str) -> Any | None:
    """This thread's tree-sitter ``Parser`` for a grammar (built once), or None without one."""
    cache: dict[str, Any] | None = getattr(_local, "parsers", None)
    if cache is None:
        cache = _local.parsers = {}
    if grammar not in cache:
        lang = language_for(grammar)
        if lang is None:
            return None
        import tree_sitter

        cache[grammar] = tree_sitter.Parser(lang)
    return cache[grammar]


def parse(text: str | bytes, grammar: str) -> Any | None:
    """The syntax tree of ``text``, or None when the grammar is not installed."""
    parser = parser_for(grammar)
    if parser is None:
        return None
    return parser.parse(text.encode("utf-8") if isinstance(text, str) else text)


def parse_file(text: str | bytes, path: str, language: str) -> tuple[str, Any | None]:
    """The grammar of a file (:func:`grammar_for_path`) and its syntax tree (None when the
    grammar is not installed). A ``.h`` header is C to the language table, but many are C++
    (`namespace`, classes, templates), which the C grammar reads as errors from the first one on:
    a header the C grammar cannot read cleanly is C++ when the C++ grammar reads it cleanly, or
    finds a declaration only C++ has outside its errors (a C++ header with a macro neither
    grammar follows, `Q_OBJECT`, still has its namespaces and classes). The C++ grammar reads
    C too: a C header with a `__cplusplus` section (math.h) read as C++ loses little, a C++
    header read as C is an error from its first class on. Measured over headers: googletest 37
    of 49 C++ (22 when C++ needed to read further than C), fmt 18 of 20; zlib and Lua 0 of 45;
    the top of /usr/include 9 of 164 (7 C++ headers, math.h, pthread.h)."""
    grammar = grammar_for_path(path, language)
    tree = parse(text, grammar)
    if grammar == "c" and tree is not None and tree.root_node.has_error and path.lower().endswith(".h"):
        other = parse(text, "cpp")
        if other is not None and _reads_as_cpp(other.root_node):
            return "cpp", other
    return grammar, tree


# Declarations C has no form of: one in a header makes it a C++ header (`using u;` is C naming a
# type `using`; `using namespace std;` and `using std::string;` are not).
_CPP_ONLY = """[(namespace_definition) (template_declaration) (class_specifier) (access_specifier)
(alias_declaration) (using_declaration "namespace") (using_declaration (qualified_identifier))] @cpp"""


def _reads_as_cpp(cpp_root: Any) -> bool:
    """Whether a header the C grammar reads with errors is C++ (see `parse_file`)."""
    if not cpp_root.has_error:
        return True
    from codemill.syntax.queries import captures  # it imports this module

    return any(not _in_error(node) for node in captures(cpp_root, "cpp", _CPP_ONLY).get("cpp", ()))


def _in_error(node: Any) -> bool:
    while node is not None:
        if node.is_error:
            return True
        node = node.parent
    return False


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


def available_languages() -> list[str]:
    return [lang for lang in GRAMMARS if language_for(lang) is not None]
