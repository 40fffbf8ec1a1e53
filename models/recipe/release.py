"""Export, convert, evaluate and document one trained default model.

    python models/recipe/release.py --source en --target de

1. averages the last snapshots of the run into a Hugging Face Marian model (train.py --export);
2. converts it with `translator models convert`: int8 into models/SRC-TGT/ (committed) and float32
   into the work directory (for the comparison only);
3. measures BLEU/chrF on Multi30k test2016 and the held-out Tatoeba split, and speed, for both;
4. writes models/SRC-TGT/README.md (the model card) and models/SRC-TGT/eval.json.

``--dev`` instead converts the current snapshots into the work directory and measures only the dev sets
(Multi30k val, the Tatoeba dev split, newstest2020), leaving models/ alone: what to look at while a run
trains, and what to decide a release on (the test sets are measured once, by the release itself).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from translator.engine.convert import convert
from translator.engine.corpus import bcontrast_test, multi30k, multi30k_test, news_dev, read_lines
from translator.engine.engine import Engine, TranslationOptions
from translator.engine.evaluate import evaluate

RECIPE = Path(__file__).resolve().parent
MODELS = RECIPE.parent
DEFAULT_WORK = Path.home() / ".cache" / "translator" / "train"


def speed(engine: Engine, sentences: list[str], source: str, target: str) -> dict[str, float]:
    """Sentences per second translated one at a time and in batches of 32 (median of 3 runs)."""
    engine.translate(sentences[:16], source=source, target=target)
    rates = {}
    for label, batch in (("batch1", 1), ("batch32", 32)):
        options = TranslationOptions(**{**engine.options.__dict__, "max_batch_size": batch})
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            if batch == 1:
                for sentence in sentences:
                    engine.translate([sentence], source=source, target=target, options=options)
            else:
                engine.translate(sentences, source=source, target=target, options=options)
            runs.append(len(sentences) / (time.perf_counter() - start))
        rates[label] = round(sorted(runs)[1], 1)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--average", type=int, default=3)
    parser.add_argument("--speed-sentences", type=int, default=300)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--card-only", action="store_true", help="rewrite README.md from eval.json")
    parser.add_argument(
        "--base-weight", type=float, default=0.0, help="share of the fine-tuning's initial weights mixed back in"
    )
    parser.add_argument("--dev", action="store_true", help="measure the dev sets only; models/ is left alone")
    parser.add_argument("--model", type=Path, help="with --dev: measure this converted model (e.g. the base)")
    args = parser.parse_args()
    pair = f"{args.source}-{args.target}"
    if args.card_only:
        report = json.loads((MODELS / pair / "eval.json").read_text())
        (MODELS / pair / "README.md").write_text(model_card(report), encoding="utf-8")
        return
    run = args.work / f"run-{pair}"
    hf_dir = args.work / f"export-{pair}"
    if not args.skip_export and not (args.dev and args.model):
        subprocess.run(
            [
                sys.executable,
                str(RECIPE / "train.py"),
                "--source",
                args.source,
                "--target",
                args.target,
                "--work",
                str(args.work),
                "--export",
                str(hf_dir),
                "--average",
                str(args.average),
                "--base-weight",
                str(args.base_weight),
            ],
            check=True,
        )
    if args.dev:
        dev_report(args, hf_dir)
        return
    out = MODELS / pair
    fp32 = args.work / f"ct2-{pair}-float32"
    convert_run(args, hf_dir, out, "int8", pair)
    # The truecasing table for lowercase input (translator.truecase), from the recipe's training text.
    subprocess.run([sys.executable, str(RECIPE / "truecase.py"), str(out)], check=True)
    convert_run(args, hf_dir, fp32, "float32", f"{pair}-float32")

    data = args.work / "data"
    tests = {
        "multi30k-test2016": multi30k_test(args.source, args.target),
        "tatoeba-test": (data / f"tatoeba-test.{pair}.{args.source}", data / f"tatoeba-test.{pair}.{args.target}"),
        # General domain: newstest2020 is the dev set (decisions are made on it); BConTrasT is reported once.
        "newstest2020-dev": news_dev(args.source, args.target),
        "bcontrast-test": bcontrast_test(args.source, args.target),
    }
    tests = {name: paths for name, paths in tests.items() if paths[0].exists() and paths[1].exists()}
    results: dict[str, dict] = {}
    for label, model_dir, compute in (("int8", out, "int8"), ("float32", fp32, "float32")):
        engine = Engine(model_dir, device="cpu", compute_type=compute)
        entry: dict[str, object] = {}
        for name, (src, ref) in tests.items():
            result, _ = evaluate(engine, read_lines(src), read_lines(ref), source=args.source, target=args.target)
            entry[name] = {
                "bleu": result.bleu,
                "chrf": result.chrf,
                "sentences": result.sentences,
                "loops": result.loops,
            }
            entry["bleu_signature"] = result.bleu_signature
        sentences = read_lines(tests["multi30k-test2016"][0])[: args.speed_sentences]
        entry["speed"] = speed(engine, sentences, args.source, args.target)
        entry["model_bin_mb"] = round((model_dir / "model.bin").stat().st_size / 1e6, 1)
        results[label] = entry
        del engine
    train_args = json.loads((run / "args.json").read_text())
    ckpt_state = json.loads((args.work / f"export-{pair}" / "export.json").read_text())
    state = _train_state(run)
    init = train_args.get("init")
    base_file = Path(init).with_suffix(".json") if init not in (None, "None") else None
    report = {
        "pair": pair,
        "base": json.loads(base_file.read_text()) if base_file and base_file.exists() else None,
        "vocabulary": _pieces(args.work),
        "results": results,
        "train_args": train_args,
        "snapshots": ckpt_state["snapshots"],
        "base_weight": ckpt_state.get("base_weight", 0.0),
        "train_state": state,
        "data_stats": json.loads((args.work / "data-stats.json").read_text()),
    }
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "README.md").write_text(model_card(report), encoding="utf-8")
    print(json.dumps(results, indent=2))


def convert_run(args: argparse.Namespace, hf_dir: Path, dest: Path, quantization: str, name: str) -> None:
    """The exported run as a served model directory (``translator models convert``)."""
    convert(
        str(hf_dir),
        dest,
        quantization=quantization,
        source_languages=[args.source],
        target_languages=[args.target],
        name=name,
        force=True,
    )


def dev_report(args: argparse.Namespace, hf_dir: Path) -> None:
    """BLEU/chrF/loops on the dev sets (int8) of the exported snapshots, or of ``--model``; saved beside the run."""
    pair = f"{args.source}-{args.target}"
    if args.model is not None:
        model, report = args.model, {"model": str(args.model)}
    else:
        model = args.work / f"ct2-{pair}-dev"
        convert_run(args, hf_dir, model, "int8", pair)
        exported = json.loads((hf_dir / "export.json").read_text())
        report = {"snapshots": exported["snapshots"], "base_weight": exported.get("base_weight", 0.0)}
    data = args.work / "data"
    sets = {
        "multi30k-val": (read_lines(multi30k("val", args.source)), read_lines(multi30k("val", args.target))),
        # The prepared dev split: 500 Tatoeba sentences, then the first 500 of Multi30k val.
        "tatoeba-dev": (read_lines(data / f"dev.{args.source}")[:500], read_lines(data / f"dev.{args.target}")[:500]),
        "newstest2020-dev": tuple(read_lines(path) for path in news_dev(args.source, args.target)),
    }
    engine = Engine(model, device="cpu", compute_type="int8")
    for name, (sources, references) in sets.items():
        result, _ = evaluate(engine, sources, references, source=args.source, target=args.target)
        report[name] = {"bleu": result.bleu, "chrf": result.chrf, "loops": result.loops}
        report["bleu_signature"] = result.bleu_signature
    with (args.work / f"dev-{pair}.jsonl").open("a") as log:
        log.write(json.dumps(report) + "\n")
    print(json.dumps(report, indent=2))


def _pieces(work: Path) -> int:
    """The size of the run's SentencePiece vocabulary."""
    import sentencepiece as spm

    return int(spm.SentencePieceProcessor(model_file=str(work / "spm.model")).get_piece_size())


