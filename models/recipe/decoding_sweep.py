"""Choose the decoding defaults on the dev set: beam size, repetition guards, length bound.

    python models/recipe/decoding_sweep.py --source en --target de

Prints a Markdown table of BLEU/chrF on a dev set (never the test sets), the share of outputs with a
repetition loop (``translator.engine.evaluate.repetition_loop``) and speed, for each setting. ``--set
recipe`` is the recipe's dev split (Tatoeba + Multi30k val), ``--set news`` newstest2020. ``--save`` records
the rows in the model's ``eval.json`` (``decoding_sweep``), from which ``release.py --card-only`` puts them in the
model card.

``--choose`` picks the model's length penalty (translator.json's ``length_penalty``, passed to ``release.py
--length-penalty``): it runs the shipped beam and guard at each length penalty of the sweep on both dev sets
and takes the best newstest2020 BLEU among those that lose nothing on the recipe dev set against 1.0 (a tie
goes to the penalty nearest 1.0). With ``--min-multi30k-val BLEU`` (the release rule's guard: the caption model's
Multi30k val BLEU less 1.5) it also decodes all of Multi30k val at each penalty and drops those below it, so that
the guard holds at the decoding that ships, not only at 1.0. Run it on the converted candidate (``--model``, e.g.
the work directory's ``ct2-SRC-TGT-dev`` after ``release.py --dev``), before the release measures the test sets.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from translator.engine.corpus import multi30k, news_dev, read_lines
from translator.engine.engine import Engine, TranslationOptions
from translator.engine.evaluate import evaluate

DEFAULT_WORK = Path.home() / ".cache" / "translator" / "train"
MODELS = Path(__file__).resolve().parents[1]

# Each setting is complete in itself (on top of NO_GUARD, not of today's defaults or the model's length penalty, so
# that a row means the same whatever they become); the row equal to what the engine decodes the model with is
# marked as the shipped one.
NO_GUARD: dict[str, object] = {"no_repeat_ngram_size": 0, "length_penalty": 1.0}
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


def length_penalty_rows() -> list[int]:
    """The settings (1-based) that differ from the shipped beam and guard by the length penalty alone."""
    shipped = replace(TranslationOptions(), length_penalty=None)
    return [
        number
        for number, (_, changes) in enumerate(SETTINGS, start=1)
        if replace(options_for(changes), length_penalty=None) == shipped
    ]


def choose_length_penalty(
    news: dict[float, float],
    recipe: dict[float, float],
    multi30k_val: dict[float, float] | None = None,
    min_multi30k_val: float | None = None,
) -> float:
    """The length penalty with the best newstest2020 BLEU (``news``: penalty -> BLEU) among those whose recipe dev
    BLEU is at least that of 1.0 and, where given, whose Multi30k val BLEU is at least ``min_multi30k_val``; a tie
    goes to the penalty nearest 1.0. 1.0 itself is always allowed: it is what the guard was first measured at."""

    def keeps_the_guards(lp: float) -> bool:
        if recipe[lp] < recipe[1.0]:
            return False
        return multi30k_val is None or min_multi30k_val is None or multi30k_val[lp] >= min_multi30k_val

    allowed = [lp for lp in news if lp == 1.0 or keeps_the_guards(lp)]
    return max(allowed, key=lambda lp: (news[lp], -abs(lp - 1.0)))


def save(model: Path, set_name: str, rows: list[dict[str, Any]]) -> None:
    """Record the sweep in the model's eval.json (``decoding_sweep``), where release.py's card reads it."""
    path = model / "eval.json"
    report = json.loads(path.read_text())
    sentences, signature = rows[0]["sentences"], rows[0]["signature"]
    rows = [{k: v for k, v in row.items() if k not in ("sentences", "signature")} for row in rows]
    report.setdefault("decoding_sweep", {})[set_name] = {"sentences": sentences, "signature": signature, "rows": rows}
    path.write_text(json.dumps(report, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--model", type=Path, help="model directory (default models/SRC-TGT)")
    parser.add_argument("--set", choices=("recipe", "news", "multi30k-val"), default="recipe", help="which dev set")
    parser.add_argument("--only", help="comma-separated setting numbers (1-based) to run")
    parser.add_argument("--save", action="store_true", help="record the rows in the model's eval.json")
    parser.add_argument("--choose", action="store_true", help="choose the model's length penalty on both dev sets")
    parser.add_argument(
        "--min-multi30k-val", type=float, help="with --choose: the lowest Multi30k val BLEU a chosen penalty may give"
    )
    args = parser.parse_args()
    model = args.model or MODELS / f"{args.source}-{args.target}"
    engine = Engine(model, device="cpu")
    if args.choose:
        sets = ("news", "recipe") + (("multi30k-val",) if args.min_multi30k_val is not None else ())
        bleu = {name: sweep(args, engine, name, length_penalty_rows()) for name in sets}
        by_penalty = {name: {row["length_penalty"]: row["bleu"] for row in rows} for name, rows in bleu.items()}
        chosen = choose_length_penalty(
            by_penalty["news"], by_penalty["recipe"], by_penalty.get("multi30k-val"), args.min_multi30k_val
        )
        print(f"length_penalty {chosen}")
        return
    chosen = [int(n) for n in args.only.split(",")] if args.only else list(range(1, len(SETTINGS) + 1))
    rows = sweep(args, engine, args.set, chosen)
    if args.save:
        save(model, args.set, rows)


def sweep(args: argparse.Namespace, engine: Engine, set_name: str, chosen: list[int]) -> list[dict[str, Any]]:
    """The rows of the ``chosen`` settings on one dev set, printed as a Markdown table as they come."""
    if set_name == "news":
        src_path, ref_path = news_dev(args.source, args.target)
    elif set_name == "multi30k-val":
        src_path, ref_path = multi30k("val", args.source), multi30k("val", args.target)
    else:
        src_path, ref_path = args.work / "data" / f"dev.{args.source}", args.work / "data" / f"dev.{args.target}"
    sources, refs = read_lines(src_path), read_lines(ref_path)
    engine.translate(sources[:16])
    print(f"{args.source}->{args.target}, {set_name} dev set ({len(sources)} sentences), {engine.path}")
    print("| setting | BLEU | chrF | loops | sent/s |")
    print("|---|---|---|---|---|")
    rows: list[dict[str, Any]] = []
    served = replace(engine.options, length_penalty=engine.length_penalty())
    for number, (label, changes) in enumerate(SETTINGS, start=1):
        if number not in chosen:
            continue
        options = options_for(changes)
        result, _ = evaluate(engine, sources, refs, options=options)
        shipped = options == served
        rows.append(
            {
                "setting": label,
                "shipped": shipped,
                "bleu": result.bleu,
                "chrf": result.chrf,
                "loops": result.loops,
                "sent_per_s": round(result.sentences_per_second),
                "length_penalty": options.length_penalty,
                "sentences": len(sources),
                "signature": result.bleu_signature,
            }
        )
        name = f"**{label}** (shipped)" if shipped else label
        rate = result.sentences_per_second
        print(
            f"| {name} | {result.bleu:.2f} | {result.chrf:.2f} | {100 * result.loops:.1f} % | {rate:.0f} |", flush=True
        )
    return rows


if __name__ == "__main__":
    main()
