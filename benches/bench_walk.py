"""The walk of a tree (`codemill.sources.walk`, what `tokenize` plans from), with and without a
real-size ``.gitignore`` at its top.

Run: `python benches/bench_walk.py TREE [TREE ...] [--rounds 5] [--ref OTHER_CHECKOUT/python]
[--json F]`.

Each tree is walked as it is and as a hard-linked copy that is a repository (a ``.git`` folder)
whose ``.gitignore`` holds `TEMPLATE`: the 150-odd lines of GitHub's Python, Node and JetBrains
templates a repository starts from (only ``*.log`` and the like match anything in a tree of
sources: it measures what the rules cost the many paths that none of them matches). Per round
and tree, a fresh process of this checkout and, with ``--ref``, one of the other (its ``python``
folder first on PYTHONPATH), the two taking turns at going first; a process reports the best of
3 walks. Rows are medians.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from argparse import ArgumentParser
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "python"

# Lines of the templates a repository's .gitignore is made from (GitHub's Python, Node and
# JetBrains ones, shortened): what a user's top-level ignore file typically holds.
TEMPLATE = """\
# Byte-compiled / optimized / DLL files
__pycache__/
*.py[cod]
*$py.class
*.so
.Python
build/
develop-eggs/
dist/
downloads/
eggs/
.eggs/
lib/
lib64/
parts/
sdist/
var/
wheels/
share/python-wheels/
*.egg-info/
.installed.cfg
*.egg
MANIFEST
*.manifest
*.spec
pip-log.txt
pip-delete-this-directory.txt
htmlcov/
.tox/
.nox/
.coverage
.coverage.*
.cache
nosetests.xml
coverage.xml
*.cover
*.py,cover
.hypothesis/
.pytest_cache/
cover/
*.mo
*.pot
*.log
local_settings.py
db.sqlite3
db.sqlite3-journal
instance/
.webassets-cache
.scrapy
docs/_build/
.pybuilder/
target/
.ipynb_checkpoints
profile_default/
ipython_config.py
.pdm.toml
.pdm-python
.pdm-build/
__pypackages__/
celerybeat-schedule
celerybeat.pid
*.sage.py
.env
.venv
env/
venv/
ENV/
env.bak/
venv.bak/
.spyderproject
.spyproject
.ropeproject
/site
.mypy_cache/
.dmypy.json
dmypy.json
.pyre/
.pytype/
cython_debug/
.ruff_cache/
.pypirc
logs
npm-debug.log*
yarn-debug.log*
yarn-error.log*
lerna-debug.log*
.pnpm-debug.log*
report.[0-9]*.[0-9]*.[0-9]*.[0-9]*.json
pids
*.pid
*.seed
*.pid.lock
lib-cov
coverage
*.lcov
.nyc_output
.grunt
bower_components
.lock-wscript
build/Release
node_modules/
jspm_packages/
web_modules/
*.tsbuildinfo
.npm
.eslintcache
.stylelintcache
.rpt2_cache/
.rts2_cache_cjs/
.rts2_cache_es/
.rts2_cache_umd/
.node_repl_history
*.tgz
.yarn-integrity
.env.development.local
.env.test.local
.env.production.local
.env.local
.parcel-cache
.next
out
.nuxt
.vuepress/dist
.temp
.docusaurus
.serverless/
.fusebox/
.dynamodb/
.tern-port
.vscode-test
.yarn/cache
.yarn/unplugged
.yarn/build-state.yml
.yarn/install-state.gz
.pnp.*
.idea/**/workspace.xml
.idea/**/tasks.xml
.idea/**/usage.statistics.xml
.idea/**/dictionaries
.idea/**/shelf
.idea/**/contentModel.xml
.idea/**/dataSources/
.idea/**/dataSources.ids
.idea/**/dataSources.local.xml
.idea/**/sqlDataSources.xml
.idea/**/dynamic.xml
.idea/**/uiDesigner.xml
.idea/**/dbnavigator.xml
cmake-build-*/
*.iws
/out/
.idea_modules/
atlassian-ide-plugin.xml
com_crashlytics_export_strings.xml
crashlytics.properties
crashlytics-build.properties
fabric.properties
"""

_CHILD = """
import sys, time
from pathlib import Path
from codemill.sources import Skips, walk
best, found = float("inf"), 0
for _ in range(3):
    t0 = time.perf_counter()
    skips = Skips()
    found = sum(1 for _ in walk(Path(sys.argv[1]), skips))
    best = min(best, time.perf_counter() - t0)
print(best, found, skips.total)
"""


def walk_once(tree: Path, pythonpath: Path) -> tuple[float, int, int]:
    """(best seconds of 3 walks, files found, items skipped) in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tree)], env=env, capture_output=True, text=True, check=True)
    seconds, found, skipped = out.stdout.split()
    return float(seconds), int(found), int(skipped)


def repository_copy(tree: Path, dest: Path) -> Path:
    """A hard-linked copy of ``tree`` that is a repository with `TEMPLATE` as its .gitignore."""
    shutil.copytree(tree, dest, copy_function=os.link, symlinks=True)
    (dest / ".git").mkdir(exist_ok=True)
    (dest / ".gitignore").write_text(TEMPLATE, encoding="utf-8")
    return dest


def main() -> None:
    ap = ArgumentParser()
    ap.add_argument("trees", nargs="+", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ref", type=Path, help="another checkout's python folder, walked side by side")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    sides = {"this": HERE, **({"ref": args.ref.resolve()} if args.ref else {})}
    rules = sum(1 for line in TEMPLATE.splitlines() if line and not line.startswith("#"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="codemill-bench-walk-") as scratch:
        for tree in args.trees:
            for ignore, where in (("none", tree), (f"{rules} rules", repository_copy(tree, Path(scratch) / tree.name))):
                runs: dict[str, list[tuple[float, int, int]]] = {s: [] for s in sides}
                for r in range(args.rounds):
                    for side in list(sides)[:: 1 if r % 2 == 0 else -1]:
                        runs[side].append(walk_once(where, sides[side]))
                row = {"tree": str(tree), "gitignore": ignore, "files": runs["this"][0][1]}
                for side, got in runs.items():
                    row[f"{side}_seconds"] = round(statistics.median(g[0] for g in got), 4)
                    row[f"{side}_skipped"] = got[0][2]
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "ref": str(args.ref) if args.ref else None,
        "rounds": args.rounds,
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
