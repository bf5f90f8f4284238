"""PrepareConfig: everything that decides a `prepare` run's output (and so goes into its report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from codemill.errors import ConfigError
from codemill.finetune.filters import FilterConfig, FilterParams
from codemill.finetune.samples import FIM_TOKENS, KINDS, SampleBuilder
from codemill.near_dup.config import DedupConfig, DedupParams
from codemill.sources import DEFAULT_MAX_BYTES

__all__ = ["PrepareConfig", "PrepareParams"]


class PrepareParams(TypedDict):
    languages: list[str] | None
    filters: FilterParams
    dedup: DedupParams | None  # the same parameters as `dedup`'s report; None: no dedup
    samples: list[str]
    fim_rate: float
    fim_spm_rate: float
    seed: int
    completion_max_bytes: int
    fim_max_middle_bytes: int
    max_docstring_functions: int
    fim_tokens: list[str]
    max_file_bytes: int


@dataclass(frozen=True)
class PrepareConfig:
    """Everything that decides a run's output (and so goes into the report).

    `dedup` is the near-duplicate decision of `codemill.dedup` (the same `DedupConfig`);
    None turns exact and near dedup off.
    """

    languages: tuple[str, ...] | None = None
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig | None = field(default_factory=DedupConfig)
    samples: tuple[str, ...] = KINDS
    fim_rate: float = 0.5
    fim_spm_rate: float = 0.5
    seed: int = 0
    completion_max_bytes: int = 4096
    fim_max_middle_bytes: int = 2048
    max_docstring_functions: int = 8
    fim_tokens: tuple[str, str, str] = FIM_TOKENS
    max_file_bytes: int = DEFAULT_MAX_BYTES  # the reader's limit; larger files are skipped as too_large

    def __post_init__(self) -> None:
        if self.languages:
            from codemill.languages import ALIASES, LANGUAGES

            # Any spelling the reader accepts for a record's language (py, C++, TypeScript), and
            # `generic` (what a file of no known language is), kept as the canonical name.
            bad = [lang for lang in self.languages if lang.strip().lower() not in ALIASES]
            if bad:
                raise ConfigError(f"unknown language(s) {', '.join(bad)}; known: {', '.join(sorted(LANGUAGES))}")
            names = tuple(dict.fromkeys(ALIASES[lang.strip().lower()] for lang in self.languages))
            object.__setattr__(self, "languages", names)
        if self.max_file_bytes < 1:
            raise ConfigError(f"max_file_bytes must be at least 1, got {self.max_file_bytes}")
        self.builder()  # validates kinds, rates and sample limits up front

    def builder(self) -> SampleBuilder:
        return SampleBuilder(
            self.samples,
            fim_rate=self.fim_rate,
            fim_spm_rate=self.fim_spm_rate,
            seed=self.seed,
            completion_max_bytes=self.completion_max_bytes,
            fim_max_middle_bytes=self.fim_max_middle_bytes,
            max_docstring_functions=self.max_docstring_functions,
            fim_tokens=self.fim_tokens,
        )

    def as_dict(self) -> PrepareParams:
        return {
            "languages": list(self.languages) if self.languages else None,
            "filters": self.filters.as_dict(),
            "dedup": self.dedup.params() if self.dedup is not None else None,
            "samples": list(self.samples),
            "fim_rate": self.fim_rate,
            "fim_spm_rate": self.fim_spm_rate,
            "seed": self.seed,
            "completion_max_bytes": self.completion_max_bytes,
            "fim_max_middle_bytes": self.fim_max_middle_bytes,
            "max_docstring_functions": self.max_docstring_functions,
            "fim_tokens": list(self.fim_tokens),
            "max_file_bytes": self.max_file_bytes,
        }
