"""The joint file+definition ranking graph and the native personalised PageRank: equal to
networkx and to the numpy computation it replaced, deterministic, the edited file ranked from
its new edges, and a context call that never imports numpy."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tree_sitter_python")
pytest.importorskip("networkx")

import networkx as nx  # type: ignore[import-untyped, unused-ignore]
from codemill import _core
from codemill.context.builder import ContextBuilder
from codemill.context.graph import ImportGraph
from codemill.context.ranking import DAMPING, REVERSE_WEIGHT, RankGraph, out_edges
from codemill.errors import CodemillError
from test_context import SHOP
from test_context_imports import write_tree


def _edges(g: RankGraph) -> list[tuple[int, int, float]]:
    src, dst, w = (memoryview(b).cast(c) for b, c in ((g.src, "I"), (g.dst, "I"), (g.weight, "d")))
    return list(zip(src, dst, w, strict=True))


def _name(g: RankGraph, graph: ImportGraph, node: int) -> str:
    """A node by name: a file's path, or ``path:qualname`` of a definition."""
    for f, i in g.index.items():
        if i == node:
            return f
    k = max(i for i, first in enumerate(g.first_def[:-1]) if first <= node)
    return f"{g.files[k]}:{graph.symbols[g.files[k]].definitions[node - g.first_def[k]].qualname}"


def _numpy_rank(n: int, edges: list[tuple[int, int, float]], seeds: dict[int, float]) -> np.ndarray:
    """The numpy power iteration the native one replaced (codemill 2026-11, context/ranking.py)."""
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    weight = np.array([e[2] for e in edges])
    total = np.bincount(src, weights=weight, minlength=n)
    prob, dangling = weight / total[src], total == 0
    p = np.zeros(n)
    for s, w in seeds.items():
        p[s] = w
    p /= p.sum()
    x = np.full(n, 1.0 / n)
    for _ in range(200):
        last = x
        x = DAMPING * (np.bincount(dst, weights=x[src] * prob, minlength=n) + x[dangling].sum() * p)
        x += (1.0 - DAMPING) * p
        if np.abs(x - last).sum() < n * 1e-8:
            break
    return x


@pytest.fixture()
def shop_graph(tmp_path: Path) -> ImportGraph:
    return ImportGraph.build(write_tree(tmp_path / "repo", SHOP))


def test_native_pagerank_equals_networkx_and_numpy_on_the_joint_graph(shop_graph: ImportGraph) -> None:
    g = shop_graph.rank_graph()
    assert g.nodes > len(g.files)  # definitions are nodes
    cart = g.index["shop/cart.py"]
    seeds = {cart: 1.0, g.first_def[cart]: 0.5, g.index["shop/money.py"]: 0.25}
    ranks = shop_graph.rank_nodes(seeds)
    assert ranks is not None
    native = [ranks._values[i] for i in range(g.nodes)]
    edges = _edges(g)
    assert native == pytest.approx(_numpy_rank(g.nodes, edges, seeds).tolist(), abs=1e-12)
    nxg = nx.DiGraph()
    nxg.add_nodes_from(range(g.nodes))
    nxg.add_weighted_edges_from(edges)
    # networkx run to convergence; ours stops when an iteration changes the ranks by < 1e-8 each
    expected = nx.pagerank(nxg, alpha=DAMPING, personalization=seeds, tol=1e-14, max_iter=10_000)
    assert native == pytest.approx([expected[i] for i in range(g.nodes)], abs=1e-7)


def test_native_pagerank_rejects_bad_arrays_with_one_clear_error() -> None:
    one = struct.pack("<I", 0)
    with pytest.raises(CodemillError, match="an edge names node 5, outside the 2 nodes"):
        _core.personalized_pagerank(2, one, struct.pack("<I", 5), struct.pack("<d", 1.0), [(0, 1.0)])
    with pytest.raises(CodemillError, match="weight: 3 bytes is not a whole number"):
        _core.personalized_pagerank(2, one, one, b"abc", [(0, 1.0)])
    with pytest.raises(CodemillError, match="needs a seed"):
        _core.personalized_pagerank(2, one, one, struct.pack("<d", 1.0), [])


def test_file_level_ranking_is_the_files_graph_alone(shop_graph: ImportGraph) -> None:
    nxg = nx.DiGraph()
    nxg.add_nodes_from(shop_graph.files)
    for src, out in shop_graph.edges().items():
        for dst, w in out.items():
            if not dst.startswith("external:") and dst != src:
                for a, b, x in ((src, dst, w), (dst, src, w * REVERSE_WEIGHT)):
                    prior = nxg.get_edge_data(a, b, {"weight": 0.0})["weight"]
                    nxg.add_edge(a, b, weight=prior + x)
    expected = nx.pagerank(nxg, alpha=DAMPING, personalization={"shop/cart.py": 1.0}, tol=1e-14, max_iter=10_000)
    got = shop_graph.rank(["shop/cart.py"], joint=False)
    assert got == pytest.approx({f: r for f, r in expected.items() if r > 0}, abs=1e-7)


