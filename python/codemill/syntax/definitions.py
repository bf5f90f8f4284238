"""The one table of definition node kinds per grammar, and the walk that finds definitions.

Chunking (:mod:`codemill.index.chunking`), repository context (:mod:`codemill.context`) and
fine-tuning samples (:mod:`codemill.finetune.samples`) all read definitions from here, so a
language is described once: which tree-sitter node kinds define what (:data:`TABLES`), how a
definition is named (:func:`definition_name`), which definitions hold members (classes, impls,
namespaces), which wrappers are looked through (decorators, ``export``, ``template<>``) and
which statements are looked into (a Python ``if``/``try`` at the top level, C include guards).

>>> from codemill.syntax.definitions import find_definitions
>>> from codemill.syntax.parsers import parse
>>> tree = parse("class A:\\n    def f(self):\\n        pass\\n", "python")
>>> [(d.kind, d.name, [(c.kind, c.name) for c in d.children]) for d in find_definitions(tree.root_node, "python")]
[('class', 'A', [('method', 'f')])]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

DefinitionKind = Literal[
    "function",
    "method",
    "class",
    "interface",
    "enum",
    "struct",
    "union",
    "trait",
    "impl",
    "type",
    "macro",
    "variable",
    "namespace",
]
"""What a definition defines. ``namespace`` covers C++ namespaces, TypeScript namespaces and
Rust inline modules; ``variable`` covers constants, fields and top-level assignments."""

FUNCTION_KINDS: frozenset[str] = frozenset({"function", "method"})


@dataclass(frozen=True)
class Rule:
    """How one node kind of a grammar defines something."""

    kind: DefinitionKind | Literal["wrapper"]
    """The kind defined; ``wrapper`` nodes (decorators, ``export``, ``template<>``) are looked
    through to the definition inside them."""
    members: bool = False
    """Its body holds member definitions (methods of a class, items of an impl or namespace)."""
    top_level: bool = False
    """Counts only outside any other definition (a Python assignment)."""


def _rules(**kinds: Rule) -> dict[str, Rule]:
    return kinds


_FUNCTION = Rule("function")
_METHOD = Rule("method")
_VARIABLE = Rule("variable")
_TYPE = Rule("type")
_WRAPPER = Rule("wrapper")
_CLASS = Rule("class", members=True)
_NAMESPACE = Rule("namespace", members=True)

_JAVASCRIPT = _rules(
    function_declaration=_FUNCTION,
    generator_function_declaration=_FUNCTION,
    class_declaration=_CLASS,
    method_definition=_METHOD,
    lexical_declaration=_VARIABLE,
    variable_declaration=_VARIABLE,
    export_statement=_WRAPPER,
)
_TYPESCRIPT = _rules(
    **_JAVASCRIPT,
    abstract_class_declaration=_CLASS,
    # an interface's body is property and method signatures: shown whole, not as members
    interface_declaration=Rule("interface"),
    type_alias_declaration=_TYPE,
    enum_declaration=Rule("enum"),
    function_signature=_FUNCTION,
    method_signature=_METHOD,
    abstract_method_signature=_METHOD,
    module=_NAMESPACE,
    internal_module=_NAMESPACE,
    ambient_declaration=_WRAPPER,
)
_C = _rules(
    function_definition=_FUNCTION,
    struct_specifier=Rule("struct"),
    union_specifier=Rule("union"),
    enum_specifier=Rule("enum"),
    type_definition=_TYPE,
    declaration=_VARIABLE,
    preproc_def=_VARIABLE,
    preproc_function_def=Rule("macro"),
)

# grammar (codemill.syntax.parsers.GRAMMARS) -> node kind -> rule
TABLES: Mapping[str, Mapping[str, Rule]] = {
    "python": _rules(
        function_definition=_FUNCTION,
        class_definition=_CLASS,
        decorated_definition=_WRAPPER,
        expression_statement=Rule("variable", top_level=True),
    ),
    "javascript": _JAVASCRIPT,
    "typescript": _TYPESCRIPT,
    "tsx": _TYPESCRIPT,
    "java": _rules(
        class_declaration=_CLASS,
        record_declaration=_CLASS,
        interface_declaration=Rule("interface", members=True),
        annotation_type_declaration=Rule("interface", members=True),
        enum_declaration=Rule("enum", members=True),
        method_declaration=_METHOD,
        constructor_declaration=_METHOD,
        field_declaration=_VARIABLE,
    ),
    "go": _rules(
        function_declaration=_FUNCTION,
        method_declaration=_METHOD,
        type_declaration=_TYPE,
        const_declaration=_VARIABLE,
        var_declaration=_VARIABLE,
    ),
    "rust": _rules(
        function_item=_FUNCTION,
        function_signature_item=_FUNCTION,
        struct_item=Rule("struct"),
        enum_item=Rule("enum"),
        union_item=Rule("union"),
        type_item=_TYPE,
        const_item=_VARIABLE,
        static_item=_VARIABLE,
        macro_definition=Rule("macro"),
        trait_item=Rule("trait", members=True),
        impl_item=Rule("impl", members=True),
        mod_item=_NAMESPACE,
    ),
    "c": _C,
    "cpp": {
        **_C,
        "class_specifier": _CLASS,
        "struct_specifier": Rule("struct", members=True),  # a C++ struct is a class
        "namespace_definition": _NAMESPACE,
        "template_declaration": _WRAPPER,
    },
}

# Statements whose contents are looked into for definitions: a Python `try: ... except
# ImportError: def f()` defines f; a C header's definitions sit inside its include guard.
_PYTHON_BLOCKS = frozenset(
    {"if_statement", "try_statement", "block", "else_clause", "elif_clause", "except_clause", "finally_clause"}
)
_C_BLOCKS = frozenset(
    {"preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "linkage_specification", "declaration_list"}
)
TRANSPARENT: Mapping[str, frozenset[str]] = {"python": _PYTHON_BLOCKS, "c": _C_BLOCKS, "cpp": _C_BLOCKS}

COMMENT_KINDS = frozenset({"comment", "line_comment", "block_comment"})
# Siblings right above a definition that belong to it: doc comments, attributes, decorators.
LEADING_KINDS = COMMENT_KINDS | {"attribute_item", "decorator"}
WRAPPER_KINDS = frozenset(t for table in TABLES.values() for t, rule in table.items() if rule.kind == "wrapper")

# Node kinds that are a name themselves, at the bottom of a C/C++ declarator chain.
_NAME_KINDS = frozenset(
    {"identifier", "field_identifier", "type_identifier", "qualified_identifier", "destructor_name", "operator_name"}
)
# Declarations whose name sits on their first named child (`const x = ...`, `type T struct`).
_NAMED_BY_CHILD = frozenset(
    {"lexical_declaration", "variable_declaration", "const_declaration", "var_declaration", "type_declaration"}
)
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})


def function_node_kinds(grammar: str) -> tuple[str, ...]:
    """The node kinds that define a function or method in ``grammar`` (sorted)."""
    return tuple(sorted(t for t, rule in TABLES.get(grammar, {}).items() if rule.kind in FUNCTION_KINDS))


def _text(node: Any) -> str:
    return bytes(node.text).decode("utf-8", "replace")


def receiver_type(node: Any) -> str | None:
    """The type a Go method is declared on (``Cart`` of ``func (c *Cart) Total()``, ``Box`` of
    ``func (b Box[T]) Get()``), its owner as a class is a method's; None for any other node."""
    if node.type != "method_declaration":
        return None
    receiver = node.child_by_field_name("receiver")
    stack = [receiver] if receiver is not None else []
    while stack:  # the first type name, under pointer and generic wrappers
        n = stack.pop()
        if n.type == "type_identifier":
            return _text(n)
        stack.extend(reversed(n.named_children))
    return None