def _train_state(run: Path) -> dict:
    import torch

    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    return dict(ckpt["state"])


LANGUAGE_NAMES = {"en": "English", "de": "German"}


def general_data(report: dict) -> str:
    """The model card's lines on the general-domain data, when the release was trained on it."""
    stats = report["data_stats"]
    if not stats.get("general-human-pairs"):
        return ""
    a = stats.get("prepare-args", {})
    return f"""- **General-domain news and dialogue** (`general/`; see its README for how the pairs were made):
  {stats["general-human-pairs"]:,} human translations — WMT news test sets 2008–2019, 2021, 2023 (WMT's terms:
  research use; cite that year's WMT findings paper) and BConTrasT dialogue (Unbabel; CC-BY-SA-4.0, Farajian
  et al. 2020) — repeated {a.get("general_human_repeat", "2")}×, and {stats["general-mt-pairs"]:,} **machine-translated** pairs:
  WMT21/WMT23 test-suite sources with one research system's output each, chosen by consensus (Akhbardeh et al.
  2021; Kocmi et al. 2023), repeated {a.get("general_mt_repeat", "1")}×. Part of what this model learned is
  therefore machine translation output.
- **Prefix pairs** for streaming: {stats.get("prefix-pairs", 0):,} source prefixes cut after a random word, with
  the target cut at the same proportion of its words and no sentence-final punctuation, so that a growing
  sentence is translated as a prefix rather than completed with an invented ending.
"""


