"""The settings of a corpus run: what every task needs, typed and frozen."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from codemill.corpus.manifest import SKIPPED_LIST_LIMIT
from codemill.errors import ConfigError
from codemill.outputs import described
from codemill.sources.inputs import input_paths

if TYPE_CHECKING:
    from codemill.corpus.plan import Task
    from codemill.tokenizer import CodeTokenizer
    from codemill.tokenizer.code_tokenizer import AllowedSpecial

ShardFormat = Literal["npy", "megatron"]
Engine = Literal["local", "ray"]
FORMATS: tuple[ShardFormat, ...] = ("npy", "megatron")
ENGINES: tuple[Engine, ...] = ("local", "ray")

# The settings that decide the output bytes: a resumed run must use the same ones.
OUTPUT_SETTINGS = ("format", "dtype", "eot_id", "shard_tokens", "task_bytes", "max_file_bytes", "allowed_special")


@dataclass(frozen=True)
class Specials:
    """The special tokens a run encodes as themselves, and where: in every document (``files``
    None: the caller chose them), or only in the record files whose description named them
    (`codemill prepare`'s outputs; ``files``: their task paths). A prepared file's FIM markers are
    control tokens in that file only: the same markers spelled in tokenizer code beside it stay
    text, as they are in a run without the prepared file."""

    tokens: tuple[str, ...] = ()
    files: tuple[str, ...] | None = None

    def for_task(self, task: Task) -> tuple[str, ...]:
        if self.files is None:
            return self.tokens
        # A records task's path is its input's, which a description beside the input may name;
        # its files, each read as a task of its own would be, are none of ``files`` (`plan_tasks`
        # groups no described file, and a named file is an input of its own).
        return self.tokens if task.kind != "records" and task.path in self.files else ()


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
    specials: Specials = field(default_factory=Specials)

    def output(self) -> dict[str, Any]:
        """The output-deciding settings, as recorded in the manifest: the special tokens, and
        where they came from descriptions, the files those apply to (only then, so that the
        manifest of a run without them reads as before)."""
        d = asdict(self)
        d["allowed_special"] = list(self.specials.tokens)
        out = {k: d[k] for k in OUTPUT_SETTINGS}
        if self.specials.tokens and self.specials.files is not None:
            out["allowed_special_files"] = list(self.specials.files)
        return out


def allowed_specials(
    tok: CodeTokenizer, inputs: list[str], allowed: AllowedSpecial | None, tasks: Iterable[Task] = ()
) -> Specials:
    """The special tokens a run encodes as themselves, in the tokenizer's order: ``allowed`` in
    every document, else (None) those that `codemill prepare` recorded beside a named input or a
    record file the plan's ``tasks`` found in an input tree (`Task.described`), in that file,
    that the tokenizer has."""
    if allowed is None:
        found = sorted({t.path for t in tasks if t.described})
        have = set(tok.special_tokens)
        wanted: set[str] = set()
        files = []
        # Not checked again: a named file gone since the plan is counted `unreadable` where its
        # task reads it, as dedup counts it (a check here stopped the run).
        named = [(name, str(root)) for name, root in zip(inputs, input_paths(inputs), strict=True)]
        for name, path in [*named, *((f, f) for f in found)]:
            # A description written for another tokenizer may name tokens this one lacks: those stay text.
            tokens = set(described(name).get("special_tokens", ())) & have
            if tokens:
                wanted |= tokens
                files.append(path)
        return Specials(tuple(t for t in tok.special_tokens if t in wanted), tuple(sorted(files)))
    if allowed == "all":
        wanted = set(tok.special_tokens)
    else:
        wanted = {allowed} if isinstance(allowed, str) else set(allowed)
        unknown = sorted(wanted - set(tok.special_tokens))
        if unknown:
            raise ConfigError(
                f"allowed_special names tokens the tokenizer does not have: {', '.join(unknown)} "
                f"(it has {', '.join(tok.special_tokens)})"
            )
    return Specials(tuple(t for t in tok.special_tokens if t in wanted))
