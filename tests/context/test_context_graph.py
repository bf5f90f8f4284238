"""The persistent graph (saved with the index, updated incrementally), symbols per language, and
the relevance floor: no unrelated code, no build-ignored or generated files, budgets kept."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import codemill
import pytest

pytest.importorskip("tree_sitter_python")
pytest.importorskip("networkx")

from codemill.cli import main
from codemill.context import graph_store
from codemill.context.builder import ContextBuilder
from codemill.context.graph import ImportGraph
from codemill.context.symbols import exclusion
from codemill.errors import GraphFormatError
from conftest import FIXTURES
from test_context import SHOP
from test_context_imports import write_tree


def _dump(graph: ImportGraph) -> dict:
    return graph_store.dump(graph)


def test_saved_graph_loads_equal_and_update_equals_a_fresh_build(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    graph = ImportGraph.build(repo)
    graph.save(tmp_path / "graph.json")
    loaded = ImportGraph.load(tmp_path / "graph.json")
    assert _dump(loaded) == _dump(graph)
    assert loaded.text("shop/cart.py") == (repo / "shop/cart.py").read_text()  # read when needed

    (repo / "shop/money.py").write_text("def round_cents(x):\n    return round(x, 2)\n\ndef to_str(x):\n    pass\n")
    (repo / "shop/inventory.py").unlink()
    write_tree(repo, {"shop/tax.py": "from shop.money import round_cents\n\nRATE = 0.2\n"})
    report = loaded.update()
    assert (report.changed, report.removed, report.unchanged) == (2, 1, len(loaded.files) - 2)
    assert _dump(loaded) == _dump(ImportGraph.build(repo))


def test_a_loaded_graph_updates_after_a_file_is_deleted(tmp_path: Path) -> None:
    # Nothing of the loaded graph read before the update: dropping the deleted file's lazily
    # loaded tables built its resolutions from infos already dropped ("corrupt graph").
    repo = write_tree(tmp_path / "repo", SHOP)
    ImportGraph.build(repo).save(tmp_path / "graph.json")
    (repo / "shop/inventory.py").unlink()
    loaded = ImportGraph.load(tmp_path / "graph.json")
    assert loaded.update().removed == 1
    assert _dump(loaded) == _dump(ImportGraph.build(repo))


GO_TS = {
    "go.mod": "module example.com/old\n\ngo 1.21\n",
    "cmd/main.go": 'package main\n\nimport "example.com/app/lib"\n\nfunc main() {\n\tlib.Greet()\n}\n',
    "lib/greet.go": "package lib\n\nfunc Greet() {}\n",
    "web/main.ts": "import { load } from '@app/users';\n\nload();\n",
    "web/src/users.ts": "export function load() {}\n",
}


def _fix_project_files(repo: Path) -> None:
    (repo / "go.mod").write_text("module example.com/app\n\ngo 1.21\n")  # the module path fixed
    (repo / "web/tsconfig.json").write_text('{"compilerOptions": {"paths": {"@app/*": ["src/*"]}}}\n')  # added


def test_an_update_resolves_again_when_only_a_project_file_changed(tmp_path: Path) -> None:
    # go.mod, tsconfig.json ... are no source files, but where imports lead depends on them: an
    # update left the imports resolved the old way, unlike a fresh build.
    repo = write_tree(tmp_path / "repo", GO_TS)
    ImportGraph.build(repo).save(tmp_path / "graph.json")
    _fix_project_files(repo)
    loaded = ImportGraph.load(tmp_path / "graph.json")
    report = loaded.update()
    assert (report.changed, report.removed) == (0, 0)
    assert dict(loaded.edges()["cmd/main.go"]) == {"lib/greet.go": 1.0}
    assert "web/src/users.ts" in dict(loaded.edges()["web/main.ts"])
    assert _dump(loaded) == _dump(ImportGraph.build(repo))
    loaded.save(tmp_path / "graph.json")  # the project files noted are saved with it
    assert ImportGraph.load(tmp_path / "graph.json").configs == loaded.configs
    assert loaded.update().seconds >= 0 and dict(loaded.edges()["cmd/main.go"]) == {"lib/greet.go": 1.0}


def test_a_context_call_after_a_project_file_changed_does_not_hide_it_from_the_update(tmp_path: Path) -> None:
    # A context call re-resolving an edited file reads go.mod as it is now; the update after it
    # must still see that go.mod changed (every other file's imports were resolved the old way).
    repo = write_tree(tmp_path / "repo", {**GO_TS, "cmd/other.go": GO_TS["cmd/main.go"]})
    graph = ImportGraph.build(repo)
    _fix_project_files(repo)
    (repo / "cmd/main.go").write_text(GO_TS["cmd/main.go"] + "\n// edited\n")
    graph.ensure(repo / "cmd/main.go")
    graph.update()
    assert dict(graph.edges()["cmd/other.go"]) == {"lib/greet.go": 1.0}
    assert _dump(graph) == _dump(ImportGraph.build(repo))


def test_a_context_call_made_while_a_project_file_was_edited_is_resolved_again(tmp_path: Path) -> None:
    # The edit put back before the update: go.mod reads as first noted, but the call's file was
    # resolved with the edited one (its import then led outside the repository).
    repo = write_tree(tmp_path / "repo", GO_TS)
    _fix_project_files(repo)
    graph = ImportGraph.build(repo)
    fixed = (repo / "go.mod").read_text()
    (repo / "go.mod").write_text("module example.com/zzz\n")
    (repo / "cmd/main.go").write_text(GO_TS["cmd/main.go"] + "\n// edited\n")
    graph.ensure(repo / "cmd/main.go")
    (repo / "go.mod").write_text(fixed)
    graph.update()
    assert dict(graph.edges()["cmd/main.go"]) == {"lib/greet.go": 1.0}
    assert _dump(graph) == _dump(ImportGraph.build(repo))


def test_update_reads_only_files_whose_stamp_changed(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    an_hour_ago = time.time() - 3600
    for p in repo.rglob("*"):
        os.utime(p, (an_hour_ago, an_hour_ago))
    graph = ImportGraph.build(repo)
    assert set(graph.stamps) == set(graph.files)
    graph.save(tmp_path / "graph.json")
    loaded = ImportGraph.load(tmp_path / "graph.json")
    assert loaded.stamps == graph.stamps
    (repo / "shop/money.py").write_text("def round_cents(x):\n    return x\n")
    report = loaded.update()
    assert (report.changed, report.unchanged) == (1, len(loaded.files) - 1)
    assert set(loaded._texts) == {"shop/money.py"}  # the others were not read
    assert "shop/money.py" not in loaded.stamps  # too recent to trust
    assert _dump(loaded) == _dump(ImportGraph.build(repo))


def test_an_unchanged_file_is_not_read_again_for_its_context(tmp_path: Path, tok, monkeypatch) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    an_hour_ago = time.time() - 3600
    for p in repo.rglob("*"):
        os.utime(p, (an_hour_ago, an_hour_ago))
    ImportGraph.build(repo).save(tmp_path / "graph.json")
    loaded = ImportGraph.load(tmp_path / "graph.json")

    def no_reading(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr("codemill.context.graph.read_file", no_reading)
    assert loaded.ensure(repo / "shop/cart.py") == "shop/cart.py"  # same mtime and size: trusted
    monkeypatch.undo()
    (repo / "shop/cart.py").write_text("from shop.money import round_cents\n")
    assert loaded.ensure(repo / "shop/cart.py") == "shop/cart.py"
    assert loaded.imports_of("shop/cart.py") == ["shop/money.py"]


def test_update_re_resolves_imports_of_unchanged_files(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "repo", {"app.py": "from lib import helper\n"})
    graph = ImportGraph.build(repo)
    assert graph.imports_of("app.py") == []
    write_tree(repo, {"lib.py": "def helper():\n    pass\n"})
    graph.update()
    assert graph.imports_of("app.py") == ["lib.py"]


def test_corrupt_or_missing_graph_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GraphFormatError, match="no saved repository graph"):
        ImportGraph.load(tmp_path / "graph.json")
    (tmp_path / "graph.json").write_text('{"format": "codemill-graph/0", "root": "/x"}')
    with pytest.raises(GraphFormatError, match=r"codemill-graph/0.*run `codemill index` on the repository again"):
        ImportGraph.load(tmp_path / "graph.json")  # (context and ask said only "not supported")
    (tmp_path / "graph.json").write_text("{nope")
    with pytest.raises(GraphFormatError, match="corrupt graph"):
        ImportGraph.load(tmp_path / "graph.json")
    repo = write_tree(tmp_path / "repo", {"a.py": "import b\n", "b.py": "X = 1\n"})
    ImportGraph.build(repo).save(tmp_path / "graph.json")
    header, _, body = (tmp_path / "graph.json").read_bytes().partition(b"\n")
    offset, length = json.loads(header)["files"]["b.py"]["detail"]
    corrupt = body[:offset] + b"{" * length + body[offset + length :]
    (tmp_path / "graph.json").write_bytes(header + b"\n" + corrupt)
    graph = ImportGraph.load(tmp_path / "graph.json")  # a file's detail is read when needed
    assert graph.symbols["a.py"].references == {"b"}
    with pytest.raises(GraphFormatError, match=r"corrupt graph at b\.py"):
        graph.symbols["b.py"]


def _rewrite_header(path: Path, change) -> None:
    header, _, body = path.read_bytes().partition(b"\n")
    data = json.loads(header)
    change(data)
    path.write_bytes(json.dumps(data).encode() + b"\n" + body)


def test_saved_graph_keeps_its_ranking_arrays(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    graph = ImportGraph.build(repo)
    graph.save(tmp_path / "graph.json")
    loaded = ImportGraph.load(tmp_path / "graph.json")
    saved, built = loaded.rank_graph(), graph.rank_graph()
    assert (saved.files, saved.first_def, saved.index) == (built.files, built.first_def, built.index)
    assert (saved.src, saved.dst, saved.weight) == (built.src, built.dst, built.weight)
    assert loaded.rank(["shop/cart.py"]) == graph.rank(["shop/cart.py"])
    (repo / "shop/tax.py").write_text("from shop.money import round_cents\n")
    loaded.ensure(repo / "shop/tax.py")  # a new file ranks from its own edges over the saved arrays
    assert loaded.rank(["shop/tax.py"])["shop/money.py"] > 0
    assert graph_store.dump(loaded)["rank"] == graph_store.dump(ImportGraph.build(repo))["rank"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="codemill-graph/1"), "'codemill-graph/1' is not supported"),
        (lambda d: d["files"]["b.py"].update(detail=[0, 10**9]), r"b\.py: detail at .* is outside the file"),
        (lambda d: d.pop("rank"), "KeyError: 'rank'"),
        (lambda d: d["names"].update(names=[10**9, 5]), r"symbol table names at \[1000000000, 5\] is outside"),
    ],
)
def test_corrupt_saved_graph_is_one_clear_error(tmp_path: Path, change, message) -> None:
    repo = write_tree(tmp_path / "repo", {"a.py": "import b\n", "b.py": "X = 1\n"})
    saved = tmp_path / "graph.json"
    ImportGraph.build(repo).save(saved)
    _rewrite_header(saved, change)
    with pytest.raises(GraphFormatError, match=message) as err:
        ImportGraph.load(saved)
    assert str(err.value).startswith(f"{saved}: ") and "\n" not in str(err.value)


def test_corrupt_ranking_arrays_are_one_clear_error(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "repo", {"a.py": "import b\n", "b.py": "X = 1\n"})
    saved = tmp_path / "graph.json"
    ImportGraph.build(repo).save(saved)
    header, body = saved.read_bytes().split(b"\n", 1)
    offset, length = json.loads(header)["rank"]["dst"]
    seven = b"\x07\0\0\0" * (length // 4)  # every edge to node 7, with 2 files and 1 definition
    saved.write_bytes(header + b"\n" + body[:offset] + seven + body[offset + length :])
    with pytest.raises(GraphFormatError, match="ranking arrays: an edge names node 7, outside the 3 nodes") as err:
        ImportGraph.load(saved).rank(["a.py"])
    assert str(err.value).startswith(f"{saved}: corrupt graph: ")
    _rewrite_header(saved, lambda d: d["rank"].update(weight=[offset, 3]))
    with pytest.raises(GraphFormatError, match="ranking arrays") as err:
        ImportGraph.load(saved).rank(["a.py"])
    assert "\n" not in str(err.value)
    _rewrite_header(saved, lambda d: d["rank"].update(weight=[10**9, 8]))
    with pytest.raises(GraphFormatError, match=r"ranking array weight at \[1000000000, 8\] is outside the file"):
        ImportGraph.load(saved)


def test_index_keeps_the_graph_and_context_loads_it(tmp_path: Path, capsys) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    out = tmp_path / "idx"
    assert main(["index", str(repo), "-o", str(out), "--no-progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["graph"]["action"] == "built"
    assert _dump(ImportGraph.load(out / "graph.json")) == _dump(ImportGraph.build(repo))

    write_tree(repo, {"shop/tax.py": "from shop.money import round_cents\n\nRATE = 0.2\n"})
    assert main(["index", str(repo), "-o", str(out), "--no-progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["graph"]["action"] == "updated"
    assert _dump(ImportGraph.load(out / "graph.json")) == _dump(ImportGraph.build(repo))

    shutil.rmtree(repo / "shop/__pycache__", ignore_errors=True)
    cart = str(repo / "shop/cart.py")
    assert main(["context", cart, "--index", str(out), "--budget", "400", "--json"]) == 0
    from_index = json.loads(capsys.readouterr().out)
    assert main(["context", cart, "--repo", str(repo), "--budget", "400", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == from_index["text"] != ""


@pytest.mark.parametrize(
    ("name", "language", "defined", "referenced"),
    [
        ("sample.py", "python", {"Parser", "parse"}, {"re", "annotations"}),
        ("sample.js", "javascript", {"resolveId"}, {"resolveId"}),
        ("sample.ts", "typescript", {"User", "loadUsers"}, {"User"}),
        ("sample.java", "java", {"RecentItems", "add"}, {"ArrayList", "List"}),
        ("sample.go", "go", {"Greeter", "Greet"}, {"Greeter", "fmt"}),
        ("sample.rs", "rust", {"Counter", "add"}, {"HashMap"}),
        ("sample.c", "c", {"sum", "main"}, {"printf"}),
        ("sample.cpp", "cpp", {"Stack", "push"}, {"vector"}),
    ],
)
def test_symbols_per_language(tmp_path: Path, name: str, language: str, defined: set, referenced: set) -> None:
    shutil.copy(FIXTURES / name, tmp_path / name)
    graph = ImportGraph.build(tmp_path)
    sym = graph.symbols[name]
    assert graph.files[name] == language
    assert defined <= {d.name for d in sym.definitions}
    assert referenced <= sym.references
    assert sym.excluded is None


def test_a_file_without_in_repo_imports_gets_no_unrelated_code(tmp_path: Path, tok) -> None:
    repo = write_tree(
        tmp_path,
        {
            "tool.py": "import json\n\n\ndef main(path):\n    return json.load(open(path))\n",
            "utils.py": "def load(path):\n    pass\n\n\ndef main():\n    pass\n",
            "app.py": "from tool import main\nfrom utils import load\n\nmain(load('x'))\n",
        },
    )
    builder = ContextBuilder(ImportGraph.build(repo), tok)
    for budget in (1000, 2000):
        ctx = builder.context(repo / "tool.py", budget)
        assert ctx.items == [] and ctx.text == "" and ctx.tokens == 0
    # the importer still gets both (what it references first)
    assert {i.path for i in builder.context(repo / "app.py", 2000).items} == {"tool.py", "utils.py"}


def test_build_ignored_generated_and_test_files_are_not_ranked(tmp_path: Path, tok) -> None:
    repo = write_tree(
        tmp_path,
        {
            "go.mod": "module example.com/m\n",
            "main.go": 'package main\n\nfunc main() {\n\tgreet("x")\n}\n',
            "greet.go": "package main\n\n// greet says hello.\nfunc greet(name string) {\n\tprintln(name)\n}\n",
            "gen.go": '//go:build ignore\n\npackage main\n\nfunc main() {\n\tgreet("gen")\n}\n',
            "tables.go": "// Code generated by stringer; DO NOT EDIT.\n\npackage main\n\nfunc greetTable() {}\n",
            "main_test.go": 'package main\n\nimport "testing"\n\nfunc TestGreet(t *testing.T) {\n\tgreet("t")\n}\n',
        },
    )
    graph = ImportGraph.build(repo)
    assert graph.symbols["gen.go"].excluded == "build-ignored"
    assert graph.symbols["tables.go"].excluded == "generated"
    ctx = ContextBuilder(graph, tok).context(repo / "main.go", 2000)
    assert ctx.files() == ["greet.go"]
    assert [i.name for i in ctx.items] == ["greet"]
    # a test file may see the code it tests
    assert "greet.go" in ContextBuilder(graph, tok).context(repo / "main_test.go", 2000).files()
    # a loaded graph knows the exclusions from its header, without parsing a file's symbols
    graph.save(tmp_path / "graph.json")
    loaded = ImportGraph.load(tmp_path / "graph.json")
    assert loaded.exclusions == graph.exclusions == {"gen.go": "build-ignored", "tables.go": "generated"}
    ctx = ContextBuilder(loaded, tok).context(repo / "main.go", 2000)
    assert ctx.files() == ["greet.go"]
    assert "tables.go" not in loaded.symbols._built  # type: ignore[attr-defined]


def test_exclusion_markers() -> None:
    assert exclusion("// +build ignore\n\npackage x\n", "go") == "build-ignored"
    assert exclusion("//go:build linux && ignore\npackage x\n", "go") == "build-ignored"
    assert exclusion("//go:build linux\npackage x\n", "go") is None
    assert exclusion("# @generated by protoc\nx = 1\n", "python") == "generated"
    assert exclusion("# This file is auto-generated; do not edit.\n", "python") == "generated"
    assert exclusion("def generated_by(x):\n    pass\n", "python") is None


def test_referenced_definitions_come_first_and_the_query_adds_what_it_names(tmp_path: Path, tok) -> None:
    repo = write_tree(
        tmp_path,
        {
            "lib.py": "".join(f"def helper_{i}(x):\n    '''Helper {i}.'''\n    return x\n\n" for i in range(30))
            + "def used(x):\n    return x\n",
            "app.py": "import lib\n\nlib.used(1)\n",
            "config.py": "def parse_config(path):\n    '''Reads the settings.'''\n    return {}\n",
        },
    )
    builder = ContextBuilder(ImportGraph.build(repo), tok)
    full = builder.context(repo / "app.py", 2000)
    assert [i.name for i in full.items][-1] == "used" and len(full.items) > 10
    room = next(i.tokens for i in full.items if i.name == "used")
    assert [i.name for i in builder.context(repo / "app.py", room).items] == ["used"]
    assert "config.py" not in builder.context(repo / "app.py", 2000).files()
    asked = builder.context(repo / "app.py", 2000, query="where is the config parsed?")
    assert "parse_config" in [i.name for i in asked.items]


@pytest.mark.parametrize("budget", [0, 3, 25, 120, 700, 3000])
def test_budget_never_exceeded_with_a_query(tmp_path: Path, tok, budget: int) -> None:
    repo = write_tree(tmp_path, SHOP)
    builder = ContextBuilder(ImportGraph.build(repo), tok)
    for f in SHOP:
        ctx = builder.context(repo / f, budget, query="cart total price discount inventory")
        assert ctx.tokens <= budget and tok.count_tokens(ctx.text) <= budget


def test_ask_and_context_load_the_graph_instead_of_parsing(tmp_path: Path, capsys, monkeypatch) -> None:
    pytest.importorskip("httpx")
    repo = write_tree(tmp_path / "repo", SHOP)
    out = tmp_path / "idx"
    assert main(["index", str(repo), "-o", str(out), "--no-progress"]) == 0
    capsys.readouterr()

    def no_build(*args, **kw):
        raise AssertionError("the repository was parsed again")

    monkeypatch.setattr(ImportGraph, "build", no_build)
    cart = str(repo / "shop/cart.py")
    assert main(["ask", "how is the total discounted?", "--index", str(out), "--file", cart, "--json"]) == 0
    prompt = json.loads(capsys.readouterr().out)
    assert any(s["kind"] == "context" and s["path"] == "shop/pricing.py" for s in prompt["sources"])
    assert main(["context", cart, "--index", str(out), "--query", "round cents"]) == 0
    assert "round_cents" in capsys.readouterr().out


def test_the_file_being_edited_is_read_again(tmp_path: Path, tok) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    ImportGraph.build(repo).save(tmp_path / "graph.json")
    builder = ContextBuilder(ImportGraph.load(tmp_path / "graph.json"), tok)
    money = repo / "shop/money.py"
    assert "shop/money.py" not in builder.context(repo / "shop/inventory.py", 2000).files()
    inventory = repo / "shop/inventory.py"
    inventory.write_text("from shop.money import round_cents\n\n\ndef in_stock(items):\n    return round_cents(1)\n")
    ctx = builder.context(inventory, 2000)
    assert ctx.files() == ["shop/money.py"] and money.exists()
    assert ctx.items[0].name == "round_cents"
    # the graph now answers like a fresh build for that file
    assert builder.graph.imports_of("shop/inventory.py") == ImportGraph.build(repo).imports_of("shop/inventory.py")


def test_context_budget_counts_with_the_given_tokenizer(tmp_path, capsys):
    (tmp_path / "b.py").write_text('def f():\n    """F."""\n    return 1\n')
    (tmp_path / "a.py").write_text("import b\n\nprint(b.f())\n")
    tok = tmp_path / "tok.json"
    codemill.CodeTokenizer.train([tmp_path], vocab_size=300, identifier_vocab_size=0).save(tok)
    assert main(["context", str(tmp_path / "a.py"), "--repo", str(tmp_path), "--tokenizer", str(tok), "--json"]) == 0
    ctx = json.loads(capsys.readouterr().out)
    # The byte-level 300-token vocabulary needs more tokens than the bundled one for the same text.
    assert main(["context", str(tmp_path / "a.py"), "--repo", str(tmp_path), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert ctx["tokens"] > default["tokens"] > 0


def test_a_file_name_that_is_not_utf8_is_one_node_read_by_its_real_name(tmp_path: Path) -> None:
    real = os.fsdecode(b"bad\xff.py")
    try:
        (tmp_path / real).write_text("import ok\nx = ok.f()\n")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    (tmp_path / "ok.py").write_text("def f():\n    return 1\n")
    graph = ImportGraph.build(tmp_path)
    assert sorted(graph.files) == ["bad\\xff.py", "ok.py"]
    assert graph.text("bad\\xff.py") == "import ok\nx = ok.f()\n"
    # The file named by its real path (a context query) is the same node, not a second one.
    assert graph.ensure(tmp_path / real) == "bad\\xff.py" and len(graph.files) == 2
