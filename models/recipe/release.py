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
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from card import DEFAULT_AVERAGE, model_card  # models/recipe/card.py

from translator.engine.convert import convert
from translator.engine.corpus import bcontrast_test, multi30k, multi30k_test, news_dev, read_lines
from translator.engine.engine import Engine, TranslationOptions
from translator.engine.evaluate import evaluate
from translator.engine.metadata import ModelMetadata

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
    parser.add_argument("--average", type=int, default=DEFAULT_AVERAGE, help="snapshots averaged into the release")
    parser.add_argument("--speed-sentences", type=int, default=300)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--card-only", action="store_true", help="rewrite README.md from eval.json")
    parser.add_argument(
        "--base-weight", type=float, default=0.0, help="share of the fine-tuning's initial weights mixed back in"
    )
    parser.add_argument("--dev", action="store_true", help="measure the dev sets only; models/ is left alone")
    parser.add_argument("--model", type=Path, help="with --dev: measure this converted model (e.g. the base)")
    parser.add_argument(
        "--length-penalty",
        type=float,
        default=1.0,
        help="the model's length penalty in translator.json (chosen on the dev sets: decoding_sweep.py --choose)",
    )
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
    ckpt_state = json.loads((hf_dir / "export.json").read_text())
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
        "length_penalty": args.length_penalty,
        "parameters": ckpt_state.get("parameters"),
        "train_state": state,
        "data_stats": json.loads((args.work / "data-stats.json").read_text()),
        "machine": machine(),
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
    if args.length_penalty != 1.0:
        meta = ModelMetadata.load(dest)
        replace(meta, length_penalty=args.length_penalty).save(dest)


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


def machine() -> str:
    """The CPU the release was measured on (its speed figures depend on it): model name, cores, AVX-512/AMX."""
    info = Path("/proc/cpuinfo")
    text = info.read_text() if info.exists() else ""
    fields = [line.split(":", 1) for line in text.splitlines() if ":" in line]
    names = [value.strip() for key, value in fields if key.strip() == "model name"]
    flags = {flag for key, value in fields if key.strip() == "flags" for flag in value.split()}
    cpu = names[0] if names else (platform.processor() or platform.machine())
    extras = [name for name, flag in (("AVX-512", "avx512f"), ("AMX", "amx_tile")) if flag in flags]
    return f"{cpu}, {os.cpu_count()} cores" + (f" ({', '.join(extras)})" if extras else "")


def _pieces(work: Path) -> int:
    """The size of the run's SentencePiece vocabulary."""
    import sentencepiece as spm

    return int(spm.SentencePieceProcessor(model_file=str(work / "spm.model")).get_piece_size())


def _train_state(run: Path) -> dict:
    """Step, epoch and training seconds: from the run's checkpoint, or for weights trained elsewhere (a GPU
    machine, ``gpu_weights.py unpack``) from the ``state.json`` that came with them."""
    if not (run / "checkpoint.pt").exists() and (run / "state.json").exists():
        return dict(json.loads((run / "state.json").read_text()))
    import torch

    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    return dict(ckpt["state"])


if __name__ == "__main__":
    main()
