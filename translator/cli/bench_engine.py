"""``translator models bench``: raw engine speed across compute types, thread settings and batch sizes."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace

from translator.cli.common import engine_from_args, percentiles
from translator.engine.corpus import multi30k_test_pairs, read_lines
from translator.engine.engine import Engine

BUILTIN_SENTENCES = [
    "A man is riding a bicycle down the street.",
    "Two children are playing in the park.",
    "The weather is nice today.",
    "A woman in a red dress is walking her dog.",
    "I don't know what you are talking about.",
    "Several people are sitting at a table outside a cafe.",
    "Where is the train station?",
    "A group of young men are playing soccer on a field of grass.",
]


@dataclass(frozen=True)
class BenchRow:
    compute_type: str
    inter_threads: int
    intra_threads: int
    batch_size: int
    sentences: int
    sentences_per_second: float
    # Latency of one sentence translated alone (batch size 1, one at a time).
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None


def _parse_threads(spec: str) -> list[tuple[int, int]]:
    settings = []
    for item in spec.split(","):
        inter, _, intra = item.strip().lower().partition("x")
        settings.append((int(inter), int(intra or 1)))
    return settings


def run_engine_bench(args: argparse.Namespace) -> int:

    if args.src_file:
        sentences = [s for s in read_lines(args.src_file) if s.strip()]
    else:
        pairs = multi30k_test_pairs(args.source, args.target)
        sentences = [s for s, _ in pairs] if pairs else BUILTIN_SENTENCES * 25
    sentences = sentences[: args.sentences]
    rows: list[BenchRow] = []
    for compute_type in args.compute_types.split(","):
        for inter, intra in _parse_threads(args.threads):
            setting = argparse.Namespace(
                **{**vars(args), "compute_type": compute_type, "inter_threads": inter, "intra_threads": intra}
            )
            engine: Engine = engine_from_args(setting)
            engine.translate(sentences[:8], source=args.source, target=args.target)  # warm-up
            for batch_size in (int(b) for b in args.batch_sizes.split(",")):
                options = replace(engine.options, max_batch_size=batch_size)
                start = time.perf_counter()
                engine.translate(sentences, source=args.source, target=args.target, options=options)
                rate = len(sentences) / (time.perf_counter() - start)
                p50 = p90 = None
                if batch_size == 1:
                    latencies = []
                    for sentence in sentences[:100]:
                        t0 = time.perf_counter()
                        engine.translate([sentence], source=args.source, target=args.target)
                        latencies.append((time.perf_counter() - t0) * 1000)
                    latency = percentiles(latencies, digits=2)
                    p50, p90 = latency["p50"], latency["p90"]
                rows.append(
                    BenchRow(engine.compute_type, inter, intra, batch_size, len(sentences), round(rate, 1), p50, p90)
                )
                if not args.json:
                    _print_row(rows[-1], header=len(rows) == 1)
            del engine
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


def _print_row(row: BenchRow, header: bool) -> None:
    if header:
        print(f"{'compute':<10} {'inter':>5} {'intra':>5} {'batch':>5} {'sent/s':>8} {'p50 ms':>7} {'p90 ms':>7}")
    p50 = f"{row.latency_p50_ms:.1f}" if row.latency_p50_ms is not None else "-"
    p90 = f"{row.latency_p90_ms:.1f}" if row.latency_p90_ms is not None else "-"
    print(
        f"{row.compute_type:<10} {row.inter_threads:>5} {row.intra_threads:>5} {row.batch_size:>5} "
        f"{row.sentences_per_second:>8.1f} {p50:>7} {p90:>7}",
        flush=True,
    )
