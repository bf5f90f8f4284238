"""The `codemill` command: one sub-command module per job under `codemill.commands`."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

from codemill._malloc import tune_malloc

# Every sub-command, in help order: the module that registers it (its `register(subparsers)`
# adds the command's parser, which sets `func(args) -> int`) and its one-line help. Only the
# module of the command asked for is imported, so that `codemill context` does not pay for
# importing every job; the others get a bare parser carrying the help line, so `codemill --help`
# still lists them all. tests/test_cli.py checks this table against what the modules register.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("codemill.commands.tokenizer", "train a tokenizer on code files, directories or JSONL text"),
    "encode": ("codemill.commands.tokenizer", "encode files or stdin to token ids"),
    "decode": (
        "codemill.commands.tokenizer",
        "decode token ids (whitespace- or comma-separated) from files or stdin",
    ),
    "tokenize": (
        "codemill.commands.tokenize",
        "tokenize code trees, JSONL or Parquet into token shards (-o), or print a report",
    ),
    "extend": (
        "codemill.commands.extend",
        "add identifier tokens (ids after the base vocabulary) to a tiktoken / tokenizer.json vocabulary",
    ),
    "bench": ("codemill.commands.bench", "compare codemill's speed and token counts with peer tokenizers"),
    "eval": ("codemill.commands.eval", "execution-based evaluation of generated code (pass@k, error rates, ...)"),
    "dedup": ("codemill.commands.dedup", "remove exact and near-duplicate documents (MinHash LSH)"),
    "index": ("codemill.commands.index", "build or update a hybrid (dense + BM25) index of a repository"),
    "search": ("codemill.commands.index", "search a hybrid code index"),
    "context": (
        "codemill.commands.context",
        "the most relevant code of the repository for a file, within a token budget",
    ),
    "graph": ("codemill.commands.context", "the import graph of a repository"),
    "ask": (
        "codemill.commands.context",
        "ask a question about a repository (retrieval + file context + any chat endpoint)",
    ),
    "prepare": ("codemill.commands.prepare", "clean, dedup and turn code into fine-tuning samples"),
}
COMMAND_MODULES = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


def build_parser(command: str | None = None, *, full: bool = True) -> argparse.ArgumentParser:
    """The `codemill` parser. With ``full``, every command's own parser (every module imported);
    otherwise only ``command``'s, the rest listed by name and help line."""
    from codemill import __version__
    from codemill.commands._common import Parser

    parser = Parser(
        prog="codemill",
        description="Turn source code into material for code LLMs, fast.",
    )
    parser.add_argument("--version", action="version", version=f"codemill {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = set(COMMAND_MODULES) if full else {COMMANDS[command][0]} if command in COMMANDS else set()
    done: set[str] = set()
    for name, (module, help_line) in COMMANDS.items():
        if module in wanted:
            if module not in done:
                importlib.import_module(module).register(sub)
                done.add(module)
        else:
            sub.add_parser(name, help=help_line)
    return parser


def _parser_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command ``args`` ran, else ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices.get(getattr(args, "command", None) or "", parser)
            return found
    return parser


def command_of(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (the top-level options take no values, so it is the
    first argument that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


# The corpus jobs do no linear algebra, but numpy's OpenBLAS starts a thread per core at import
# that spins for ~0.1 s (measured: 0.11 s of CPU per `import numpy` on a 2-core VM), in this
# process and in every worker it starts, on the cores the job needs. Set before numpy is
# imported, so the workers inherit it; a user's own setting wins.
_NO_BLAS_THREADS = {"tokenize", "dedup", "prepare"}
# The commands whose core calls make NumPy arrays: NumPy's C API is loaded for them first, off
# the main thread, where a Ctrl-C cannot make rust-numpy panic (`codemill._numpy_api`). Not
# tokenize, which never imports NumPy, nor context, which counts tokens without it.
_ARRAYS = {"encode", "decode", "extend", "bench", "dedup", "prepare", "index", "search"}


def main(argv: list[str] | None = None, *, program: bool = False) -> int:
    """Runs the command ``argv`` (default: this process's); its exit status. ``program``: this
    call is the whole process (`run`), whose malloc is then set for the command's threads
    (`tune_malloc`), once its arguments have said which engine runs it."""
    argv = sys.argv[1:] if argv is None else argv
    command = command_of(argv)
    if command in _NO_BLAS_THREADS:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        parser = build_parser(command, full=False)  # imports the command's module
        args, extra = parser.parse_known_args(argv)
        if extra:  # said by the command's parser, as its other errors are (not "codemill: ...")
            _parser_of(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # a refused argument (one line already printed), --help, --version
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:  # before anything is written (a traceback, before)
        print(f"codemill{' ' + command if command else ''}: interrupted", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if program:
        tune_malloc(getattr(args, "engine", "local"))  # before the command starts a thread
    try:
        if command in _ARRAYS:
            from codemill import _numpy_api

            _numpy_api.load()
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        from codemill._io import InterruptedWhenWritten

        # Outputs are renamed into place only when complete, so the previous one is intact.
        hint = getattr(args, "resume_hint", None) or "the previous output, if any, is intact"
        if isinstance(exc, InterruptedWhenWritten):
            hint = f"{exc.args[0]} was already written in full"
        print(f"codemill {args.command}: interrupted; {hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (OSError, ValueError, OverflowError) as exc:
        # Bad input gets one clear line naming what was wrong, never a traceback.
        print(f"codemill {args.command}: error: {exc}", file=sys.stderr)
        return 2


def run() -> int:
    """The `codemill` program (its console script, and `python -m codemill.cli`): `main` as the
    whole process (its malloc set unless the command runs on Ray), and then a quicker
    exit. The process ends next, so its objects are left out of the collections of its teardown
    (`gc.freeze`): with botocore loaded (an ``s3://`` run) those took ~0.2 s of CPU after the
    run, ~15 ms otherwise. Exit handlers, thread joins and flushes still run. Neither is done by
    a plain `main`, which tests and callers run in a process that goes on."""
    code = main(program=True)
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
