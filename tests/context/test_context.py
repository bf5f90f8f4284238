"""The import graph, personalised ranking and budgeted context, and `codemill context | graph`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("tree_sitter_python")
pytest.importorskip("networkx")

from codemill.cli import main
from codemill.context.builder import ContextBuilder
from codemill.context.definitions import definitions
from codemill.context.graph import ImportGraph, find_repo_root
from conftest import STDLIB
from test_context_imports import write_tree

SHOP = {
    "shop/__init__.py": "",
    "shop/cart.py": (
        '"""The shopping cart."""\n'
        "from shop.pricing import discount, Price\n"
        "from shop import inventory\n"
        "\n"
        "class Cart:\n"
        '    """Items and their prices."""\n'
        "\n"
        "    def total(self):\n"
        "        return sum(discount(p) for p in self.items)\n"
        "\n"
        "    def check(self):\n"
        "        return inventory.in_stock(self.items)\n"
    ),
    "shop/pricing.py": (
        "from shop.money import round_cents\n"
        "\n"
        "class Price:\n"
        '    """An amount of money."""\n'
        "    def __init__(self, cents):\n"
        "        self.cents = cents\n"
        "\n"
        "def discount(price, rate=0.1):\n"
        '    """The price after the discount.\n'
        "\n"
        "    Rates are fractions.\n"
        '    """\n'
        + "".join(f"    step_{i} = price * rate  # line {i}\n" for i in range(30))
        + "    return round_cents(price)\n"
    ),
    "shop/money.py": "def round_cents(x):\n    return round(x, 2)\n",
    "shop/inventory.py": "STOCK = {}\n\ndef in_stock(items):\n    return all(i in STOCK for i in items)\n",
    "shop/unrelated.py": "def lonely():\n    '''Nobody imports me.'''\n    return 0\n",
    "tests/test_cart.py": "from shop.cart import Cart\n\ndef test_cart():\n    assert Cart()\n",
}


@pytest.fixture()
def shop(tmp_path: Path) -> Path:
    return write_tree(tmp_path, SHOP)


@pytest.fixture()
def builder(shop: Path, tok) -> ContextBuilder:
    return ContextBuilder(ImportGraph.build(shop), tok)


def test_ranking_follows_imports(builder: ContextBuilder) -> None:
    ranked = [f for f, _ in builder.related("shop/cart.py")]
    # the most imported-from file first; what it imports in turn before files the walk never
    # reaches (the weights: pricing gives cart two names, inventory one)
    assert ranked[0] == "shop/pricing.py"
    assert ranked.index("shop/money.py") < ranked.index("shop/inventory.py") < len(ranked)
    assert "shop/unrelated.py" not in ranked
    # the walk reaches the test that imports cart only through the (weak) reverse edge
    assert ranked.index("tests/test_cart.py") > ranked.index("shop/inventory.py")


def test_context_has_imported_definitions_labelled(builder: ContextBuilder, shop: Path) -> None:
    ctx = builder.context(shop / "shop/cart.py", 2000)
    assert ctx.file == "shop/cart.py"
    assert {"shop/pricing.py", "shop/inventory.py"} <= set(ctx.files())
    assert "shop/cart.py" not in ctx.files()
    names = {i.name for i in ctx.items}
    assert {"discount", "Price", "in_stock"} <= names
    for item in ctx.items:
        assert item.label in ctx.text
        lines = (shop / item.path).read_text().splitlines()[item.start_line - 1 : item.end_line]
        shown = item.text.splitlines()
        assert shown[: len(lines)] == lines  # the labelled lines, verbatim
        if item.level == "signature":
            assert shown[-1].strip() == "..."  # an elided body is marked
    assert ctx.tokens <= 2000


def test_signatures_first_bodies_when_budget_allows(builder: ContextBuilder) -> None:
    small = builder.context("shop/cart.py", 60)
    assert small.items, "a small budget still holds a signature"
    assert all(i.level != "body" or i.end_line - i.start_line < 3 for i in small.items)
    big = builder.context("shop/cart.py", 5000)
    levels = {i.name: i.level for i in big.items}
    assert levels["discount"] == "body"
    body = next(i for i in big.items if i.name == "discount")
    assert "return round_cents(price)" in body.text
    sig = next((i for i in small.items if i.name == "discount"), None)
    if sig is not None:
        assert "return round_cents" not in sig.text and "The price after the discount." in sig.text


