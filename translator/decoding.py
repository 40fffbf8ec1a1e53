"""How a translation should use its target prefix, and the n-best hypotheses it returns. Pure.

The streaming policy asks the engine for more than "translate, starting with this text": a prefix may be
*forced* (the output starts with it), *soft* (CTranslate2's ``prefix_bias_beta``: the decoder leans
toward it and may leave it), or *tried last* for a final (decode freely; keep the best hypothesis that
starts with the prefix's words, and force the prefix only when none does). Both types are ``str``
subclasses (the prefix text, the best translation) so that they travel through the micro-batcher, the
service and the caches unchanged; code that knows nothing of them sees a plain prefix and a plain text.
"""

from __future__ import annotations

from translator.text import starts_with_words


class Prefix(str):
    """A target prefix with how the decoder uses it (pass it as it is: an empty one is still a request,
    e.g. for n-best hypotheses, while ``prefix or None`` turns it into "no prefix").

    - ``bias``: 0 forces the prefix; between 0 and 1 it is CTranslate2's ``prefix_bias_beta``.
    - ``hypotheses``: how many hypotheses to return (``Hypotheses.alternatives``), best first.
    - ``free``: decode without the prefix first and keep the best of ``hypotheses`` that starts with the
      prefix's words; force the prefix only if none does (a final as good as an offline translation
      whenever the stable text allows it).
    - ``boundary``: after a forced prefix the next token must start a new word, so that the prefix's
      last word is never extended (``Land`` → ``Lande``); picked among CTranslate2's alternatives at the
      first free position.
    - ``beam``: the beam width for this decoding (0: the engine's), e.g. a narrower one for partials.
    - ``fallback``: with ``free``, a translation of the same text already at hand that starts with the
      prefix's words (a stream's last partial hypothesis of the finished sentence): taken when the free
      hypotheses all contradict the prefix, instead of decoding it forced.
    """

    bias: float
    hypotheses: int
    free: bool
    boundary: bool
    beam: int
    fallback: str

    def __new__(
        cls,
        text: str = "",
        *,
        bias: float = 0.0,
        hypotheses: int = 1,
        free: bool = False,
        boundary: bool = False,
        beam: int = 0,
        fallback: str = "",
    ) -> Prefix:
        if not 0.0 <= bias < 1.0:
            raise ValueError("bias must be in [0, 1)")
        if hypotheses < 1 or beam < 0:
            raise ValueError("hypotheses must be at least 1, beam not negative")
        self = super().__new__(cls, text)
        self.bias, self.hypotheses, self.free, self.boundary, self.beam = bias, hypotheses, free, boundary, beam
        self.fallback = fallback
        return self

    @property
    def mode(self) -> tuple[float, int, bool, bool, int]:
        """What decides the decoding call (texts with the same mode are decoded together)."""
        return (self.bias, self.hypotheses, self.free, self.boundary, self.beam)

    def __repr__(self) -> str:
        return f"Prefix({str(self)!r}, bias={self.bias}, hypotheses={self.hypotheses}, free={self.free})"


class Hypotheses(str):
    """The best translation, with all the hypotheses returned (best first, the best included)."""

    alternatives: tuple[str, ...]
    # Whether a free decoding kept the prefix (None: not decoded freely).
    kept: bool | None

    def __new__(cls, best: str, alternatives: tuple[str, ...] = (), kept: bool | None = None) -> Hypotheses:
        self = super().__new__(cls, best)
        self.alternatives = alternatives or (best,)
        self.kept = kept
        return self


def alternatives_of(text: str) -> tuple[str, ...]:
    """The hypotheses of a translation (a plain text is its own only one)."""
    return text.alternatives if isinstance(text, Hypotheses) else (text,)


def choose_keeping(hypotheses: list[str], prefix: str) -> str | None:
    """The first (best) hypothesis whose words start with the words of ``prefix``; None if none does."""
    return next((h for h in hypotheses if starts_with_words(h, prefix)), None)