def test_definitions_rank_by_what_the_file_uses(shop_graph: ImportGraph) -> None:
    g = shop_graph.rank_graph()
    names = {_name(g, shop_graph, i): i for i in range(len(g.files), g.nodes)}
    edges = {(_name(g, shop_graph, a), _name(g, shop_graph, b)) for a, b, _ in _edges(g)}
    # the file's identifiers lead to the definitions they name, each definition to its file
    assert ("shop/cart.py", "shop/pricing.py:discount") in edges
    assert ("shop/cart.py", "shop/inventory.py:in_stock") in edges
    assert ("shop/pricing.py:discount", "shop/pricing.py") in edges
    assert ("shop/pricing.py", "shop/money.py:round_cents") in edges
    assert not any(b == "shop/inventory.py:STOCK" for a, b in edges if a == "shop/cart.py")
    ranks = shop_graph.rank_nodes({g.index["shop/cart.py"]: 1.0})
    assert ranks is not None
    rank = {n: ranks._values[i] for n, i in names.items()}
    assert rank["shop/pricing.py:discount"] > rank["shop/pricing.py:Price.__init__"]
    assert rank["shop/inventory.py:in_stock"] > rank["shop/inventory.py:STOCK"]
    assert rank["shop/money.py:round_cents"] > 0 and rank["shop/unrelated.py:lonely"] == 0


def test_joint_ranking_is_deterministic(tmp_path: Path, tok) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    a, b = ImportGraph.build(repo), ImportGraph.build(repo)
    ga, gb = a.rank_graph(), b.rank_graph()
    assert (ga.src, ga.dst, ga.weight, ga.first_def) == (gb.src, gb.dst, gb.weight, gb.first_def)
    a.save(tmp_path / "graph.json")
    loaded = ImportGraph.load(tmp_path / "graph.json")
    contexts = [
        ContextBuilder(g, tok).context(repo / "shop/cart.py", 300, query="round cents").to_dict()
        for g in (a, b, loaded, loaded)
    ]
    assert all(c == contexts[0] for c in contexts[1:])
    assert contexts[0]["items"]


def test_the_edited_file_is_ranked_from_its_new_edges(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    ImportGraph.build(repo).save(tmp_path / "graph.json")
    loaded = ImportGraph.load(tmp_path / "graph.json")
    (repo / "shop/inventory.py").write_text("from shop.money import round_cents\n\nSTOCK = round_cents(1)\n")
    rel = loaded.ensure(repo / "shop/inventory.py")
    edited, fresh = loaded.rank_graph(), ImportGraph.build(repo).rank_graph()

    def out(g: RankGraph, graph: ImportGraph) -> dict[str, float]:
        return {_name(g, graph, b): w for a, b, w in _edges(g) if a == g.index[rel]}

    fresh_graph = ImportGraph.build(repo)
    assert (
        out(edited, loaded)
        == out(fresh, fresh_graph)
        == {
            "shop/money.py": 2.0,  # the import and the name imported
            "shop/money.py:round_cents": 1.0,
            "shop/cart.py": 1.0 * REVERSE_WEIGHT,
        }
    )
    assert out_edges(loaded, edited, rel) == {
        edited.index["shop/money.py"]: 2.0,
        edited.definition_node("shop/money.py", 0): 1.0,
        edited.index["shop/cart.py"]: REVERSE_WEIGHT,
    }
    assert loaded.rank(["shop/inventory.py"])["shop/money.py"] > 0
    # saving ranks like a fresh build, not from the edited arrays
    assert loaded.exact_rank_graph().src == fresh.src


def test_a_context_call_does_not_import_numpy(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    ImportGraph.build(repo).save(tmp_path / "graph.json")
    code = (
        "import sys\n"
        "from codemill.cli import main\n"
        f"main(['context', {str(repo / 'shop/cart.py')!r}, '--index', {str(tmp_path)!r}, '--json'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'numpy' or m.startswith('numpy.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True
    ).stdout
    *context, modules = out.strip().splitlines()
    assert json.loads("\n".join(context))["items"]
    assert json.loads(modules) == []


def test_the_file_level_ranking_stays_available(shop_graph: ImportGraph, tok) -> None:
    with pytest.raises(CodemillError, match="ranking must be one of joint, file, got 'pages'"):
        ContextBuilder(shop_graph, tok, ranking="pages")
    joint = ContextBuilder(shop_graph, tok).context("shop/cart.py", 2000)
    files = ContextBuilder(shop_graph, tok, ranking="file").context("shop/cart.py", 2000)
    assert {i.name for i in files.items} >= {"discount", "Price", "in_stock"}
    assert {i.name for i in joint.items} >= {"discount", "Price", "in_stock"}


def test_asked_names_skips_only_names_no_term_is_a_piece_of() -> None:
    from codemill.context.relevance import asked_names, query_terms

    names = ["parse_config", "ConfigParser", "load", "x", "getUserById", "user_id", "config", "Cart", "parsing"]
    for query in ("where is the config parsed", "find the user by id", "cart", "nothing here", "parsing x"):
        terms = query_terms(query)
        every = []
        for row in _core.code_terms(names):  # the rule on every name, as before the shortcut
            whole, *parts = row or [""]
            hits = sum(p in terms for p in parts)
            every.append(whole in terms or (hits >= 2 and 2 * hits >= len(parts)))
        assert asked_names(names, terms) == every, query
    assert asked_names(names, query_terms("where is the config parsed"))[0]  # parse_config
