"""Where a fresh CUDA server's first load goes (README, On a GPU: 64 flat-out streams at 57 sentences/s on a
freshly started server with the cache off). Raw CTranslate2 on the default model, batch by batch, in the kinds
of decoding the server asks for, first on a fresh translator (cold) and then again (warm):

- ``plain``: batches of ``--batch`` sentences, beam 4, the engine's length bound and repetition guard;
- ``prefix``: the same batches with a forced target prefix (a partial's stable text: the first half of the
  warm translation's tokens);
- ``alternatives``: prefix plus ``return_alternatives`` (the word-boundary check of a partial);
- ``parallel``: two batches submitted together (``inter_threads`` replicas working side by side).

    python benchmarks/cuda_diagnose.py --device cuda > cold-start.jsonl
    python benchmarks/cuda_diagnose.py --device cpu --batch 8 --batches 3   # a check of the script itself

Prints one JSON line per inter_threads setting (each as soon as it is measured): the translator's creation
time, the first single sentence, and for each kind the milliseconds of each batch in order (cold, then
warm) with their median.
If cold batches are far slower than warm ones, the first load pays a warm-up (kernel loading, allocator
growth); if one kind is slow warm too, that kind of decoding is the cause.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import ctranslate2
import sentencepiece as spm

from translator.engine.corpus import benchmark_pairs, cycled, read_lines
from translator.engine.engine import TranslationOptions, resolve_compute_type
from translator.engine.metadata import ModelMetadata

MODELS = Path(__file__).resolve().parents[1] / "models"


def since(start: float) -> float:
    """Milliseconds since ``start`` (a time.perf_counter() reading)."""
    return round((time.perf_counter() - start) * 1000, 2)


def run(
    translator: Any,
    batches: list[list[list[str]]],
    beam: int,
    prefixes: dict[tuple[str, ...], list[str]] | None = None,
    **extra: Any,
) -> list[float]:
    """Milliseconds per batch, one batch at a time (each sentence's ``prefixes`` entry forced, if given)."""
    options = TranslationOptions()
    times = []
    for batch in batches:
        # The engine's bound: the guard's, plus the longest forced prefix.
        bound = options.output_bound(max(len(t) for t in batch))
        if prefixes is not None:
            extra["target_prefix"] = [prefixes[tuple(t)] for t in batch]
            bound += max(len(p) for p in extra["target_prefix"])
        start = time.perf_counter()
        translator.translate_batch(
            batch, beam_size=beam, max_decoding_length=bound, no_repeat_ngram_size=options.no_repeat_ngram_size, **extra
        )
        times.append(since(start))
    return times


def summary(cold: list[float], warm: list[float]) -> dict[str, Any]:
    medians = {"cold_median": statistics.median(cold), "warm_median": statistics.median(warm)}
    return {"cold_ms": cold, "warm_ms": warm, **medians}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--compute-type")
    parser.add_argument("--model", type=Path, default=MODELS / "en-de")
    parser.add_argument("--file", type=Path, help="sentences (default: Multi30k test2016, else built-in ones)")
    parser.add_argument("--inter", default="1,2", help="inter_threads settings to try")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--beam", type=int, default=4)
    args = parser.parse_args()
    sentences = read_lines(args.file) if args.file else [s for s, _ in benchmark_pairs("en", "de")]
    need = args.batch * args.batches
    sentences = cycled(sentences, need)
    meta = ModelMetadata.load(args.model)
    sp = spm.SentencePieceProcessor(model_file=str(args.model / meta.source_spm))
    tokens = [[*sp.encode(s, out_type=str), "</s>"] for s in sentences]
    batches = [tokens[i : i + args.batch] for i in range(0, need, args.batch)]
    compute = resolve_compute_type(args.device, args.compute_type)
    report: dict[str, Any] = {
        "device": args.device,
        "compute_type": compute,
        "ctranslate2": ctranslate2.__version__,
        "batch": args.batch,
        "batches": args.batches,
        "sentences_from": str(args.file) if args.file else "benchmark_pairs(en, de)",
    }
    for inter in (int(n) for n in args.inter.split(",")):
        start = time.perf_counter()
        translator = ctranslate2.Translator(str(args.model), args.device, compute_type=compute, inter_threads=inter)
        created, start = since(start), time.perf_counter()
        translator.translate_batch(tokens[:1], beam_size=args.beam)
        first = since(start)
        entry: dict[str, Any] = {"create_ms": created, "first_sentence_ms": first}
        cold = run(translator, batches, args.beam)
        warm = run(translator, batches, args.beam)
        entry["plain"] = summary(cold, warm)
        # Half of each sentence's warm translation as its forced prefix.
        halves = {}
        for batch in batches:
            for t, result in zip(batch, translator.translate_batch(batch, beam_size=args.beam), strict=True):
                halves[tuple(t)] = result.hypotheses[0][: len(result.hypotheses[0]) // 2]
        for kind, extra in (
            ("prefix", {}),
            ("alternatives", {"return_alternatives": True, "num_hypotheses": 4}),
        ):
            cold = run(translator, batches, args.beam, halves, **extra)
            warm = run(translator, batches, args.beam, halves, **extra)
            entry[kind] = summary(cold, warm)
        pairs = [batches[i : i + 2] for i in range(0, len(batches) - 1, 2)]
        parallel = []
        for pair in pairs:
            start = time.perf_counter()
            pending = [translator.translate_batch(b, beam_size=args.beam, asynchronous=True) for b in pair]
            for futures in pending:
                for future in futures:
                    future.result()
            parallel.append(since(start))
        entry["parallel_two_batches_ms"] = parallel
        print(json.dumps({**report, "inter_threads": inter, **entry}), flush=True)
        del translator


if __name__ == "__main__":
    main()
