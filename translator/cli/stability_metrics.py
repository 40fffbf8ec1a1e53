"""Streaming-translation quality measures as the literature defines them, over recorded updates. Pure.

A *trace* is what one client saw for one sentence: each update (a partial, and at the end the final) with
the number of source words read when it was shown, the displayed text (``stable + unstable``) and the
stable text. Word level throughout (white-space words).

- **Normalized erasure** (Arivazhagan et al. 2020, "Re-translation versus streaming for simultaneous
  translation"): words taken back from one update to the next, Σ(|prev| − |LCP(cur, prev)|), counting the
  switch to the final, divided by the number of final words; corpus level (sums over all sentences).
  ``ne_display`` for the displayed text, ``ne_stable`` for the stable text (0 when the promise holds at
  word level).
- **Delays** d_j of final word j: the source words read at the update from which on the first j words of
  every later update equal those of the final (shown and never changed again); for the stable text,
  the update from which on they are in the stable text. A word first shown in the final gets the whole
  source length.
- **AL**, **LAAL**, **DAL** from these delays, in source words, SimulEval's formulas (Ma et al. 2019
  for AL; Papi et al. 2022 for LAAL, which divides by max(|hypothesis|, |reference|); Cherry and Foster
  2019 for DAL), averaged over sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Update:
    read: int  # source words read when this was shown
    display: str  # stable + unstable (the final's text for the final)
    stable: str


@dataclass
class Trace:
    """The updates of one sentence, the last being its final; ``reference`` for LAAL."""

    source_words: int
    updates: list[Update] = field(default_factory=list)
    reference: str | None = None


def lcp(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def erasure(texts: Sequence[str]) -> int:
    """Words taken back over a sequence of texts: Σ(|prev| − |LCP(cur, prev)|)."""
    total, previous = 0, list[str]()
    for text in texts:
        words = text.split()
        total += len(previous) - lcp(previous, words)
        previous = words
    return total


def delays(trace: Trace, *, stable: bool) -> list[int]:
    """Source words read when each final word was settled (displayed for good, or stable)."""
    final = trace.updates[-1].display.split()
    texts = [(u.read, (u.stable if stable else u.display).split()) for u in trace.updates]
    texts[-1] = (texts[-1][0], final)
    settled = [trace.source_words] * len(final)
    # Walk backwards: the running minimum of LCP with the final over the later updates.
    keep = len(final)
    for read, words in reversed(texts):
        keep = min(keep, lcp(words, final))
        for j in range(keep):  # updates come in reading order: the earliest that settles j wins
            settled[j] = read
    return settled


def average_lagging(d: Sequence[int], source_len: int, target_len: int) -> float:
    """AL (SimulEval): mean lag over the target words up to the first one read after the whole source."""
    if not d:
        return 0.0
    if d[0] > source_len:
        return float(d[0])
    gamma = target_len / max(source_len, 1)
    total, tau = 0.0, 0
    for t, delay in enumerate(d):
        total += delay - t / gamma
        tau = t + 1
        if delay >= source_len:
            break
    return total / tau


def differentiable_average_lagging(d: Sequence[int], source_len: int, target_len: int) -> float:
    """DAL (SimulEval): AL over delays made to grow by at least one target word's worth of source."""
    if not d:
        return 0.0
    gamma = target_len / max(source_len, 1)
    total, last = 0.0, 0.0
    for t, delay in enumerate(d):
        current = float(delay) if t == 0 else max(float(delay), last + 1 / gamma)
        total += current - t / gamma
        last = current
    return total / target_len


@dataclass(frozen=True)
class LatencyQuality:
    ne_display: float
    ne_stable: float
    al_display: float
    laal_display: float
    dal_display: float
    al_stable: float
    laal_stable: float
    dal_stable: float
    updates_per_sentence: float


def score_traces(traces: Sequence[Trace]) -> LatencyQuality:
    """Erasure (corpus level) and latency (mean over sentences) of a set of traces."""
    final_words = max(1, sum(len(t.updates[-1].display.split()) for t in traces))
    ne_display = sum(erasure([u.display for u in t.updates]) for t in traces) / final_words
    ne_stable = sum(erasure([*(u.stable for u in t.updates[:-1]), t.updates[-1].display]) for t in traces)
    lat: dict[str, list[float]] = {k: [] for k in ("al_d", "laal_d", "dal_d", "al_s", "laal_s", "dal_s")}
    for t in traces:
        hyp_len = len(t.updates[-1].display.split())
        if hyp_len == 0:
            continue
        ref_len = len(t.reference.split()) if t.reference else hyp_len
        for tag, is_stable in (("d", False), ("s", True)):
            d = delays(t, stable=is_stable)
            lat[f"al_{tag}"].append(average_lagging(d, t.source_words, hyp_len))
            lat[f"laal_{tag}"].append(average_lagging(d, t.source_words, max(hyp_len, ref_len)))
            lat[f"dal_{tag}"].append(differentiable_average_lagging(d, t.source_words, hyp_len))

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 3) if values else 0.0

    return LatencyQuality(
        ne_display=round(ne_display, 3),
        ne_stable=round(ne_stable / final_words, 4),
        al_display=mean(lat["al_d"]),
        laal_display=mean(lat["laal_d"]),
        dal_display=mean(lat["dal_d"]),
        al_stable=mean(lat["al_s"]),
        laal_stable=mean(lat["laal_s"]),
        dal_stable=mean(lat["dal_s"]),
        updates_per_sentence=round(sum(len(t.updates) for t in traces) / max(1, len(traces)), 2),
    )
