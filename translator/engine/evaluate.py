"""Quality and speed measurements of one engine: BLEU/chrF on a parallel test set, and throughput."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sacrebleu

# read_lines is re-exported for the callers that still import it from here (translator.cli.main,
# translator.cli.bench_stability); its home is translator.engine.corpus.
from translator.engine.corpus import read_lines
from translator.engine.engine import Engine, TranslationOptions

__all__ = ["EvalResult", "evaluate", "read_lines"]


@dataclass(frozen=True)
class EvalResult:
    sentences: int
    bleu: float
    chrf: float
    seconds: float
    sentences_per_second: float
    bleu_signature: str


def evaluate(
    engine: Engine,
    sources: list[str],
    references: list[str],
    *,
    source: str | None = None,
    target: str | None = None,
    options: TranslationOptions | None = None,
) -> tuple[EvalResult, list[str]]:
    if len(sources) != len(references):
        raise ValueError(f"{len(sources)} source lines but {len(references)} reference lines")
    start = time.perf_counter()
    hyps = [t.text for t in engine.translate(sources, source=source, target=target, options=options)]
    seconds = time.perf_counter() - start
    bleu = sacrebleu.BLEU()
    score = bleu.corpus_score(hyps, [references])
    chrf = sacrebleu.corpus_chrf(hyps, [references])
    result = EvalResult(
        sentences=len(sources),
        bleu=round(score.score, 2),
        chrf=round(chrf.score, 2),
        seconds=round(seconds, 3),
        sentences_per_second=round(len(sources) / seconds, 1) if seconds > 0 else 0.0,
        bleu_signature=str(bleu.get_signature()),
    )
    return result, hyps
