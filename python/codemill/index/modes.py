"""The closed choices of index search: search modes and hybrid fusions (light to import, so the
command line can offer them without loading the index)."""

from __future__ import annotations

from typing import Literal, get_args

SearchMode = Literal["hybrid", "keyword", "dense"]
"""``hybrid``: dense and keyword results fused; ``keyword``: BM25 only; ``dense``: vectors only."""
Fusion = Literal["rrf", "weighted"]
"""``rrf``: reciprocal rank fusion; ``weighted``: a weighted sum of min-max normalised scores."""

MODES: tuple[SearchMode, ...] = get_args(SearchMode)
FUSIONS: tuple[Fusion, ...] = get_args(Fusion)
