"""Export, convert, evaluate and document one trained default model.

    python models/recipe/release.py --source en --target de

1. averages the last snapshots of the run into a Hugging Face Marian model (train.py --export);
2. converts it with `translator models convert`: int8 into models/SRC-TGT/ (committed) and float32
   into the work directory (for the comparison only);
3. measures BLEU/chrF on Multi30k test2016 and the held-out Tatoeba split, and speed, for both;
4. writes models/SRC-TGT/README.md (the model card) and models/SRC-TGT/eval.json.
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
from translator.engine.corpus import bcontrast_test, multi30k_test, news_dev, read_lines
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
    args = parser.parse_args()
    pair = f"{args.source}-{args.target}"
    if args.card_only:
        report = json.loads((MODELS / pair / "eval.json").read_text())
        (MODELS / pair / "README.md").write_text(model_card(report), encoding="utf-8")
        return
    run = args.work / f"run-{pair}"
    hf_dir = args.work / f"export-{pair}"
    if not args.skip_export:
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
            ],
            check=True,
        )
    out = MODELS / pair
    fp32 = args.work / f"ct2-{pair}-float32"
    convert(
        str(hf_dir),
        out,
        quantization="int8",
        source_languages=[args.source],
        target_languages=[args.target],
        name=pair,
        force=True,
    )
    # The truecasing table for lowercase input (translator.truecase), from the recipe's training text.
    subprocess.run([sys.executable, str(RECIPE / "truecase.py"), str(out)], check=True)
    convert(
        str(hf_dir),
        fp32,
        quantization="float32",
        source_languages=[args.source],
        target_languages=[args.target],
        name=f"{pair}-float32",
        force=True,
    )

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
    report = {
        "pair": pair,
        "results": results,
        "train_args": train_args,
        "snapshots": ckpt_state["snapshots"],
        "train_state": state,
        "data_stats": json.loads((args.work / "data-stats.json").read_text()),
    }
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "README.md").write_text(model_card(report), encoding="utf-8")
    print(json.dumps(results, indent=2))


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

The default {pair} model of `translator`: a small Marian transformer trained from scratch by the recipe
in [`models/recipe`](../recipe/README.md), converted to CTranslate2 with int8 weights.

## Data

Trained only on the parallel text in `../shared/data` (see its `SOURCES.md`):

- **Tatoeba** English–German pairs (CC-BY 2.0; attribution: www.manythings.org/anki and tatoeba.org),
  split into train/dev/test by sentence: a pair's split is decided by a hash of its English sentence, and
  training pairs whose German sentence occurs in dev or test are dropped. {report["data_stats"]["tatoeba-train-pairs"]:,}
  training pairs; the test split has {i8["tatoeba-test"]["sentences"]:,} distinct {LANGUAGE_NAMES.get(source, source)} sentences here.
- **Multi30k** task 1 (research and education use; Elliott et al. 2016, *Multi30K: Multilingual
  English-German Image Descriptions*): the 29,000 training pairs, repeated {a.get("multi30k_repeat", "2")}×
  (in-domain oversampling); `val` for development; `test_2016_flickr` only for the figures below.

{general_data(report)}
A joint SentencePiece unigram model ({report["data_stats"].get("prepare-args", {}).get("vocab_size", "8,000")} pieces) over both languages is the source and target tokenizer.

{TRUECASE_NOTE.format(file=f"truecase.{source}.tsv.gz", language=LANGUAGE_NAMES.get(source, source))}

## Model

`MarianMTModel` (Hugging Face `transformers`), post-norm transformer with a deep encoder and a shallow
decoder for fast decoding: d_model {a["d_model"]}, {a["encoder_layers"]} encoder layers, {a["decoder_layers"]} decoder layers,
{a["heads"]} heads, feed-forward {a["ffn"]}, shared and tied embeddings, ≈ 9 M parameters. Trained with Adam
(peak learning rate {a["lr"]}, {a["warmup"]} warm-up steps, inverse-square-root decay), label smoothing {a["label_smoothing"]},
dropout {a["dropout"]}, batches of ≤ {a["max_tokens"]} padded tokens, bfloat16 autocast, on {a["threads"]} CPU thread.
This release: step {st["step"]} (epoch {st["epoch"]}, {hours:.1f} h of training), average of the last
{len(report["snapshots"])} snapshots. Converted with `translator models convert --quantization int8`.

## Quality and the cost of quantization

sacrebleu defaults ({i8["bleu_signature"]}), beam 4, the shipped decoding settings; CPU, this project's 2-core
development VM. Speed: sentences per second on the first 300 Multi30k test sentences, one at a time and in
batches of 32, one thread (median of 3 runs, both compute types measured in the same run).

| | BLEU Multi30k test2016 | chrF Multi30k | BLEU Tatoeba test | chrF Tatoeba | sent/s batch 1 | sent/s batch 32 | model.bin |
|---|---|---|---|---|---|---|---|
| int8 (shipped) | {i8["multi30k-test2016"]["bleu"]} | {i8["multi30k-test2016"]["chrf"]} | {i8["tatoeba-test"]["bleu"]} | {i8["tatoeba-test"]["chrf"]} | {i8["speed"]["batch1"]} | {i8["speed"]["batch32"]} | {i8["model_bin_mb"]} MB |
| float32 | {f32["multi30k-test2016"]["bleu"]} | {f32["multi30k-test2016"]["chrf"]} | {f32["tatoeba-test"]["bleu"]} | {f32["tatoeba-test"]["chrf"]} | {f32["speed"]["batch1"]} | {f32["speed"]["batch32"]} | {f32["model_bin_mb"]} MB |

{general_table(report)}
All numbers are in [`eval.json`](eval.json).

## Reproduce

```sh
pip install -e '.[train]'
python models/recipe/prepare.py
python models/recipe/train.py --source {source} --target {target} --warmup {a["warmup"]}   # resumable; --device cuda --bf16 on a GPU
python models/recipe/release.py --source {source} --target {target}
translator models eval --source {source} --target {target}        # Multi30k test2016, shipped settings
```
"""


if __name__ == "__main__":
    main()
