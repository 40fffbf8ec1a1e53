"""``translator models stability``: what the streaming stability policy costs.

Feeds a test set word by word through the same ``StreamState`` the server uses, translating with the
engine in-process, and compares the final translations with translating each sentence whole. Also
measures the normalized erasure of what a client displays (stable + unstable): the number of words
that had to be taken back, summed over all updates, per word of the final text.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import sacrebleu

from translator.cli.common import engine_from_args, test_files
from translator.engine.engine import Engine, texts_only
from translator.engine.evaluate import read_lines
from translator.protocol import ClientMessage
from translator.streaming import FinalJob, PartialJob, StreamState
from translator.text import erased


@dataclass(frozen=True)
class StabilityResult:
    sentences: int
    bleu_whole: float
    bleu_streamed: float
    chrf_whole: float
    chrf_streamed: float
    normalized_erasure: float
    # Share of final words that were already stable before the sentence was committed.
    stable_before_end: float
    partials_per_sentence: float
    identical_to_whole: float
    seconds: float


def simulate(engine: Engine, sentences: list[str], source: str, target: str) -> tuple[list[str], dict[str, float]]:
    """Stream every sentence word by word (all sentences side by side, so each step is one batch)."""
    states = [StreamState() for _ in sentences]
    words = [s.split() for s in sentences]
    shown: dict[tuple[int, int], str] = {}
    erasure = 0
    partials = 0

    def translate(jobs: Sequence[tuple[int, PartialJob | FinalJob]]) -> list[str]:
        return texts_only(engine, source, target, [j.source for _, j in jobs], [j.prefix or None for _, j in jobs])

    def run_partials(jobs: list[tuple[int, PartialJob]]) -> None:
        nonlocal erasure, partials
        for (i, job), result in zip(jobs, translate(jobs), strict=True):
            message = states[i].partial_result(job, result)
            if message is None:
                continue
            partials += 1
            text = message.text
            erasure += erased(shown.get((i, job.segment), ""), text)
            shown[(i, job.segment)] = text

    finals: list[list[str]] = [[] for _ in sentences]
    stable_words = 0

    def run_finals() -> None:
        nonlocal erasure, stable_words
        jobs = [(i, job) for i, state in enumerate(states) for job in state.take_finals()]
        for (i, job), result in zip(jobs, translate(jobs), strict=True):
            text = StreamState.final_result(job, result).text
            erasure += erased(shown.get((i, job.segment), ""), text)
            stable_words += len(job.prefix.split())
            finals[i].append(text)

    for step in range(max(len(w) for w in words)):
        for i, state in enumerate(states):
            if step < len(words[i]):
                state.apply(ClientMessage("append", words[i][step] + " "))
        run_finals()
        run_partials([(i, job) for i, state in enumerate(states) if (job := state.next_partial()) is not None])
    for state in states:
        state.apply(ClientMessage("commit"))
    run_finals()
    streamed = [" ".join(parts) for parts in finals]
    total_words = max(1, sum(len(s.split()) for s in streamed))
    stats = {
        "normalized_erasure": erasure / total_words,
        "stable_before_end": stable_words / total_words,
        "partials_per_sentence": partials / max(1, len(sentences)),
    }
    return streamed, stats


def measure(engine: Engine, sentences: list[str], refs: list[str], source: str, target: str) -> StabilityResult:
    start = time.perf_counter()
    whole = [t.text for t in engine.translate(sentences, source=source, target=target)]
    streamed, stats = simulate(engine, sentences, source, target)
    return StabilityResult(
        sentences=len(sentences),
        bleu_whole=round(sacrebleu.corpus_bleu(whole, [refs]).score, 2),
        bleu_streamed=round(sacrebleu.corpus_bleu(streamed, [refs]).score, 2),
        chrf_whole=round(sacrebleu.corpus_chrf(whole, [refs]).score, 2),
        chrf_streamed=round(sacrebleu.corpus_chrf(streamed, [refs]).score, 2),
        normalized_erasure=round(stats["normalized_erasure"], 3),
        stable_before_end=round(stats["stable_before_end"], 3),
        partials_per_sentence=round(stats["partials_per_sentence"], 2),
        identical_to_whole=round(sum(a == b for a, b in zip(whole, streamed, strict=True)) / len(sentences), 3),
        seconds=round(time.perf_counter() - start, 1),
    )


def run_stability_bench(args: argparse.Namespace) -> int:

    src_path, ref_path = test_files(args)
    sentences, refs = read_lines(src_path), read_lines(ref_path)
    if args.limit:
        sentences, refs = sentences[: args.limit], refs[: args.limit]
    result = measure(engine_from_args(args), sentences, refs, args.source, args.target)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        for key, value in asdict(result).items():
            print(f"{key:<24} {value}")
    return 0
