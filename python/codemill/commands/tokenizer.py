"""`codemill train | encode | decode`: the tokenizer on the command line (`tokenize` is in commands/tokenize.py)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from codemill.commands._common import add_overwrite, non_negative_int, positive_int, probability, special_tokens
from codemill.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a tokenizer on code files, directories or JSONL text")
    p.add_argument("paths", nargs="+", help="files or directories of code")
    p.add_argument("-o", "--output", required=True, help="tokenizer file to write (JSON)")
    p.add_argument("--vocab-size", type=positive_int, default=32768)
    p.add_argument("--identifier-vocab-size", type=non_negative_int, default=1024)
    p.add_argument("--line-merge-fraction", type=probability, default=0.5)
    p.add_argument("--min-frequency", type=positive_int, default=2)
    p.add_argument("--threads", type=positive_int, default=None)
    add_overwrite(p, "the output file")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_train)

    p = sub.add_parser("encode", help="encode files or stdin to token ids")
    _tokenizer_arg(p)
    p.add_argument("files", nargs="*", help="files to encode (default: stdin)")
    p.add_argument("--language", help="scanner language (default: from each file's extension)")
    p.add_argument(
        "--allowed-special",
        type=special_tokens,
        default=[],
        help="'all', 'none' or comma-separated special tokens encoded as themselves (default: none)",
    )
    p.add_argument("--format", choices=("ids", "tokens", "pieces"), default="ids")
    p.add_argument("--json", action="store_true", help="one JSON object per input")
    p.set_defaults(func=_encode)

    p = sub.add_parser("decode", help="decode token ids (whitespace- or comma-separated) from files or stdin")
    _tokenizer_arg(p)
    p.add_argument("files", nargs="*", help="files of ids, or JSON from `encode --json` (default: stdin)")
    p.set_defaults(func=_decode)


def _tokenizer_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tokenizer",
        help="codemill tokenizer file, HF tokenizer.json (or its directory) or tiktoken rank file "
        "(default: the bundled codemill-code-32k)",
    )
    p.add_argument("--pattern", help="split pattern of a tiktoken rank file (name or regex; default: recognised)")


def _train(args: argparse.Namespace) -> int:
    from codemill import CodeTokenizer
    from codemill.outputs import check_output
    from codemill.sources import check_inputs

    check_inputs(args.paths)
    # Refused before the (long) training, not after it.
    check_output(
        args.output,
        command="train",
        kind="file",
        is_ours=_is_tokenizer_file,
        inputs=args.paths,
        overwrite=args.overwrite,
    )
    t = time.perf_counter()
    tok = CodeTokenizer.train(
        [Path(p) for p in args.paths],
        vocab_size=args.vocab_size,
        identifier_vocab_size=args.identifier_vocab_size,
        line_merge_fraction=args.line_merge_fraction,
        min_frequency=args.min_frequency,
        num_threads=args.threads,
        progress=not args.no_progress and not args.json,
    )
    tok.save(args.output)
    training = tok.metadata["training"]
    summary = {
        "output": args.output,
        "vocab_size": tok.vocab_size,
        "identifier_vocab_size": tok.identifier_vocab_size,
        "merges": tok.num_merges,
        "documents": training["documents"],
        "bytes_by_language": training["bytes_by_language"],
        "skipped": training["skipped"],
        "seconds": round(time.perf_counter() - t, 2),
    }
    if tok.vocab_size < args.vocab_size:
        print(
            f"warning: the vocabulary has {tok.vocab_size} tokens, not the {args.vocab_size} asked for: the "
            f"training text ({training['documents']} documents) holds no more pairs seen at least "
            f"--min-frequency {args.min_frequency} times; train on more text or lower --vocab-size",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {args.output}: {tok!r} from {summary['documents']} files in {summary['seconds']}s")
        if summary["skipped"]:
            print(f"skipped: {summary['skipped']}")
    return 0


def _is_tokenizer_file(path: Path) -> bool:
    """The output contract's test for `train`: a codemill tokenizer file."""
    from codemill.outputs import file_says

    return file_says(path, b'"codemill-tokenizer/')


def _read_inputs(files: list[str]) -> list[tuple[str, str]]:
    if not files:
        return [("<stdin>", sys.stdin.read())]
    out = []
    for f in files:
        data = Path(f).read_bytes()
        try:
            out.append((f, data.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise UsageError(f"{f}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return out


def _encode(args: argparse.Namespace) -> int:
    from codemill.languages import check_language, detect_language
    from codemill.sources.names import printable
    from codemill.tokenizer import load_tokenizer

    tok = load_tokenizer(args.tokenizer, args.pattern)
    check_language(args.language)
    allowed: Any = args.allowed_special
    for name, text in _read_inputs(args.files):
        lang = args.language or (detect_language(name) if name != "<stdin>" else None)
        if args.format == "pieces":
            items: list[Any] = tok.pretokenize(text, lang)
        else:
            ids = tok.encode(text, lang, allowed_special=allowed or ())
            items = ids.tolist() if args.format == "ids" else [tok.id_to_token(int(i)) for i in ids]
        if args.json:
            # The name as every report prints it (a name that is not UTF-8 broke the output).
            print(json.dumps({"file": printable(name), "language": lang, args.format: items}, ensure_ascii=False))
        elif args.format == "ids":
            print(" ".join(map(str, items)))
        else:
            print("\n".join(repr(x) for x in items))
    return 0


def _parse_ids(name: str, text: str) -> list[list[int]]:
    """The id lists of one input: plain ids (one list), or what `encode --json` prints, one
    object a line for each file encoded (or one object over several lines)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            records = [json.loads(text)]
        except (ValueError, RecursionError):
            records = [_json_line(name, n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        out = []
        for record in records:
            ids = record.get("ids") if isinstance(record, dict) else None
            if ids is None:
                raise UsageError(f"{name}: not JSON with an 'ids' list")
            if not isinstance(ids, list) or any(type(i) is not int for i in ids):  # 66.9 or true is no id
                raise UsageError(f"{name}: 'ids' must be a list of integers")
            out.append(ids)
        return out
    try:
        return [[int(x) for x in text.replace(",", " ").split()]]
    except ValueError as exc:
        raise UsageError(f"{name}: token ids must be integers ({exc})") from None


def _json_line(name: str, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        raise UsageError(f"{name}:{number}: not JSON with an 'ids' list") from None


def _decode(args: argparse.Namespace) -> int:
    from codemill.tokenizer import load_tokenizer

    tok = load_tokenizer(args.tokenizer, args.pattern)
    for name, text in _read_inputs(args.files):
        for ids in _parse_ids(name, text):
            sys.stdout.write(tok.decode(ids, errors="replace"))
    return 0
