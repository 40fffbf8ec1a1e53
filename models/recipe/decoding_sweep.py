"""Choose the decoding defaults on the dev set: beam size, repetition guards, length bound.

    python models/recipe/decoding_sweep.py --source en --target de

Prints a Markdown table of BLEU/chrF on a dev set (never the test sets), the share of outputs with a
repetition loop (``translator.engine.evaluate.repetition_loop``) and speed, for each setting. ``--set
recipe`` is the recipe's dev split (Tatoeba + Multi30k val), ``--set news`` newstest2020. ``--save`` records
the rows in the model's ``eval.json`` (``decoding_sweep``), from which ``release.py --card-only`` puts them in the
model card.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from translator.engine.corpus import news_dev, read_lines
from translator.engine.engine import Engine, TranslationOptions
from translator.engine.evaluate import evaluate

DEFAULT_WORK = Path.home() / ".cache" / "translator" / "train"
MODELS = Path(__file__).resolve().parents[1]

# Each setting is complete in itself (on top of NO_GUARD, not of today's defaults, so that a row means the
# same whatever the defaults become); the row equal to TranslationOptions() is marked as the shipped one.
NO_GUARD = {"no_repeat_ngram_size": 0}
SETTINGS: list[tuple[str, dict[str, object]]] = [
    ("greedy, no_repeat_ngram 3", {"beam_size": 1, "no_repeat_ngram_size": 3}),
    ("beam 2, no_repeat_ngram 3", {"beam_size": 2, "no_repeat_ngram_size": 3}),
    ("beam 4, no guard", {"beam_size": 4}),
    ("beam 4, no_repeat_ngram 3", {"beam_size": 4, "no_repeat_ngram_size": 3}),
    ("beam 6, no_repeat_ngram 3", {"beam_size": 6, "no_repeat_ngram_size": 3}),
    ("beam 4, no_repeat_ngram 4", {"beam_size": 4, "no_repeat_ngram_size": 4}),
    ("beam 4, repetition_penalty 1.1", {"beam_size": 4, "repetition_penalty": 1.1}),
    (
        "beam 4, no_repeat_ngram 3, length_penalty 0.8",
        {"beam_size": 4, "no_repeat_ngram_size": 3, "length_penalty": 0.8},
    ),
    (
        "beam 4, no_repeat_ngram 3, length_penalty 1.2",
        {"beam_size": 4, "no_repeat_ngram_size": 3, "length_penalty": 1.2},
    ),
    (
        "beam 4, no_repeat_ngram 3, length_penalty 1.5",
        {"beam_size": 4, "no_repeat_ngram_size": 3, "length_penalty": 1.5},
    ),
    (
        "beam 4, no_repeat_ngram 3, length_penalty 2.0",
        {"beam_size": 4, "no_repeat_ngram_size": 3, "length_penalty": 2.0},
    ),
    (
        "beam 4, no_repeat_ngram 3, length ratio 1.5",
        {"beam_size": 4, "no_repeat_ngram_size": 3, "max_length_ratio": 1.5},
    ),
]


def options_for(changes: dict[str, object]) -> TranslationOptions:
    return replace(TranslationOptions(), **{**NO_GUARD, **changes})  # type: ignore[arg-type]


def save(model: Path, set_name: str, sentences: int, signature: str, rows: list[dict[str, object]]) -> None:
    """Record the sweep in the model's eval.json (``decoding_sweep``), where release.py's card reads it."""
    path = model / "eval.json"
    report = json.loads(path.read_text())
    report.setdefault("decoding_sweep", {})[set_name] = {"sentences": sentences, "signature": signature, "rows": rows}
    path.write_text(json.dumps(report, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--model", type=Path, help="model directory (default models/SRC-TGT)")
    parser.add_argument("--set", choices=("recipe", "news"), default="recipe", help="which dev set")
    parser.add_argument("--only", help="comma-separated setting numbers (1-based) to run")
    parser.add_argument("--save", action="store_true", help="record the rows in the model's eval.json")
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
    chosen = {int(n) for n in args.only.split(",")} if args.only else set(range(1, len(SETTINGS) + 1))
    rows: list[dict[str, object]] = []
    signature = ""
    for number, (label, changes) in enumerate(SETTINGS, start=1):
        if number not in chosen:
            continue
        options = options_for(changes)
        result, _ = evaluate(engine, sources, refs, options=options)
        signature = result.bleu_signature
        shipped = options == TranslationOptions()
        rows.append(
            {
                "setting": label,
                "shipped": shipped,
                "bleu": result.bleu,
                "chrf": result.chrf,
                "loops": result.loops,
                "sent_per_s": round(result.sentences_per_second),
            }
        )
        name = f"**{label}** (shipped)" if shipped else label
        rate = result.sentences_per_second
        print(
            f"| {name} | {result.bleu:.2f} | {result.chrf:.2f} | {100 * result.loops:.1f} % | {rate:.0f} |", flush=True
        )
    if args.save:
        save(model, args.set, len(sources), signature, rows)


if __name__ == "__main__":
    main()