@pytest.mark.parametrize("budget", [0, 1, 5, 17, 40, 64, 100, 150, 256, 333, 500, 1000, 2000, 4000])
def test_budget_never_exceeded(builder: ContextBuilder, tok, budget: int) -> None:
    for f in ("shop/cart.py", "shop/pricing.py", "tests/test_cart.py"):
        ctx = builder.context(f, budget)
        assert ctx.tokens <= budget
        assert tok.count_tokens(ctx.text) == ctx.tokens
        if budget == 0:
            assert ctx.text == "" and ctx.items == []


def test_budget_never_exceeded_on_real_code(tok) -> None:
    graph = ImportGraph.build(STDLIB / "json")
    b = ContextBuilder(graph, tok)
    for f in sorted(graph.files):
        for budget in (7, 90, 300, 1200):
            ctx = b.context(f, budget)
            assert tok.count_tokens(ctx.text) == ctx.tokens <= budget


def test_negative_budget_is_an_error(builder: ContextBuilder) -> None:
    with pytest.raises(ValueError, match="budget"):
        builder.context("shop/cart.py", -1)


def test_file_outside_repository(builder: ContextBuilder, tmp_path_factory) -> None:
    other = tmp_path_factory.mktemp("elsewhere") / "x.py"
    other.write_text("x = 1\n")
    with pytest.raises(ValueError, match="not inside the repository"):
        builder.context(other, 100)


def test_unscanned_file_is_added(shop: Path, tok) -> None:
    graph = ImportGraph.build(shop, exclude=["tests"])
    assert "tests/test_cart.py" not in graph.files
    ctx = ContextBuilder(graph, tok).context(shop / "tests/test_cart.py", 500)
    assert "shop/cart.py" in ctx.files()


def test_a_dependency_edited_between_calls_is_shown_as_it_is_now(builder: ContextBuilder, shop: Path) -> None:
    # One builder answers a server's requests for hours: a dependency edited on disk showed the
    # lines and text it had when first shown.
    def money() -> list[str]:
        ctx = builder.context(shop / "shop/pricing.py", 2000)
        return [i.text for i in ctx.items if i.path == "shop/money.py"]

    assert any("return round(x, 2)" in t for t in money())
    (shop / "shop/money.py").write_text("# rounding\n\ndef round_cents(x):\n    return int(x * 100) / 100\n")
    assert any("int(x * 100) / 100" in t for t in money()) and not any("round(x, 2)" in t for t in money())


def test_a_call_looks_at_each_files_stamp_once(builder: ContextBuilder, shop: Path, monkeypatch) -> None:
    # The stamps that keep the caches fresh were taken per snippet: 4 -> 377 stats a call on
    # the standard library (+28% a call).
    import os
    import time

    import codemill.context.graph as graph_module

    for f in shop.rglob("*.py"):  # written long enough ago for their stamps to be trusted
        os.utime(f, (time.time() - 3600,) * 2)
    builder.context(shop / "shop/cart.py", 2000)
    looked: list[str] = []
    real = graph_module._stamp

    def counted(path: str, trusted_before: int):
        looked.append(path)
        return real(path, trusted_before)

    monkeypatch.setattr(graph_module, "_stamp", counted)
    ctx = builder.context(shop / "shop/cart.py", 2000)
    assert len(ctx.items) > len(ctx.files())  # several snippets of a file
    assert len(looked) - len(set(looked)) <= 2  # the file asked for: ensure, and current


def test_definitions_per_language() -> None:
    py = definitions(
        '@dec\ndef f(a):\n    """Doc."""\n    return a\n\nclass K:\n    def m(self):\n        pass\n', "python"
    )
    assert [(d.qualname, d.kind, d.start_line, d.signature_end, d.end_line) for d in py] == [
        ("f", "function", 1, 3, 4),
        ("K", "class", 6, 6, 8),
        ("K.m", "method", 7, 7, 8),
    ]
    go = definitions(
        "package p\n\n// Add adds.\nfunc Add(a int) int {\n\treturn a\n}\n\ntype T struct{ X int }\n", "go"
    )
    assert [(d.name, d.kind, d.start_line, d.signature_end) for d in go] == [
        ("Add", "function", 3, 4),
        ("T", "type", 8, 8),
    ]
    rs = definitions("/// A thing.\npub struct S;\nimpl S {\n    pub fn new() -> S {\n        S\n    }\n}\n", "rust")
    # one vocabulary with chunking: the kinds of codemill.syntax.definitions
    assert [(d.qualname, d.kind) for d in rs] == [("S", "struct"), ("S", "impl"), ("S.new", "method")]
    ts = definitions(
        "export function f(): void {}\nexport const g = () => 1;\ninterface I { a: number }\n"
        "export class C {\n  m(): void {}\n}\n",
        "typescript",
    )
    assert [(d.qualname, d.kind) for d in ts] == [
        ("f", "function"),
        ("g", "function"),
        ("I", "interface"),
        ("C", "class"),
        ("C.m", "method"),
    ]
    java = definitions("/** Doc. */\npublic class A {\n  int x = 5;\n  void m() {}\n}\n", "java")
    assert [(d.qualname, d.kind, d.start_line) for d in java] == [
        ("A", "class", 1),
        ("A.x", "variable", 3),
        ("A.m", "method", 4),
    ]