def general_table(report: dict) -> str:
    """General-domain BLEU/chrF and repetition loops (newstest2020 dev, BConTrasT test), when measured."""
    rows = []
    for label in ("int8", "float32"):
        r = report["results"][label]
        if "newstest2020-dev" not in r:
            return ""
        news, chat = r["newstest2020-dev"], r.get("bcontrast-test", {})
        rows.append(
            f"| {label} | {news['bleu']} / {news['chrf']} | {chat.get('bleu', '–')} / {chat.get('chrf', '–')} "
            f"| {100 * news.get('loops', 0):.1f} % |"
        )
    return (
        "\n| | newstest2020 (dev) BLEU / chrF | BConTrasT test BLEU / chrF | outputs with a repetition loop (dev) |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


TRUECASE_NOTE = """A truecasing table (`{file}`, from `models/recipe/truecase.py`) gives input written without capitals
its capitals back before translation (a speech recognizer's lowercase text): how each {language} word is
written most often in running text, counted on the {language} side of Multi30k train, the Tatoeba
training split and `general/train` (news and dialogue, part of it machine-translated; see `SOURCES.md`)."""


def model_card(report: dict) -> str:
    """The model card, without the blank lines that absent optional sections leave."""
    return re.sub(r"\n{3,}", "\n\n", _model_card(report))


def _model_card(report: dict) -> str:
    pair = report["pair"]
    source, target = pair.split("-")
    r, a, st = report["results"], report["train_args"], report["train_state"]
    i8, f32 = r["int8"], r["float32"]
    hours = st["seconds"] / 3600
    return f"""# {pair}: {LANGUAGE_NAMES.get(source, source)} → {LANGUAGE_NAMES.get(target, target)}

The default {pair} model of `translator`: a small Marian transformer {origin(report)} by the recipe
in [`models/recipe`](../recipe/README.md), converted to CTranslate2 with int8 weights.

## Data

Trained only on the parallel text in `../shared/data` (see its `SOURCES.md`):

- **Tatoeba** English–German pairs (CC-BY 2.0; attribution: www.manythings.org/anki and tatoeba.org),
  split into train/dev/test by sentence: a pair's split is decided by a hash of its English sentence, and
  training pairs whose German sentence occurs in dev or test are dropped. {
        report["data_stats"]["tatoeba-train-pairs"]:,}
  training pairs; the test split has {i8["tatoeba-test"]["sentences"]:,} distinct {
        LANGUAGE_NAMES.get(source, source)
    } sentences here.
- **Multi30k** task 1 (research and education use; Elliott et al. 2016, *Multi30K: Multilingual
  English-German Image Descriptions*): the 29,000 training pairs{multi30k_repeat(report)};
  `val` for development; `test_2016_flickr` only for the figures below.

{general_data(report)}
A joint SentencePiece unigram model ({
        report.get("vocabulary", 8000):,} pieces) over both languages is the source and target tokenizer{
        " (the base model's, reused)" if report.get("base") else ""
    }.

{TRUECASE_NOTE.format(file=f"truecase.{source}.tsv.gz", language=LANGUAGE_NAMES.get(source, source))}

## Model

`MarianMTModel` (Hugging Face `transformers`), post-norm transformer with a deep encoder and a shallow
decoder for fast decoding: d_model {a["d_model"]}, {a["encoder_layers"]} encoder layers, {
        a["decoder_layers"]
    } decoder layers,
{a["heads"]} heads, feed-forward {a["ffn"]}, shared and tied embeddings, ≈ 9 M parameters. Trained with Adam
(peak learning rate {a["lr"]}, {a["warmup"]} warm-up steps, inverse-square-root decay), label smoothing {
        a["label_smoothing"]
    },
dropout {a["dropout"]}, batches of ≤ {a["max_tokens"]} padded tokens, {
        "bfloat16 autocast" if a.get("bf16") == "True" else "float32"
    }, on {a["threads"]} {a.get("device", "cpu").upper()} thread{"s" if a["threads"] != "1" else ""}.
This release: step {st["step"]} (epoch {st["epoch"]}, {hours:.1f} h of training{
        ", after the base model's" if report.get("base") else ""
    }), average of the last
{len(report["snapshots"])} snapshots. Converted with `translator models convert --quantization int8`.
{base_note(report)}

## Quality and the cost of quantization

sacrebleu defaults ({i8["bleu_signature"]}), beam 4, the shipped decoding settings; CPU, this project's 2-core
development VM. Speed: sentences per second on the first 300 Multi30k test sentences, one at a time and in
batches of 32, one thread (median of 3 runs, both compute types measured in the same run).

| | BLEU Multi30k test2016 | chrF Multi30k | BLEU Tatoeba test | chrF Tatoeba | sent/s batch 1 | sent/s batch 32 | model.bin |
|---|---|---|---|---|---|---|---|
| int8 (shipped) | {i8["multi30k-test2016"]["bleu"]} | {i8["multi30k-test2016"]["chrf"]} | {
        i8["tatoeba-test"]["bleu"]
    } | {i8["tatoeba-test"]["chrf"]} | {i8["speed"]["batch1"]} | {i8["speed"]["batch32"]} | {i8["model_bin_mb"]} MB |
| float32 | {f32["multi30k-test2016"]["bleu"]} | {f32["multi30k-test2016"]["chrf"]} | {f32["tatoeba-test"]["bleu"]} | {
        f32["tatoeba-test"]["chrf"]
    } | {f32["speed"]["batch1"]} | {f32["speed"]["batch32"]} | {f32["model_bin_mb"]} MB |

{general_table(report)}
All numbers are in [`eval.json`](eval.json).

## Reproduce

```sh
pip install -e '.[train]'
{reproduce(report)}
python models/recipe/release.py --source {source} --target {target}{work_flag(report)}
translator models eval --source {source} --target {target}        # Multi30k test2016, shipped settings
```
"""


def multi30k_repeat(report: dict) -> str:
    repeat = report["data_stats"].get("prepare-args", {}).get("multi30k_repeat", "2")
    return "" if repeat == "1" else f", repeated {repeat}× (in-domain oversampling)"


def origin(report: dict) -> str:
    return "fine-tuned from the previous release" if report.get("base") else "trained from scratch"


def base_note(report: dict) -> str:
    """How a fine-tuned release started: the base model, its training and how its weights were recovered."""
    base = report.get("base")
    if not base:
        return ""
    st, stats = base.get("train_state", {}), base.get("data_stats", {})
    return f"""
**Base model.** The weights were initialized from the previous release of this model (trained from scratch
on Tatoeba, {stats.get("tatoeba-train-pairs", 0):,} pairs, and Multi30k only: step {st.get("step", "?")}, epoch
{st.get("epoch", "?")}, {st.get("seconds", 0) / 3600:.1f} h), recovered from its int8 CTranslate2 weights by
`models/recipe/from_ct2.py` (dequantized, with the converter's fusions undone), with a fresh optimizer.{
        mixed_note(report)
    }
Fine-tuning, because this release was trained on the 2-core development CPU, where one epoch of the
general-domain mix from scratch takes about 2.8 h per direction; with a GPU the from-scratch recipe (`gpu.sh`,
a larger joint vocabulary) is the way to train.
"""


def mixed_note(report: dict) -> str:
    weight = report.get("base_weight") or 0.0
    if not weight:
        return ""
    return (
        f"\nThe released weights are {1 - weight:g} × the fine-tuned average + {weight:g} × the base weights"
        " (weight-space interpolation, chosen on the dev sets: it keeps more of the base model's caption and"
        " phrase-book quality for a little of the news gain)."
    )


def _prepare_flags(report: dict) -> str:
    a = report["data_stats"].get("prepare-args", {})
    defaults = {"multi30k_repeat": "2", "general_human_repeat": "2", "general_mt_repeat": "1", "tatoeba_max": "0"}
    flags = [f"--{k.replace('_', '-')} {a[k]}" for k, default in defaults.items() if a.get(k, default) != default]
    return "".join(" " + flag for flag in flags)


def work_flag(report: dict) -> str:
    """The release command's flags for a fine-tuned model: its work directory and base weight."""
    if not report.get("base"):
        return ""
    weight = report.get("base_weight") or 0.0
    return " --work $W" + (f" --base-weight {weight:g}" if weight else "")


def reproduce(report: dict) -> str:
    a = report["train_args"]
    source, target = a["source"], a["target"]
    train = f"python models/recipe/train.py --source {source} --target {target} --warmup {a['warmup']}"
    if not report.get("base"):
        return f"python models/recipe/prepare.py\n{train}   # resumable; --device cuda --bf16 on a GPU"
    pair = f"{source}-{target}"
    commit = report["base"].get("commit") or "BASE"
    return (
        f"W=~/.cache/translator/train-ft\n"
        f"git worktree add /tmp/base {commit}   # the base release\n"
        f"python models/recipe/from_ct2.py /tmp/base/models/{pair} $W/init-{pair}.pt\n"
        f"python models/recipe/prepare.py --work $W --spm /tmp/base/models/{pair}/source.spm{_prepare_flags(report)}\n"
        f"{train} --work $W --init $W/init-{pair}.pt --lr {a['lr']} --max-minutes {a.get('max_minutes', '0')}"
        "   # resumable"
    )


if __name__ == "__main__":
    main()
