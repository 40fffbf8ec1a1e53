"""Choose the decoding defaults on the dev set: beam size, repetition guards, length bound.

    python models/recipe/decoding_sweep.py --source en --target de

Prints a Markdown table of BLEU/chrF on the recipe's dev split (never the test sets), the share of
degenerate outputs (a word repeated three times in a row) and speed, for each setting.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import replace
from pathlib import Path

import sacrebleu

from translator.engine.corpus import read_lines
from translator.engine.engine import Engine, TranslationOptions

DEFAULT_WORK = Path.home() / ".cache" / "translator" / "train"
MODELS = Path(__file__).resolve().parents[1]
_REPEAT = re.compile(r"\b(\w+)(?:\s+\1\b){2,}", re.IGNORECASE)

SETTINGS: list[tuple[str, dict[str, object]]] = [
    ("greedy", {"beam_size": 1}),
    ("beam 2", {"beam_size": 2}),
    ("beam 4", {"beam_size": 4}),
    ("beam 6", {"beam_size": 6}),
    ("beam 4, no_repeat_ngram 3", {"beam_size": 4, "no_repeat_ngram_size": 3}),
    ("beam 4, repetition_penalty 1.1", {"beam_size": 4, "repetition_penalty": 1.1}),
    ("beam 4, repetition_penalty 1.2", {"beam_size": 4, "repetition_penalty": 1.2}),
    ("beam 4, length ratio 1.5", {"beam_size": 4, "max_length_ratio": 1.5}),
    ("beam 4, length ratio 3 + 20", {"beam_size": 4, "max_length_ratio": 3.0, "max_length_extra": 20}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--model", type=Path, help="model directory (default models/SRC-TGT)")
    args = parser.parse_args()
    model = args.model or MODELS / f"{args.source}-{args.target}"
    sources = read_lines(args.work / "data" / f"dev.{args.source}")
    refs = read_lines(args.work / "data" / f"dev.{args.target}")
    engine = Engine(model, device="cpu")
    engine.translate(sources[:16])
    print(f"{args.source}->{args.target}, dev split ({len(sources)} sentences), {model}")
    print("| setting | BLEU | chrF | degenerate | sent/s |")
    print("|---|---|---|---|---|")
    base = TranslationOptions()
    for label, changes in SETTINGS:
        options = replace(base, **changes)  # type: ignore[arg-type]
        start = time.perf_counter()
        hyps = [t.text for t in engine.translate(sources, options=options)]
        rate = len(sources) / (time.perf_counter() - start)
        bleu = sacrebleu.corpus_bleu(hyps, [refs]).score
        chrf = sacrebleu.corpus_chrf(hyps, [refs]).score
        degenerate = sum(bool(_REPEAT.search(h)) for h in hyps)
        print(f"| {label} | {bleu:.2f} | {chrf:.2f} | {degenerate} | {rate:.0f} |", flush=True)


if __name__ == "__main__":
    main()