def definition_name(node: Any) -> str | None:
    """The name a definition node defines, or None for an anonymous one.

    The ``name`` field where the grammar has one; ``Trait for Type`` for a Rust impl; the
    first declarator of a ``const``/``var``/``type`` list; the target of a Python assignment;
    the bottom of a C/C++ declarator chain (``Foo::bar`` for a method defined out of its class).
    """
    name = node.child_by_field_name("name")
    if name is not None:
        return _text(name)
    t = node.type
    if t == "impl_item":
        ty = node.child_by_field_name("type")
        trait = node.child_by_field_name("trait")
        if ty is None:
            return None
        return f"{_text(trait)} for {_text(ty)}" if trait is not None else _text(ty)
    if t in _NAMED_BY_CHILD:
        for child in node.named_children:
            n = child.child_by_field_name("name")
            if n is not None:
                return _text(n)
        return None
    if t == "expression_statement":
        for child in node.named_children:
            if child.type == "assignment":
                left = child.child_by_field_name("left")
                if left is not None and left.type == "identifier":
                    return _text(left)
        return None
    decl = node.child_by_field_name("declarator")
    while decl is not None:
        if decl.type in _NAME_KINDS:
            return _text(decl)
        inner = decl.child_by_field_name("declarator")
        if inner is None:
            # Java `int x = 5` names x; C `int x[4]` bottoms out in an identifier child
            inner = decl.child_by_field_name("name") or next(
                (c for c in decl.named_children if c.type in _NAME_KINDS), None
            )
        decl = inner
    return None


