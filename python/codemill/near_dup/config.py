"""DedupConfig: every parameter of the near-duplicate decision, validated in one place.

`dedup`, `dedup_texts` and prepare's dedup stage all take one `DedupConfig` (or its fields
as keyword arguments, `DedupOptions`), so the three cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal, TypedDict, get_args

from codemill import _core
from codemill.errors import ConfigError

__all__ = [
    "ENGINES",
    "KEEP_POLICIES",
    "RECALL_WEIGHT",
    "SCHEMES",
    "WINDOW",
    "DedupConfig",
    "DedupOptions",
    "DedupParams",
    "Engine",
    "KeepPolicy",
    "Scheme",
    "Verify",
    "check_lsh",
    "choose_bands_rows",
    "default_margin",
    "standard_error",
]

Scheme = Literal["bucket", "mersenne"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)
RECALL_WEIGHT = 0.95
WINDOW = 64

KeepPolicy = Literal["first", "last", "longest", "shortest"]
KEEP_POLICIES: tuple[KeepPolicy, ...] = get_args(KeepPolicy)
# True: the exact Jaccard decides every candidate pair; "borderline": only pairs whose estimate
# is within two standard errors of the threshold; False: the signature estimate alone.
Verify = bool | Literal["borderline"]
Engine = Literal["local", "ray"]
ENGINES: tuple[Engine, ...] = get_args(Engine)


def check_lsh(
    threshold: float,
    num_perm: int,
    ngram: int,
    bands: int | None,
    rows: int | None,
    recall_weight: float,
    scheme: str,
) -> None:
    """Raises ConfigError naming the first MinHash / LSH parameter that cannot work."""
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"threshold must be strictly between 0 and 1, got {threshold}")
    if not 1 <= num_perm <= _core.MAX_NUM_PERM:  # past it, choosing bands and rows ran for minutes first
        raise ConfigError(f"num_perm must be between 1 and {_core.MAX_NUM_PERM}, got {num_perm}")
    if not 1 <= ngram <= _core.MAX_NGRAM:
        raise ConfigError(f"ngram must be between 1 and {_core.MAX_NGRAM}, got {ngram}")
    if not 0.0 < recall_weight < 1.0:
        raise ConfigError(f"recall_weight must be strictly between 0 and 1, got {recall_weight}")
    if (bands is None) != (rows is None):
        raise ConfigError("give both bands and rows, or neither")
    if bands is not None and rows is not None and (bands < 1 or rows < 1 or bands * rows > num_perm):
        raise ConfigError(f"bands ({bands}) x rows ({rows}) must be positive and at most num_perm ({num_perm})")
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown scheme {scheme!r}; known: {', '.join(SCHEMES)}")


@lru_cache(maxsize=64)
def choose_bands_rows(threshold: float, num_perm: int, recall_weight: float) -> tuple[int, int]:
    """The `(bands, rows)` that minimise `(1 - recall_weight) * FP area + recall_weight *
    FN area` of the S-curve (datasketch's rule at `recall_weight=0.5`). Kept for the process:
    ~5 ms of integrals at 256 permutations, paid by each `MinHasher` made (a Ray sign task makes
    one per part or file: 0.52 of the 0.69 s 100 small JSONL files took to sign)."""
    bands, rows = _core.lsh_params(threshold, num_perm, 1.0 - recall_weight, recall_weight)
    return int(bands), int(rows)


def standard_error(threshold: float, num_perm: int) -> float:
    """The standard error of a MinHash Jaccard estimate at `threshold`."""
    return math.sqrt(threshold * (1.0 - threshold) / num_perm)


def default_margin(threshold: float, num_perm: int) -> float:
    """Half a standard error: the balance of precision and recall in `benches/bench_dedup.py`."""
    return 0.5 * standard_error(threshold, num_perm)


class DedupParams(TypedDict):
    """The parameters a report records: the config with bands/rows and filters resolved."""

    threshold: float
    num_perm: int
    ngram: int
    bands: int
    rows: int
    recall_weight: float
    seed: int
    scheme: Scheme
    window: int
    verify: Verify
    estimate_filter: bool
    min_estimate: float | None
    keep: KeepPolicy
    exact: bool
    normalize_whitespace: bool
    engine: Engine


class DedupOptions(TypedDict, total=False):
    """`DedupConfig`'s fields as keyword arguments of `dedup` and `dedup_texts`."""

    threshold: float
    num_perm: int
    ngram: int
    bands: int | None
    rows: int | None
    recall_weight: float
    seed: int
    scheme: Scheme
    verify: Verify
    estimate_filter: bool
    margin: float | None
    window: int
    keep: KeepPolicy
    exact: bool
    normalize_whitespace: bool


@dataclass(frozen=True)
class DedupConfig:
    """How documents become duplicates, and which one of each group is kept.

    1. LSH: a pair sharing a band key is a candidate. `(bands, rows)` default to the ones
       that minimise `(1 - recall_weight) * FP area + recall_weight * FN area` of the S-curve
       (datasketch's rule at 0.5); the default 0.95 favours recall, because step 3 removes
       the extra candidates cheaply.
    2. Within a band bucket each member is paired with the `window` members before it (by
       id); pairs beyond that are counted as skipped.
    3. A candidate pair is accepted when its signature estimate (fraction of equal slots) is
       at least `threshold - margin` (`estimate_filter`; `margin` defaults to half a standard
       error at the threshold, 0.014 at 0.7 and 256, the balance of precision and recall in
       `benches/bench_dedup.py`). `verify=True` lets the true Jaccard of the shingle sets
       decide every pair (`>= threshold`); `verify="borderline"` (default) only pairs whose
       estimate is within two standard errors of the threshold (those above are accepted,
       those below rejected): the estimate alone lands on either side of P 0.95 / R 0.90
       depending on the seed on real code, while this re-reads the texts of about a third of
       the candidate pairs' documents and measures P 1.00 / R 0.99.
    4. Exact duplicates (equal content hash, whitespace ignored with `normalize_whitespace`)
       are removed first when `exact`; accepted pairs are joined by union-find and one
       document per group is kept by `keep` (first, last, longest, shortest; ids break ties).

    >>> DedupConfig(threshold=0.7).bands_rows
    (36, 7)
    """

    threshold: float = 0.7
    num_perm: int = 256
    ngram: int = 5
    bands: int | None = None
    rows: int | None = None
    recall_weight: float = RECALL_WEIGHT
    seed: int = 1
    scheme: Scheme = "bucket"
    verify: Verify = "borderline"
    estimate_filter: bool = True
    margin: float | None = None
    window: int = WINDOW
    keep: KeepPolicy = "first"
    exact: bool = True
    normalize_whitespace: bool = False

    def __post_init__(self) -> None:
        if self.verify not in (False, True, "borderline"):
            raise ConfigError(f"verify must be True, False or 'borderline', got {self.verify!r}")
        if self.verify != "borderline":  # 0 and 1 mean False and True
            object.__setattr__(self, "verify", bool(self.verify))
        if self.keep not in KEEP_POLICIES:
            raise ConfigError(f"unknown keep policy {self.keep!r}; known: {', '.join(KEEP_POLICIES)}")
        if not 1 <= self.window <= sys.maxsize:  # the core's size; past it, no window is a limit anyway
            raise ConfigError(f"window must be between 1 and {sys.maxsize}, got {self.window}")
        if self.margin is not None and self.margin < 0:
            raise ConfigError(f"margin must not be negative, got {self.margin}")
        if not 0 <= self.seed < 1 << 64:  # the hashes' seed is a u64
            raise ConfigError(f"seed must be between 0 and 2**64 - 1, got {self.seed}")
        check_lsh(self.threshold, self.num_perm, self.ngram, self.bands, self.rows, self.recall_weight, self.scheme)

    @classmethod
    def of(cls, config: DedupConfig | None = None, **options: object) -> DedupConfig:
        """`config` (default: the defaults) with the given fields replaced."""
        no_languages = "dedup takes no languages (shingles are the same for a text whatever its language)"
        if config is not None and not isinstance(config, DedupConfig):
            # dedup_texts(texts, "python") was the call before texts needed no language
            named = f"; {no_languages}" if isinstance(config, str | list | tuple | set | frozenset) else ""
            raise ConfigError(f"config must be a DedupConfig, got {config!r}{named}")
        base = config if config is not None else cls()
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            note = f"; {no_languages}" if {"language", "languages"} & set(unknown) else ""
            raise ConfigError(f"unknown dedup option(s) {', '.join(unknown)}{note}")
        return dataclasses.replace(base, **options) if options else base  # type: ignore[arg-type]

    @cached_property
    def bands_rows(self) -> tuple[int, int]:
        """`(bands, rows)`: the given ones, else chosen from the threshold."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return choose_bands_rows(self.threshold, self.num_perm, self.recall_weight)

    @property
    def min_estimate(self) -> float | None:
        """The lowest accepted signature estimate when the estimate alone decides, else None."""
        if self.verify or not self.estimate_filter:
            return None
        margin = default_margin(self.threshold, self.num_perm) if self.margin is None else float(self.margin)
        return self.threshold - margin

    def params(self, engine: Engine = "local") -> DedupParams:
        bands, rows = self.bands_rows
        low = self.min_estimate
        return {
            "threshold": self.threshold,
            "num_perm": self.num_perm,
            "ngram": self.ngram,
            "bands": bands,
            "rows": rows,
            "recall_weight": self.recall_weight,
            "seed": self.seed,
            "scheme": self.scheme,
            "window": self.window,
            "verify": self.verify,
            "estimate_filter": low is not None,
            "min_estimate": None if low is None else round(low, 6),
            "keep": self.keep,
            "exact": self.exact,
            "normalize_whitespace": self.normalize_whitespace,
            "engine": engine,
        }
