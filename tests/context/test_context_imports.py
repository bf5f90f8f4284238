"""Import extraction and resolution, per language, on small repository trees built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tree_sitter_python")
pytest.importorskip("networkx")

from codemill.context.graph import ImportGraph
from codemill.context.imports import Import, extract


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def resolutions(graph: ImportGraph, path: str) -> dict[str, tuple]:
    """import as written -> (files, definitions, external, in_repo)."""
    return {
        ("." * imp.level) + imp.module: (res.files, dict(res.definitions), res.external, res.in_repo)
        for imp, res in graph.resolutions[path]
    }


# --------------------------------------------------------------------------------------------
# python


PY_TREE = {
    "app/__init__.py": "",
    "app/main.py": (
        "import os\n"
        "import app.util\n"
        "import app.models.user as user_mod\n"
        "from . import util\n"
        "from .models import User, Group\n"
        "from .models.user import make_user\n"
        "from app.models import user\n"
        "from .. import toplevel\n"
        "import numpy as np\n"
    ),
    "app/util.py": "def helper():\n    return 1\n",
    "app/models/__init__.py": "from .user import User, make_user\nfrom .group import *\n",
    "app/models/user.py": (
        "from app.models.group import Group\n\nclass User:\n    pass\n\ndef make_user():\n    return User()\n"
    ),
    "app/models/group.py": "__all__ = ['Group']\n\nclass Group:\n    '''A group.'''\n",
    "toplevel.py": "X = 1\n",
}


def test_python_absolute_relative_packages_and_reexports(tmp_path: Path) -> None:
    g = ImportGraph.build(write_tree(tmp_path, PY_TREE))
    r = resolutions(g, "app/main.py")
    assert r["os"][2] == "os" and not r["os"][3]
    assert r["numpy"][2] == "numpy"
    assert r["app.util"][0] == ("app/util.py",)
    assert r["app.models.user"][0] == ("app/models/user.py",)
    # `from . import util`: a submodule of the package
    assert r["."][1] == {"util": "app/util.py"}
    # `from .models import User, Group`: re-exported by the package's __init__ (also via `*`)
    files, defs, _, _ = r[".models"]
    assert files == ("app/models/__init__.py",)
    assert defs == {"User": "app/models/user.py", "Group": "app/models/group.py"}
    assert r[".models.user"][1] == {"make_user": "app/models/user.py"}
    assert r["app.models"][1] == {"user": "app/models/user.py"}
    # `from .. import toplevel` from app/main.py reaches the repository root
    assert r[".."][1] == {"toplevel": "toplevel.py"}
    stats = g.stats()
    assert stats.in_repo_imports == stats.resolved_imports
    assert g.unresolved() == []


def test_python_src_layout_and_cycles(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "src/pkg/__init__.py": "from pkg.a import fa\n",
            "src/pkg/a.py": "from pkg import b\n\ndef fa():\n    return b.fb()\n",
            "src/pkg/b.py": "from pkg.a import fa\n\ndef fb():\n    return fa\n",
            # a re-export cycle: each module claims the other has `ghost`
            "src/pkg/c.py": "from pkg.d import ghost\n",
            "src/pkg/d.py": "from pkg.c import ghost\n",
            "tests/test_a.py": "from pkg.a import fa\nfrom pkg.c import ghost\n",
        },
    )
    g = ImportGraph.build(tmp_path)
    assert "src" in g.resolver.python_roots()
    assert resolutions(g, "src/pkg/a.py")["pkg"][1] == {"b": "src/pkg/b.py"}
    assert resolutions(g, "src/pkg/b.py")["pkg.a"][1] == {"fa": "src/pkg/a.py"}
    edges = g.edges()
    assert "src/pkg/b.py" in edges["src/pkg/a.py"] and "src/pkg/a.py" in edges["src/pkg/b.py"]
    r = resolutions(g, "tests/test_a.py")
    assert r["pkg.a"][1] == {"fa": "src/pkg/a.py"}
    assert r["pkg.c"][0] == ("src/pkg/c.py",)  # the cycle ends without a definition, at the module
    assert g.unresolved() == []


def test_python_extraction_details() -> None:
    info = extract(
        "import a.b as c, d\nfrom ..x.y import (p as q, r)\nfrom m import *\n"
        "try:\n    from _speed import f\nexcept ImportError:\n    def f(): pass\n"
        "def g():\n    import lazy\nK, L = 1, 2\n",
        "pkg/mod.py",
        "python",
    )
    mods = [(i.level, i.module) for i in info.imports]
    assert mods == [(0, "a.b"), (0, "d"), (2, "x.y"), (0, "m"), (0, "_speed"), (0, "lazy")]
    assert info.imports[2].names == (("p", "q"), ("r", "r"))
    assert info.imports[3].names == (("*", "*"),)
    assert info.imports[0].alias == "c"
    assert {"f", "g", "K", "L"} <= info.defines
    assert info.bindings()["q"][1] == "p"


# --------------------------------------------------------------------------------------------
# javascript / typescript


def test_js_ts_relative_index_reexports_and_aliases(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "package.json": '{"name": "root"}',
            "tsconfig.json": '{\n // comment\n "compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["src/*"]},},\n}',
            "src/main.ts": (
                "import { foo, bar as baz } from './lib';\n"
                "import * as u from './util.js';\n"
                "import React from 'react';\n"
                "import { thing } from '@/deep/thing';\n"
                "import { shared } from '@acme/shared/helpers';\n"
                "const c = require('./cjs');\n"
                "export { foo };\n"
            ),
            "src/lib/index.ts": "export * from './foo';\nexport { barImpl as bar } from './bar';\n",
            "src/lib/foo.ts": "export function foo(): number { return 1; }\n",
            "src/lib/bar.ts": "export const barImpl = () => 2;\n",
            "src/util.ts": "import { foo } from './lib';\nexport const u = foo();\n",
            "src/cjs.js": "module.exports = {};\n",
            "src/deep/thing.tsx": "export const thing = 1;\n",
            "packages/shared/package.json": '{"name": "@acme/shared", "main": "index.js"}',
            "packages/shared/helpers.ts": "export function shared() {}\n",
            "packages/shared/index.js": "",
        },
    )
    g = ImportGraph.build(tmp_path)
    r = resolutions(g, "src/main.ts")
    files, defs, _, _ = r["./lib"]
    assert files == ("src/lib/index.ts",)
    assert defs == {"foo": "src/lib/foo.ts", "bar": "src/lib/bar.ts"}
    assert r["./util.js"][0] == ("src/util.ts",)  # `.js` written, `.ts` on disk
    assert r["react"][2] == "react" and not r["react"][3]
    assert r["@/deep/thing"][0] == ("src/deep/thing.tsx",)
    assert r["@acme/shared/helpers"][0] == ("packages/shared/helpers.ts",)
    assert r["./cjs"][0] == ("src/cjs.js",)
    # a cycle through the index: util imports lib, main imports util
    assert "src/lib/index.ts" in g.edges()["src/util.ts"]
    assert g.unresolved() == []


def test_js_unresolved_relative_is_reported(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.js": "import x from './missing';\nimport y from 'lodash/fp';\n"})
    g = ImportGraph.build(tmp_path)
    r = resolutions(g, "a.js")
    assert r["./missing"][3] and not r["./missing"][0]
    assert r["lodash/fp"][2] == "lodash"
    assert [(f, i.module) for f, i in g.unresolved()] == [("a.js", "./missing")]
    assert g.stats().resolved_share == 0.0


# --------------------------------------------------------------------------------------------
# go


def test_go_packages_via_go_mod(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "go.mod": "module example.com/shop\n\ngo 1.22\n",
            "main.go": (
                'package main\n\nimport (\n\t"fmt"\n\tinv "example.com/shop/internal/inventory"\n'
                '\t"example.com/shop/internal/money"\n\t"github.com/google/uuid"\n)\n'
            ),
            "internal/inventory/stock.go": 'package inventory\n\nimport "example.com/shop/internal/money"\n',
            "internal/inventory/item.go": "package inventory\n\ntype Item struct{ Name string }\n",
            "internal/inventory/item_test.go": "package inventory\n",
            "internal/money/money.go": 'package money\n\nimport "example.com/shop/internal/inventory"\n',
            "tools/go.mod": "module example.com/shop/tools\n",
            "tools/gen/gen.go": 'package gen\n\nimport "example.com/shop/tools/lib"\n',
            "tools/lib/lib.go": "package lib\n",
        },
    )
    g = ImportGraph.build(tmp_path)
    r = resolutions(g, "main.go")
    assert r["fmt"][2] == "fmt"
    assert r["github.com/google/uuid"][2] == "github.com/google/uuid"
    assert r["example.com/shop/internal/inventory"][0] == (
        "internal/inventory/item.go",
        "internal/inventory/stock.go",
    )
    # a cycle between packages still builds a graph
    assert "internal/inventory/item.go" in g.edges()["internal/money/money.go"]
    # the nested module wins for its own paths
    assert resolutions(g, "tools/gen/gen.go")["example.com/shop/tools/lib"][0] == ("tools/lib/lib.go",)
    assert sorted(g.package_siblings("internal/inventory/stock.go")) == ["internal/inventory/item.go"]
    assert g.unresolved() == []


# --------------------------------------------------------------------------------------------
# rust


def test_rust_mod_use_crate_paths_and_reexports(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "Cargo.toml": '[package]\nname = "my-crate"\nversion = "0.1.0"\n',
            "src/lib.rs": (
                'pub mod model;\nmod util;\n#[path = "gen/out.rs"]\nmod generated;\n'
                "pub use model::Thing;\nuse std::collections::HashMap;\nuse serde::Serialize;\n"
            ),
            "src/model/mod.rs": "mod thing;\npub use self::thing::Thing;\nuse super::util::{helper, Config as Cfg};\n",
            "src/model/thing.rs": "pub struct Thing;\nuse crate::model::Thing as Again;\nuse super::super::util;\n",
            "src/util.rs": "pub fn helper() {}\npub struct Config;\nuse crate::model::Thing;\n",
            "src/gen/out.rs": "pub const X: u8 = 1;\n",
            "tests/it.rs": "use my_crate::Thing;\nuse my_crate::model;\nmod common;\n",
            "tests/common/mod.rs": "pub fn setup() {}\n",
        },
    )
    g = ImportGraph.build(tmp_path)
    r = resolutions(g, "src/lib.rs")
    assert r["model"][0] == ("src/model/mod.rs",)
    assert r["util"][0] == ("src/util.rs",)
    assert r["generated"][0] == ("src/gen/out.rs",)
    # `pub use model::Thing` in lib.rs: followed through model/mod.rs's own `pub use`
    assert r["model::Thing"][1] == {"Thing": "src/model/thing.rs"}
    assert r["std::collections::HashMap"][2] == "std"
    assert r["serde::Serialize"][2] == "serde"
    m = resolutions(g, "src/model/mod.rs")
    assert m["thing"][0] == ("src/model/thing.rs",)
    assert m["super::util::helper"][0] == ("src/util.rs",)
    assert m["super::util::Config"][1] == {"Config": "src/util.rs"}
    t = resolutions(g, "src/model/thing.rs")
    assert t["crate::model::Thing"][1] == {"Thing": "src/model/thing.rs"}  # a cycle back to itself
    assert t["super::super::util"][0] == ("src/util.rs",)
    it = resolutions(g, "tests/it.rs")
    assert it["my_crate::Thing"][1] == {"Thing": "src/model/thing.rs"}
    assert it["my_crate::model"][0] == ("src/model/mod.rs",)
    assert it["common"][0] == ("tests/common/mod.rs",)
    assert g.unresolved() == []


def test_rust_use_lists_expand() -> None:
    info = extract("use crate::{a::B, c::{self, D as E}};\nuse super::*;\n", "src/x.rs", "rust")
    assert [i.module for i in info.imports] == ["crate::a::B", "crate::c", "crate::c::D", "super::*"]
    assert info.imports[2].names == (("D", "E"),)


def test_rust_reexport_cycle_terminates(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "src/lib.rs": "mod a;\nmod b;\nuse a::X;\n",
            "src/a.rs": "pub use crate::b::X;\n",
            "src/b.rs": "pub use crate::a::X;\n",
        },
    )
    g = ImportGraph.build(tmp_path)
    files, defs, _, _ = resolutions(g, "src/lib.rs")["a::X"]
    assert files == ("src/a.rs",) and defs["X"] in ("src/a.rs", "src/b.rs")


# --------------------------------------------------------------------------------------------
# java


def test_java_packages_static_nested_and_wildcards(tmp_path: Path) -> None:
    base = "src/main/java/com/acme"
    write_tree(
        tmp_path,
        {
            f"{base}/App.java": (
                "package com.acme;\n\nimport com.acme.util.Strings;\nimport com.acme.util.Strings.Joiner;\n"
                "import static com.acme.util.Strings.join;\nimport com.acme.model.*;\nimport java.util.List;\n\n"
                "public class App { Helper h; }\n"
            ),
            f"{base}/Helper.java": "package com.acme;\n\nimport com.acme.App;\n\nclass Helper { App app; }\n",
            f"{base}/util/Strings.java": (
                "package com.acme.util;\n\npublic class Strings {\n  public static class Joiner {}\n"
                '  public static String join() { return ""; }\n}\n'
            ),
            f"{base}/model/User.java": "package com.acme.model;\npublic class User {}\n",
            f"{base}/model/Group.java": "package com.acme.model;\npublic class Group {}\n",
        },
    )
    g = ImportGraph.build(tmp_path)
    r = resolutions(g, f"{base}/App.java")
    strings = f"{base}/util/Strings.java"
    assert r["com.acme.util.Strings"][0] == (strings,)
    assert r["com.acme.util.Strings.Joiner"][0] == (strings,)
    assert r["com.acme.util.Strings.join"][1] == {"join": strings}
    assert r["com.acme.model"][0] == (f"{base}/model/Group.java", f"{base}/model/User.java")
    assert r["java.util.List"][2] == "java.util" and not r["java.util.List"][3]
    # a cycle App -> Helper (same package, no import) -> App
    assert f"{base}/App.java" in g.edges()[f"{base}/Helper.java"]
    assert g.package_siblings(f"{base}/App.java") == [f"{base}/Helper.java"]
    assert g.unresolved() == []


def test_java_missing_class_in_known_package_is_unresolved(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a/A.java": "package a;\nimport b.Missing;\nclass A {}\n",
            "b/B.java": "package b;\nclass B {}\n",
        },
    )
    g = ImportGraph.build(tmp_path)
    assert [(f, i.module) for f, i in g.unresolved()] == [("a/A.java", "b.Missing")]


# --------------------------------------------------------------------------------------------
# c / c++


def test_c_includes(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "src/main.c": '#include <stdio.h>\n#include "util.h"\n#include "lib/api.h"\n#include "Python.h"\n',
            "src/util.h": "int util(void);\n",
            "include/lib/api.h": '#include "../../src/util.h"\n',
        },
    )
    g = ImportGraph.build(tmp_path)
    r = resolutions(g, "src/main.c")
    assert r["util.h"][0] == ("src/util.h",)
    assert r["lib/api.h"][0] == ("include/lib/api.h",)
    assert r["stdio.h"][2] == "stdio.h"
    assert r["Python.h"][2] == "Python.h"  # a header that is not in the repository is external
    assert resolutions(g, "include/lib/api.h")["../../src/util.h"][0] == ("src/util.h",)


def test_import_dataclass_defaults() -> None:
    imp = Import("x", 3)
    assert imp.names == () and imp.level == 0 and imp.kind == "import"


def test_unknown_language_has_no_imports() -> None:
    assert extract("anything", "notes.txt", "generic").imports == []
