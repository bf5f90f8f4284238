"""Trains the bundled tokenizer (python/codemill/data/codemill-code-32k.json).

    benches/fetch_corpus.sh && python benches/train_default.py

Only the *train* split of benches/corpus.py is used, so the held-back files that the
token-count comparison reads were never seen in training.

``--lookahead-for FILE``: no training; writes FILE's vocabulary as a ``codemill-tokenizer/3``
file whose lookahead list (the tokens after which the second candidate is weighed) is made from
the train split, as training makes it. The bundled file's list was made so from its ``/2`` file
(stop 50): the crates and npm packages of the train split differ from machine to machine, so
training again would not give the same vocabulary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import corpus
from codemill import CodeTokenizer

OUT = Path(__file__).parent.parent / "python" / "codemill" / "data" / "codemill-code-32k.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bytes-per-language", type=int, default=4_000_000)
    ap.add_argument("--vocab-size", type=int, default=32768)
    ap.add_argument("--identifier-vocab-size", type=int, default=1024)
    ap.add_argument("-o", "--output", type=Path, default=OUT)
    ap.add_argument("--lookahead-for", type=Path, help="a tokenizer file: only add its lookahead list")
    args = ap.parse_args()
    data = corpus.load("train", args.bytes_per_language)
    missing = sorted(set(corpus.SOURCES) - set(data))
    if missing:
        sys.exit(f"missing sources for {missing}: run benches/fetch_corpus.sh")
    docs = [(text, lang) for files in data.values() for _, text, lang in files]
    if args.lookahead_for:
        tok = CodeTokenizer.load(args.lookahead_for)
        weighed = CodeTokenizer(tok._core.weighed_by([text for text, _ in docs]))
        weighed.save(args.output)
        print(f"{args.output}: {len(json.loads(weighed.to_json())['lookahead'])} tokens weigh their second candidate")
        return
    t = time.perf_counter()
    tok = CodeTokenizer.train(
        docs,
        vocab_size=args.vocab_size,
        identifier_vocab_size=args.identifier_vocab_size,
        metadata={
            "name": "codemill-code-32k",
            "sources": {lang: corpus.LICENSES[lang] for lang in data},
            "files_by_language": {lang: len(files) for lang, files in data.items()},
            "recipe": "python benches/train_default.py (train split of benches/corpus.py)",
        },
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tok.save(args.output)
    size = args.output.stat().st_size
    print(f"{tok} trained in {time.perf_counter() - t:.1f}s on {len(docs)} files -> {args.output} ({size} bytes)")


if __name__ == "__main__":
    main()
