"""``translator models bench --finals``: what a stream's final decoding costs, one final at a time, with its
forced fallback decoded beside the free decoding or after it (``TranslationOptions.fallback_beside``)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from typing import Any

from translator.cli.common import engine_from_args, percentiles
from translator.decoding import Prefix
from translator.engine.corpus import benchmark_pairs, cycled
from translator.engine.engine import Engine


def run_finals_bench(args: argparse.Namespace) -> int:
    """``translator models bench --finals``: a stream's final decoding (``Prefix(stable, free=True)``), one at
    a time with a gap between finals as a stream sends them, for a stable text the free hypotheses keep (the
    first half of the sentence's offline translation) and one they contradict (the first two words of another
    sentence's translation), with the forced fallback decoded beside the free decoding or after it, the two
    alternating sentence by sentence. Prints ms per final and how many kept the stable text."""
    sentences = cycled([s for s, _ in benchmark_pairs(args.source, args.target)], args.sentences)
    compute_type = args.compute_types.split(",")[0]
    engine: Engine = engine_from_args(argparse.Namespace(**{**vars(args), "compute_type": compute_type}))
    offline = [t.text for t in engine.translate(sentences, source=args.source, target=args.target)]
    stables = {
        "kept": [" ".join(o.split()[: max(1, len(o.split()) // 2)]) for o in offline],
        "contradicted": [" ".join(offline[(i + 1) % len(offline)].split()[:2]) for i in range(len(offline))],
    }
    rows: list[dict[str, Any]] = []
    for stable, prefixes in stables.items():
        ms: dict[bool, list[float]] = {True: [], False: []}
        kept: dict[bool, int] = {True: 0, False: 0}
        for i, sentence in enumerate(sentences):
            for beside in (True, False) if i % 2 else (False, True):
                options = replace(engine.options, fallback_beside=beside)
                time.sleep(args.final_gap_ms / 1000)
                t0 = time.perf_counter()
                [result] = engine.translate(
                    [sentence],
                    source=args.source,
                    target=args.target,
                    target_prefixes=[Prefix(prefixes[i], free=True, hypotheses=4)],
                    options=options,
                )
                ms[beside].append((time.perf_counter() - t0) * 1000)
                kept[beside] += bool(result.kept)
        for beside in (True, False):
            latency = percentiles(ms[beside], digits=2)
            fallback = "beside" if beside else "after"
            rows.append(
                {"stable": stable, "fallback": fallback, "finals": len(sentences), "ms": latency}
                | {"kept_stable": kept[beside]}
            )
            if not args.json:
                print(
                    f"finals, stable text {stable:<12} fallback {fallback:<6} inter {args.inter_threads}: "
                    f"ms p50 {latency['p50']:6.2f} p90 {latency['p90']:6.2f} p99 {latency['p99']:6.2f}  "
                    f"kept {kept[beside]}/{len(sentences)}",
                    flush=True,
                )
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0
