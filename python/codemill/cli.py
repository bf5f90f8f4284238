"""The `codemill` command: one sub-command module per job under `codemill.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines `register(subparsers)`; its parsers set `func(args) -> int`.
COMMAND_MODULES = (
    "codemill.commands.tokenizer",
    "codemill.commands.tokenize",
    "codemill.commands.bench",
    "codemill.commands.eval",
    "codemill.commands.dedup",
    "codemill.commands.index",
    "codemill.commands.context",
    "codemill.commands.prepare",
)


def build_parser() -> argparse.ArgumentParser:
    from codemill import __version__
    from codemill.commands._common import Parser

    parser = Parser(
        prog="codemill",
        description="Turn source code into material for code LLMs, fast.",
    )
    parser.add_argument("--version", action="version", version=f"codemill {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a refused argument (one line already printed), --help, --version
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Outputs are renamed into place only when complete, so the previous one is intact.
        hint = getattr(args, "resume_hint", None) or "the previous output, if any, is intact"
        print(f"codemill {args.command}: interrupted; {hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (OSError, ValueError, OverflowError) as exc:
        # Bad input gets one clear line naming what was wrong, never a traceback.
        print(f"codemill {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
