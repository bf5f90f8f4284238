"""The settings of a corpus run: what every task needs, typed and frozen."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

ShardFormat = Literal["npy", "megatron"]
Engine = Literal["local", "ray"]
FORMATS: tuple[ShardFormat, ...] = ("npy", "megatron")
ENGINES: tuple[Engine, ...] = ("local", "ray")

# The settings that decide the output bytes: a resumed run must use the same ones.
OUTPUT_SETTINGS = ("format", "dtype", "eot_id", "shard_tokens", "task_bytes", "max_file_bytes", "allowed_special")


@dataclass(frozen=True)
class TaskSettings:
    format: ShardFormat
    dtype: str  # numpy dtype name of the token ids
    eot_id: int
    shard_tokens: int
    task_bytes: int | None  # None: derived from the total input size
    max_file_bytes: int
    batch_bytes: int = 4 << 20
    threads_per_worker: int = 1
    skipped_list_limit: int = 1000
    # Special tokens encoded as themselves where they occur in the text (prepare's FIM markers).
    allowed_special: tuple[str, ...] = ()

    def output(self) -> dict[str, Any]:
        """The output-deciding settings, as recorded in the manifest."""
        d = asdict(self)
        d["allowed_special"] = list(self.allowed_special)
        return {k: d[k] for k in OUTPUT_SETTINGS}
