"""Language identification, offline: py3langid's naive Bayes model (shipped in its wheel), restricted to the
languages the loaded models serve, with an honest "undetermined" when the text says too little.

The library scores all of its ~140 languages with probabilities calibrated for the length of the text.
Two numbers decide (chosen on dev snippets, see the README's comparison and
``models/recipe/langid_compare.py``):

- ``share``: how much of the probability the candidate languages hold together. French, or a URL, or an
  emoji leaves the candidates a small share: undetermined, not a forced guess among them;
- ``confidence``: the best candidate's probability among the candidates. Below ``min_confidence`` (one
  word that is both English and German) the answer is undetermined too.

Reported confidences are the candidates' shares of the candidates' probability, scaled down when their
total share is under ``min_share``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

UNDETERMINED = "und"  # BCP 47's code for an undetermined language


@dataclass(frozen=True)
class Detection:
    language: str  # a candidate language, or UNDETERMINED
    confidence: float  # 0..1; 0 when undetermined
    # Every candidate language with its confidence, best first.
    candidates: tuple[tuple[str, float], ...] = ()

    @property
    def known(self) -> bool:
        return self.language != UNDETERMINED


class LanguageIdentifier:
    """Detects which of ``languages`` a text is in. About 1 s and 80 MB to load; read-only afterwards, so
    threads may share it."""

    def __init__(
        self,
        languages: Iterable[str],
        *,
        min_confidence: float = 0.8,
        min_share: float = 0.1,
        max_chars: int = 2000,
    ) -> None:
        from py3langid.langid import MODEL_FILE
        from py3langid.langid import LanguageIdentifier as _Model

        self._model = _Model.from_model_file(MODEL_FILE, norm_probs=True)
        known = set(self._model.labels)
        wanted = sorted(set(languages))
        self.languages = tuple(lang for lang in wanted if lang in known)
        # Served languages the library does not know are never detected.
        self.unsupported = tuple(lang for lang in wanted if lang not in known)
        self.min_confidence, self.min_share, self.max_chars = min_confidence, min_share, max_chars

    def probabilities(self, text: str) -> dict[str, float]:
        """The library's probability for each of its languages (they sum to 1)."""
        return {lang: float(p) for lang, p in self._model.rank(text[: self.max_chars])}

    def detect(self, text: str) -> Detection:
        if not self.languages or sum(c.isalpha() for c in text[: self.max_chars]) < 2:
            return Detection(UNDETERMINED, 0.0, tuple((lang, 0.0) for lang in self.languages))
        probabilities = self.probabilities(text)
        scores = {lang: probabilities.get(lang, 0.0) for lang in self.languages}
        share = sum(scores.values())
        if share <= 0:
            return Detection(UNDETERMINED, 0.0, tuple((lang, 0.0) for lang in self.languages))
        scale = min(1.0, share / self.min_share) if self.min_share > 0 else 1.0
        candidates = sorted(((lang, p / share * scale) for lang, p in scores.items()), key=lambda c: -c[1])
        best, confidence = candidates[0]
        if share < self.min_share or confidence < self.min_confidence:
            return Detection(UNDETERMINED, 0.0, tuple(candidates))
        return Detection(best, confidence, tuple(candidates))