def _is_function_value(node: Any) -> bool:
    """A JS/TS ``const f = (...) => ...`` (or a function expression) defines a function."""
    for child in node.named_children:
        if child.type == "variable_declarator":
            value = child.child_by_field_name("value")
            if value is not None and value.type in _FUNCTION_VALUES:
                return True
    return False


def end_row(node: Any) -> int:
    """The last row (0-based) of a node; one that ends at column 0 (a ``#define`` with its
    newline) ends on the row before."""
    row: int = node.end_point[0]
    if node.end_point[1] == 0 and row > node.start_point[0]:
        row -= 1
    return row


def leading_row(node: Any) -> int:
    """The first row (0-based) of a definition with the doc comments, attributes and
    decorators right above it (each touching the next)."""
    start: int = node.start_point[0]
    prev = node.prev_named_sibling
    while prev is not None and prev.type in LEADING_KINDS and prev.end_point[0] >= start - 1:
        start = prev.start_point[0]
        prev = prev.prev_named_sibling
    return start


@dataclass
class Found:
    """A definition found in a syntax tree."""

    node: Any
    """The defining node (wrappers looked through)."""
    outer: Any
    """The outermost node of the definition: the wrapper (decorators, ``export``) or ``node``."""
    kind: DefinitionKind
    """The table's kind, refined: a function inside a class is a ``method``, a variable holding
    a function expression is a ``function``."""
    name: str | None
    start_row: int
    """First row (0-based), leading comments, attributes and decorators included."""
    end_row: int
    """Last row (0-based, inclusive)."""
    container: bool
    """Holds member definitions and has a body (its members are :attr:`children`)."""
    children: list[Found] = field(default_factory=list)

    @property
    def body(self) -> Any | None:
        return self.node.child_by_field_name("body")


def find_definitions(root: Any, grammar: str) -> list[Found]:
    """The definitions below ``root`` in document order, members nested in their containers.
    Function bodies are not looked into (a nested helper is part of its function)."""
    table = TABLES.get(grammar)
    if table is None:
        return []
    out: list[Found] = []
    _walk(root, _Walk(table, TRANSPARENT.get(grammar, frozenset())), None, out)
    return out


@dataclass(frozen=True)
class _Walk:
    table: Mapping[str, Rule]
    transparent: frozenset[str]


def _walk(block: Any, w: _Walk, parent: Found | None, out: list[Found]) -> None:
    for node in block.named_children:
        _visit(node, node, w, parent, out)


def _visit(outer: Any, node: Any, w: _Walk, parent: Found | None, out: list[Found]) -> None:
    rule = w.table.get(node.type)
    if rule is None:
        if node.type in w.transparent:
            _walk(node, w, parent, out)
        return
    if rule.kind == "wrapper":
        inner = node.child_by_field_name("definition") or node.child_by_field_name("declaration")
        if inner is None:
            inner = next((c for c in node.named_children if c.type in w.table), None)
        if inner is not None:
            _visit(outer, inner, w, parent, out)
        return
    if rule.top_level and parent is not None:
        return
    kind: DefinitionKind = rule.kind
    if kind == "variable" and _is_function_value(node):
        kind = "function"
    if kind == "function" and parent is not None and parent.kind != "namespace":
        kind = "method"
    body = node.child_by_field_name("body")
    found = Found(
        node, outer, kind, definition_name(node), leading_row(outer), end_row(outer), rule.members and body is not None
    )
    if found.container:
        _walk(body, w, found, found.children)
    out.append(found)