def test_stdlib_json_graph_resolves_everything() -> None:
    graph = ImportGraph.build(STDLIB / "json")
    stats = graph.stats()
    assert stats.files >= 5
    assert stats.in_repo_imports > 0 and stats.resolved_share == 1.0
    assert "json/decoder.py" not in graph.files and "decoder.py" in graph.imports_of("__init__.py")
    assert "__init__.py" in graph.importers_of("decoder.py")
    # scanned from inside the package, `import json` in tool.py names no file of this tree
    assert graph.importers_of("tool.py") == []
    assert "external:json" in graph.edges()["tool.py"]
    nx_graph = graph.to_networkx()
    assert nx_graph.has_edge("__init__.py", "decoder.py")
    assert any(d.get("external") for _, d in nx_graph.nodes(data=True))


def test_find_repo_root(shop: Path) -> None:
    (shop / "pyproject.toml").write_text("[project]\nname='shop'\n")
    assert find_repo_root(shop / "shop" / "cart.py") == shop
    (shop / "shop" / ".git").mkdir()
    assert find_repo_root(shop / "shop" / "cart.py") == shop / "shop"


# --------------------------------------------------------------------------------------------
# CLI


def test_cli_context_text_and_json(shop: Path, capsys) -> None:
    assert main(["context", str(shop / "shop/cart.py"), "--repo", str(shop), "--budget", "300"]) == 0
    out, err = capsys.readouterr()
    assert "==> shop/pricing.py:" in out
    assert "tokens" in err
    assert main(["context", str(shop / "shop/cart.py"), "--repo", str(shop), "--budget", "300", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["file"] == "shop/cart.py" and data["tokens"] <= 300
    assert data["items"] and all({"path", "start_line", "end_line", "label"} <= set(i) for i in data["items"])


def test_cli_graph_formats(shop: Path, capsys) -> None:
    assert main(["graph", str(shop)]) == 0
    out = capsys.readouterr().out
    assert "7 files" in out and "100.0%" in out
    assert main(["graph", str(shop), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    edges = {(e["source"], e["target"]) for e in data["edges"]}
    assert ("shop/cart.py", "shop/pricing.py") in edges
    assert data["stats"]["resolved_share"] == 1.0
    assert main(["graph", str(shop), "--dot", "--externals"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph imports {") and '"shop/cart.py" -> "shop/pricing.py"' in dot


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["context", str(tmp_path / "missing.py")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.py" in err
    assert main(["graph", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err  # the step it was in, then the error alone
    assert err.splitlines()[0] == "repository graph ..." and err.count("\n") == 2 and "nope" in err


def test_cli_graph_shows_its_progress_unless_told_not_to(shop: Path, capsys) -> None:
    assert main(["graph", str(shop)]) == 0
    assert capsys.readouterr().err.splitlines() == ["repository graph ...", "repository graph: 7 files"]
    for quiet in ("--no-progress", "--json"):
        assert main(["graph", str(shop), quiet]) == 0
        assert capsys.readouterr().err == ""


def test_a_dependency_edited_since_the_index_shows_its_own_lines(tmp_path, capsys):
    # The saved graph's line ranges were cut from the file's new text: a blank line under
    # `other`'s label, and `helper` missing its body.
    import json

    from codemill.cli import main

    root = tmp_path / "repo"
    root.mkdir()
    body = "def helper(x):\n    return x + 1\n\n\ndef other(y):\n    return y * 2\n"
    (root / "utils.py").write_text('"""Utils."""\nimport os\n\n\n' + body)
    (root / "main.py").write_text("from utils import helper, other\n\nprint(helper(1), other(2))\n")
    assert main(["index", str(root), "-o", str(tmp_path / "idx"), "--no-progress"]) == 0
    (root / "utils.py").write_text('"""Utils."""\nimport os\nimport sys\nimport re\n\n\n' + body)
    capsys.readouterr()
    assert main(["context", str(root / "main.py"), "--index", str(tmp_path / "idx"), "--json"]) == 0
    texts = "\n".join(item["text"] for item in json.loads(capsys.readouterr().out)["items"])
    assert "return x + 1" in texts and "return y * 2" in texts
