"""Quality and speed measurements of one engine: BLEU/chrF on a parallel test set, and throughput."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import sacrebleu

from translator.engine.engine import Engine, TranslationOptions

__all__ = ["EvalResult", "evaluate", "repetition_loop"]


@dataclass(frozen=True)
class EvalResult:
    sentences: int
    bleu: float
    chrf: float
    seconds: float
    sentences_per_second: float
    bleu_signature: str
    # Share of outputs with a repetition loop (see repetition_loop).
    loops: float = 0.0


def _runs(items: list[str], size: int, least: int) -> bool:
    """Whether some block of ``size`` items repeats ``least`` times in a row."""
    for start in range(size):
        blocks = [tuple(items[i : i + size]) for i in range(start, len(items) - size + 1, size)]
        run = 1
        for previous, current in itertools.pairwise(blocks):
            run = run + 1 if current == previous else 1
            if run >= least:
                return True
    return False


def repetition_loop(text: str, *, words: int = 4, chars: int = 4) -> bool:
    """Whether a translation degenerated into a loop: a word n-gram (n ≤ 3) repeated ``words`` times in a
    row, or a sequence of 2–6 letters repeated ``chars`` times in a row inside a word
    (``„SSchordordordninginginging“``). Numbers are not loops."""
    tokens = text.split()
    if any(_runs(tokens, n, words) for n in (1, 2, 3)):
        return True
    return any(_runs(list(token), size, chars) for token in tokens if not token.isdigit() for size in range(2, 7))


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
        loops=round(sum(map(repetition_loop, hyps)) / max(1, len(hyps)), 4),
    )
    return result, hyps
