"""The settings of a corpus run: what every task needs, typed and frozen."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from codemill.corpus.manifest import SKIPPED_LIST_LIMIT
from codemill.errors import ConfigError
from codemill.outputs import described

if TYPE_CHECKING:
    from codemill.tokenizer import CodeTokenizer
    from codemill.tokenizer.code_tokenizer import AllowedSpecial

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
    skipped_list_limit: int = SKIPPED_LIST_LIMIT  # per task: the manifest lists the first ones of the run
    # Special tokens encoded as themselves where they occur in the text (prepare's FIM markers).
    allowed_special: tuple[str, ...] = ()

    def output(self) -> dict[str, Any]:
        """The output-deciding settings, as recorded in the manifest."""
        d = asdict(self)
        d["allowed_special"] = list(self.allowed_special)
        return {k: d[k] for k in OUTPUT_SETTINGS}


def allowed_specials(
    tok: CodeTokenizer, inputs: list[str], allowed: AllowedSpecial | None, found: Iterable[str] = ()
) -> tuple[str, ...]:
    """The special tokens a run encodes as themselves, in the tokenizer's order: ``allowed`` (None:
    those that `codemill prepare` recorded beside an input, or beside a record file ``found`` in
    an input tree, that the tokenizer has)."""
    if allowed is None:
        wanted = {t for name in [*inputs, *found] for t in described(name).get("special_tokens", ())}
        # A description written for another tokenizer may name tokens this one lacks: those stay text.
        wanted &= set(tok.special_tokens)
    elif allowed == "all":
        wanted = set(tok.special_tokens)
    else:
        wanted = {allowed} if isinstance(allowed, str) else set(allowed)
        unknown = sorted(wanted - set(tok.special_tokens))
        if unknown:
            raise ConfigError(
                f"allowed_special names tokens the tokenizer does not have: {', '.join(unknown)} "
                f"(it has {', '.join(tok.special_tokens)})"
            )
    return tuple(t for t in tok.special_tokens if t in wanted)


def described_in_trees(inputs: list[str]) -> list[str]:
    """The record files inside the input trees (directories, URL prefixes) that have a description
    beside them (a prepare's output written into a tree the run reads). One listing of the trees;
    a run's plan lists them anyway and notes the same (`Task.described`)."""
    from codemill.sources import Skips, check_inputs, walk
    from codemill.sources.walk import walk_url

    found = []
    for root in check_inputs(inputs):
        if isinstance(root, str) or root.is_dir():
            entries = walk_url(root, Skips()) if isinstance(root, str) else walk(root, Skips())
            found += [e.path for e in entries if e.described]
    return found
