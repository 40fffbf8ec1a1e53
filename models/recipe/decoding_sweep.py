"""Choose the decoding defaults on the dev set: beam size, repetition guards, length bound.

    python models/recipe/decoding_sweep.py --source en --target de

Prints a Markdown table of BLEU/chrF on a dev set (never the test sets), the share of outputs with a
repetition loop (``translator.engine.evaluate.repetition_loop``) and speed, for each setting. ``--set
recipe`` is the recipe's dev split (Tatoeba + Multi30k val), ``--set news`` newstest2020.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import sacrebleu

from translator.engine.corpus import news_dev, read_lines
from translator.engine.engine import Engine, TranslationOptions
from translator.engine.evaluate import repetition_loop

DEFAULT_WORK = Path.home() / ".cache" / "translator" / "train"
MODELS = Path(__file__).resolve().parents[1]

SETTINGS: list[tuple[str, dict[str, object]]] = [
    ("greedy", {"beam_size": 1}),
    ("beam 2", {"beam_size": 2}),
    ("beam 4", {"beam_size": 4}),
    ("beam 6", {"beam_size": 6}),
    ("beam 4, no_repeat_ngram 3", {"beam_size": 4, "no_repeat_ngram_size": 3}),
    ("beam 4, no_repeat_ngram 4", {"beam_size": 4, "no_repeat_ngram_size": 4}),
    ("beam 4, no_repeat_ngram 6", {"beam_size": 4, "no_repeat_ngram_size": 6}),
    ("beam 4, repetition_penalty 1.05", {"beam_size": 4, "repetition_penalty": 1.05}),
    ("beam 4, repetition_penalty 1.1", {"beam_size": 4, "repetition_penalty": 1.1}),
    ("beam 4, repetition_penalty 1.2", {"beam_size": 4, "repetition_penalty": 1.2}),
    ("beam 4, no_repeat_ngram 4, ratio 1.5", {"beam_size": 4, "no_repeat_ngram_size": 4, "max_length_ratio": 1.5}),
    ("beam 4, length ratio 1.5", {"beam_size": 4, "max_length_ratio": 1.5}),
    ("beam 4, length ratio 3 + 20", {"beam_size": 4, "max_length_ratio": 3.0, "max_length_extra": 20}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--model", type=Path, help="model directory (default models/SRC-TGT)")
    parser.add_argument("--set", choices=("recipe", "news"), default="recipe", help="which dev set")
    parser.add_argument("--only", help="comma-separated setting numbers (1-based) to run")
    args = parser.parse_args()
    model = args.model or MODELS / f"{args.source}-{args.target}"
    if args.set == "news":
        src_path, ref_path = news_dev(args.source, args.target)
    else:
        src_path, ref_path = args.work / "data" / f"dev.{args.source}", args.work / "data" / f"dev.{args.target}"
    sources, refs = read_lines(src_path), read_lines(ref_path)
    engine = Engine(model, device="cpu")
    engine.translate(sources[:16])
    print(f"{args.source}->{args.target}, {args.set} dev set ({len(sources)} sentences), {model}")
    print("| setting | BLEU | chrF | loops | sent/s |")
    print("|---|---|---|---|---|")
    base = TranslationOptions()
    chosen = {int(n) for n in args.only.split(",")} if args.only else set(range(1, len(SETTINGS) + 1))
    for number, (label, changes) in enumerate(SETTINGS, start=1):
        if number not in chosen:
            continue
        options = replace(base, **changes)  # type: ignore[arg-type]
        start = time.perf_counter()
        hyps = [t.text for t in engine.translate(sources, options=options)]
        rate = len(sources) / (time.perf_counter() - start)
        bleu = sacrebleu.corpus_bleu(hyps, [refs]).score
        chrf = sacrebleu.corpus_chrf(hyps, [refs]).score
        loops = sum(map(repetition_loop, hyps)) / len(hyps)
        print(f"| {label} | {bleu:.2f} | {chrf:.2f} | {100 * loops:.1f} % | {rate:.0f} |", flush=True)


if __name__ == "__main__":
    main()
