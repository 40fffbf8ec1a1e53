"""Quality and speed measurements of one engine: BLEU/chrF on a parallel test set, and throughput."""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from pathlib import Path

import sacrebleu

from translator.engine.engine import Engine, TranslationOptions

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@dataclass(frozen=True)
class EvalResult:
    sentences: int
    bleu: float
    chrf: float
    seconds: float
    sentences_per_second: float
    bleu_signature: str


def read_lines(path: str | Path) -> list[str]:
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return [line.rstrip("\r\n") for line in handle]
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\r\n") for line in handle]


def multi30k_test(source: str, target: str, data: Path = SHARED_DATA) -> tuple[Path, Path]:
    base = data / "multi30k"
    return base / f"test_2016_flickr.{source}.gz", base / f"test_2016_flickr.{target}.gz"


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
    bleu = sacrebleu.metrics.BLEU()
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
