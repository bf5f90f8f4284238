"""Real code of every language and generated text for the base-vocabulary tests."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

from hypothesis import strategies as st

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FIXTURES = Path(__file__).parent.parent / "fixtures"

CODE_SUFFIXES = (".py", ".rs", ".go", ".java", ".js", ".ts", ".c", ".h", ".cpp", ".hpp", ".cc")


def real_code(limit: int = 160) -> list[tuple[str, str]]:
    """(name, text) of real code: the fixtures, a sample of the stdlib, C headers and, where
    present, Rust crates from the cargo registry."""
    files = sorted(FIXTURES.glob("sample.*"))
    rng = random.Random(13)
    stdlib = sorted(STDLIB.rglob("*.py"))
    files += rng.sample(stdlib, min(limit, len(stdlib)))
    include = Path(sysconfig.get_paths()["include"])
    files += sorted(include.rglob("*.h"))[:20]
    cargo = Path.home() / ".cargo" / "registry" / "src"
    if cargo.exists():
        rs = sorted(p for p in cargo.glob("*/*/src/*.rs"))
        files += rng.sample(rs, min(40, len(rs)))
    out = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if text:
            out.append((f.name, text))
    return out


CODE = real_code()

# Text that stresses the split patterns: contractions in any case, Unicode letters and
# marks, digits of other scripts, every kind of whitespace.
ALPHABET = st.sampled_from(
    list("aZ'sStTlLdDmMrReEvV ſ\t\n\r\x0b\x0c\u3000\u00a0 0123456789²½①_-/.,;:()[]{}<>!?\"#$%&*+=@\\^`|~")
    + list("éÉßǅĳ中文かなカナ한국어ÀΣσςдД\u0301\u0308\u200d😀👍🏽")
)
TEXT = st.one_of(st.text(ALPHABET, max_size=80), st.text(max_size=60))
