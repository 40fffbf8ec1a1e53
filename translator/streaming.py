"""The streaming state of one connection: pure logic, no model, no I/O.

Client messages arrive through ``StreamState.apply`` (``append``, ``replace``, ``commit``). The state cuts
the text into sentences (segments, numbered from 0), says what has to be translated next, and turns
translations into protocol messages (``Partial``, ``Final``) while keeping the guarantees:

- every segment gets exactly one final, and finals are produced in segment order;
- no partial for a segment after its final was requested;
- within a segment, ``stable`` only grows: each stable text is a prefix of the next and of the final.

Driving it (the server's connection, ``translator stream``, ``translator models stability``, the tests)::

    state.apply(message, now)
    while state.has_work(partials):
        for job in state.take_finals():          # in segment order, each handed out once
            send(state.final_result(job, translate(job.source, job.prefix), ...))
        job = state.next_partial() if partials else None
        if job is not None:                      # the result may come back later, or never
            partial = state.partial_result(job, translate(job.source, job.prefix))
            if partial is not None:
                send(partial)

``translate_pending`` is that loop for callers that translate synchronously.

Stability policy (``StabilityPolicy``; what each knob costs and buys is measured by ``translator models
stability --sweep`` and shown in the README): the open segment is re-translated each time its source grows,
by default with the stable text forced as the start of the translation (or, as measured alternatives,
without a prefix, or with a soft bias toward the previous hypothesis: CTranslate2's ``prefix_bias_beta``).
Words on which successive hypotheses agree, each followed by another word in all of them (or, measured as an
alternative, in the newest: ``follow``), become stable: stable text grows by whole words and no stable word
is ever extended or changed. The display of an unfinished sentence shows only the words the previous
hypothesis had too (and may hold back ``mask`` more), and never ends with sentence punctuation its source
does not have. The final is decoded freely (the beam's n-best) and is the best hypothesis that starts with
the stable words; only when none does is the stable text forced, which is what makes the guarantee hold. A
stream with ``revisions`` gets the free best instead, marked ``revised`` when it contradicts the stable
text.

Segments end at sentence ends, on ``commit``, after a pause (``pause``, called by the driver when no
input came for a while) and when the open segment reaches ``max_words`` words without a sentence end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from translator.decoding import Prefix, alternatives_of
from translator.protocol import ClientMessage, Final, Partial
from translator.segment import cut_complete, model_input, split_sentences
from translator.text import keep_prefix, normalize_spaces, starts_with_words
from translator.truecase import is_caseless

# Sources and the prefixes their translations must start with (None: no prefix; a ``Prefix`` says how to
# use it) -> translations (a ``Hypotheses`` carries the n-best).
Translate = Callable[[list[str], list[str | None]], list[str]]

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*$")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class StabilityPolicy:
    """How partials settle and how finals are decoded. The default is the one chosen on dev data."""

    # What anchors a partial's decoding: "forced" (the stable text is forced as its start), "bias" (a soft
    # bias toward the previous hypothesis, CTranslate2's prefix_bias_beta = ``bias``) or "none" (a fresh
    # re-translation; hypotheses that contradict the stable text are not shown).
    anchor: str = "forced"
    bias: float = 0.5
    # A word becomes stable once this many successive hypotheses agree on it and on the word after it.
    agreement: int = 2
    # Which of those hypotheses must have a word after an agreed word: "all" (a word that ended any of them
    # is not stable yet) or "newest" (a word that ended the previous hypothesis becomes stable once the
    # newest keeps it and goes on: a step sooner for models that translate a prefix as a prefix, but en→de
    # then commits to an article's gender before its noun arrives; measured in docs/performance.md,
    # "Which hypotheses must go on").
    follow: str = "all"
    # n-best hypotheses per partial: the display shows only what they all share (1: the best).
    hypotheses: int = 1
    # The beam width of partials' decodings (0: the engine's, as finals). 2 costs a third less CPU per
    # partial update, but the finals, which start with the stable text partials shape, lose 0.3 BLEU on all
    # of Multi30k val en→de (README): so the engine's by default.
    partial_beam: int = 0
    # An unfinished sentence's display holds back the last ``mask`` words beyond the stable text.
    mask: int = 0
    # An unfinished sentence's display shows only the words the previous hypothesis had too (all agreed
    # words, where the stable text needs each to be followed by another): the tail that the next
    # re-translation would most likely rewrite is not shown.
    display_agreed: bool = True
    # No sentence end in a partial whose source has none (``A man is`` -> ``Ein Mann ist``, not ``ist.``).
    strip_end: bool = True
    # Forced prefixes of partials end at a word boundary (alternatives at the first free position).
    boundary: bool = False
    # Finals: decode freely and keep the best of ``final_hypotheses`` that starts with the stable words;
    # force the stable text only when none does. False: always force it.
    free_final: bool = True
    final_hypotheses: int = 4
    # A free final whose hypotheses all contradict the stable text takes the stream's last partial hypothesis
    # of the same sentence, when there is one that starts with the stable words, instead of a forced decoding
    # of it: one decoding per final instead of two (docs/performance.md, Stability policies).
    partial_fallback: bool = True
    # A forced final ends its prefix at a word boundary by CTranslate2's alternatives at the first free
    # position; else the best of its forced n-best that does is kept (a glued last stable word is cut back
    # to the stable word only when none does). Measured: alternatives cost quality (README).
    final_boundary: bool = False

    def __post_init__(self) -> None:
        if self.anchor not in ("forced", "bias", "none"):
            raise ValueError("anchor must be forced, bias or none")
        if self.follow not in ("all", "newest"):
            raise ValueError("follow must be all or newest")
        if not 0.0 < self.bias < 1.0 or self.agreement < 2 or self.hypotheses < 1 or self.mask < 0:
            raise ValueError("bias in (0, 1), agreement at least 2, hypotheses at least 1, mask not negative")
        if self.partial_beam < 0:
            raise ValueError("partial_beam must not be negative")
        if self.final_hypotheses < 1:
            raise ValueError("final_hypotheses must be at least 1")

    def final_prefix(self, stable: str, fallback: str = "") -> Prefix:
        """How a final starting with ``stable`` is decoded; ``fallback``: a translation of the same sentence at
        hand that starts with the stable words (used with ``partial_fallback``)."""
        if self.free_final:
            fallback = fallback if self.partial_fallback and starts_with_words(fallback, stable) else ""
            return Prefix(
                stable, free=True, hypotheses=self.final_hypotheses, boundary=self.final_boundary, fallback=fallback
            )
        return Prefix(stable, boundary=self.final_boundary)


@dataclass(frozen=True)
class FinalJob:
    segment: int
    source: str
    # The stable text the final translation must start with ("" if none was shown), and how to decode it.
    prefix: str
    # When the input that completed the sentence arrived (the caller's clock).
    received_at: float
    # The stream asked for revisions (``?revisions=true``): the final is the sentence's offline translation,
    # marked ``revised`` when it does not start with the stable words.
    revisable: bool = False

    @property
    def input(self) -> str:
        """What the model translates (``source`` as a sentence: see ``translator.segment.model_input``)."""
        return model_input(self.source, final=True)

    @property
    def decoding(self) -> str | None:
        """The prefix to translate with: ``prefix`` (a ``Prefix`` request), or none for a revisable final."""
        return None if self.revisable else self.prefix


@dataclass(frozen=True)
class PartialJob:
    segment: int
    source: str
    prefix: str
    # Increases with every partial job of the state; results of older jobs than one already shown
    # are dropped, so a late translation never replaces a newer one on screen.
    version: int = 0

    @property
    def input(self) -> str:
        return model_input(self.source, final=False)

    @property
    def decoding(self) -> str:
        return self.prefix


@dataclass
class _OpenSegment:
    stable: str = ""
    history: list[list[str]] = field(default_factory=list)  # the last hypotheses, for local agreement
    previous: str = ""  # the last hypothesis, which a biased decoding leans toward
    requested_source: str = ""  # source of the last partial job handed out
    shown_version: int = -1  # version of the last partial turned into a message
    # The model input of the last partial shown and its best hypothesis that keeps the stable words, as the
    # model wrote it (a final of the same input can fall back to it: StabilityPolicy.partial_fallback).
    shown_input: str = ""
    shown_hypothesis: str = ""


@dataclass
class StreamState:
    """What one client has sent, and what has to be translated next."""

    policy: StabilityPolicy = field(default_factory=StabilityPolicy)
    # An open segment of this many words without a sentence end is cut (0: never); one written without case
    # (translator.truecase.is_caseless: a speech recognizer's), at ``max_uncased_words`` if that is sooner.
    max_words: int = 0
    max_uncased_words: int = 0
    # Finals are offline translations that may revise the stable text, and say so (opt-in).
    revisions: bool = False
    next_segment: int = 0
    open_text: str = ""
    # When the last input arrived (the caller's clock), for ``pause_deadline``.
    last_input_at: float = 0.0
    # Partials whose hypotheses all contradicted the stable text (the display fell back to it).
    contradictions: int = 0
    _open: _OpenSegment = field(default_factory=_OpenSegment)
    _finals: list[FinalJob] = field(default_factory=list)
    _last_was_replace: bool = False
    _versions: int = 0

    # Input -----------------------------------------------------------------------------------

    def apply(self, message: ClientMessage, now: float = 0.0) -> None:
        """Apply a client message; ``now`` (the caller's clock) is when it arrived. A ``ping`` changes
        nothing (answering it is the connection's business)."""
        if message.type == "append":
            self.append(message.text, now)
        elif message.type == "replace":
            self.replace(message.text, now)
        elif message.type == "commit":
            self.commit(now)

    def append(self, text: str, now: float = 0.0) -> None:
        self.open_text += text
        self._last_was_replace = False
        self.last_input_at = now
        self._cut(now, everything=False)

    def replace(self, text: str, now: float = 0.0) -> None:
        self.open_text = text
        self._last_was_replace = True
        self.last_input_at = now
        self._cut(now, everything=False)

    def commit(self, now: float = 0.0) -> None:
        self._cut(now, everything=True)

    def pause_deadline(self, pause: float) -> float | None:
        """When a pause of ``pause`` (the caller's time unit) ends the open text; None: nothing is open or
        pauses are off (0)."""
        if pause <= 0 or not self.open_text.strip():
            return None
        return self.last_input_at + pause

    def pause(self, now: float = 0.0) -> None:
        """No input for a while: the open text is a segment (for speech without punctuation)."""
        self._cut(now, everything=True)

    def _cut(self, now: float, *, everything: bool) -> None:
        if everything:
            complete, self.open_text = split_sentences(self.open_text), ""
        else:
            complete, self.open_text = cut_complete(self.open_text)
            complete += self._cut_long()
        for sentence in complete:
            stable, segment = self._open.stable, self._open
            fallback = segment.shown_hypothesis if segment.shown_input == model_input(sentence, final=True) else ""
            prefix = stable if self.revisions else self.policy.final_prefix(stable, fallback)
            self._finals.append(FinalJob(self.next_segment, sentence, prefix, now, self.revisions))
            self.next_segment += 1
            self._open = _OpenSegment()

    def _cut_long(self) -> list[str]:
        """An open segment of ``max_words`` complete words without a sentence end (``max_uncased_words`` if
        it is written without case) becomes a segment: all of it, so that its final covers what its partials
        translated (a word still being typed stays open)."""
        cuts: list[str] = []
        shortest = min((n for n in (self.max_words, self.max_uncased_words) if n), default=0)
        while True:
            if not shortest or len(self.open_text.split()) < shortest:
                return cuts  # too few words for any cut (the common case: checked first, per append)
            uncased = self.max_uncased_words and is_caseless(self.open_text)
            limits = [self.max_words, self.max_uncased_words if uncased else 0]
            limit = min((n for n in limits if n), default=0)
            if not limit:
                return cuts
            words = list(_WORD.finditer(self.open_text))
            typing = not self._last_was_replace and self.open_text[-1:].isalnum()
            complete = words[:-1] if typing else words
            if len(complete) < limit:
                return cuts
            end = complete[limit - 1].end()
            cuts.append(normalize_spaces(self.open_text[:end]))
            self.open_text = self.open_text[end:]

    # Work ------------------------------------------------------------------------------------

    @property
    def open_source(self) -> str:
        """The source of the open segment as a partial translation should see it: the word being typed
        at the end of appended text is left out until a space or punctuation shows it is complete."""
        text = self.open_text
        if not self._last_was_replace and text[-1:].isalnum():
            text = text[: len(text) - len(text.split()[-1])]
        return normalize_spaces(text)

    def _partial_source(self) -> str | None:
        """The open segment's source if it changed since the last partial job, else None."""
        source = self.open_source
        if not source or source == self._open.requested_source:
            return None
        return source

    def has_work(self, partials: bool = True) -> bool:
        """Whether finals are waiting to be taken, or (with ``partials``) a new partial job is due."""
        return bool(self._finals) or (partials and self._partial_source() is not None)

    def take_finals(self) -> list[FinalJob]:
        """The finals to translate now, in segment order. Each is handed out once."""
        finals, self._finals = self._finals, []
        return finals

    def next_partial(self) -> PartialJob | None:
        """A partial translation job for the open segment, if its source changed since the last one."""
        source = self._partial_source()
        if source is None:
            return None
        self._open.requested_source = source
        self._versions += 1
        policy, segment = self.policy, self._open
        n, beam = policy.hypotheses, policy.partial_beam
        if policy.anchor == "bias":
            prefix = Prefix(segment.previous, bias=policy.bias, hypotheses=n, beam=beam)
        elif policy.anchor == "none":
            prefix = Prefix("", hypotheses=n, beam=beam)
        else:
            prefix = Prefix(segment.stable, hypotheses=n, boundary=policy.boundary, beam=beam)
        return PartialJob(self.next_segment, source, prefix, self._versions)

    # Results ---------------------------------------------------------------------------------

    def partial_result(self, job: PartialJob, translation: str) -> Partial | None:
        """The partial message for a translation of ``job``; None if its segment is finished or a
        newer partial was already shown."""
        segment, policy = self._open, self.policy
        if job.segment != self.next_segment or job.version <= segment.shown_version:
            return None
        segment.shown_version = job.version
        stable = segment.stable.split()
        ended = bool(_SENTENCE_END.search(job.source))
        keeping: list[list[str]] = []
        for hypothesis in alternatives_of(translation):
            words = hypothesis.split()
            if words[: len(stable)] == stable:
                if not keeping:
                    segment.shown_input, segment.shown_hypothesis = job.input, hypothesis
                keeping.append(_strip_end(words, len(stable)) if policy.strip_end and not ended else words)
        if not keeping:
            # Every hypothesis contradicts the stable text: show just that, and agree on nothing new.
            self.contradictions += 1
            segment.history = []
            return Partial(job.segment, job.source, segment.stable, "")
        best = keeping[0]
        shared = best[: _common(keeping)] if policy.hypotheses > 1 else best
        segment.previous = " ".join(best)
        before = segment.history[-1] if segment.history else []
        segment.history = [*segment.history, shared][-policy.agreement :]
        if len(segment.history) == policy.agreement:
            # Agreed words, each followed by another word in every hypothesis (``follow="all"``) or in the newest.
            followed = segment.history if policy.follow == "all" else segment.history[-1:]
            agreed = min(_common(segment.history), min(len(h) for h in followed) - 1)
            if agreed > len(stable):
                stable = shared[:agreed]
                segment.stable = " ".join(stable)
        shown = shared if ended else shared[: max(len(stable), len(shared) - policy.mask)]
        if policy.display_agreed and not ended:
            shown = shown[: max(len(stable), _common([shown, before]))]
        rest = shown[len(stable) :]
        unstable = (" " if stable and rest else "") + " ".join(rest)
        return Partial(job.segment, job.source, segment.stable, unstable)

    @staticmethod
    def final_result(
        job: FinalJob, translation: str, *, cached: bool = False, latency_ms: float = 0.0, failed: bool = False
    ) -> Final:
        """The final message for a translation of ``job`` (made to start with the stable words shown, unless
        the stream takes revisions: then it says whether it revised them).
        ``failed``: the model failed on the sentence, and ``translation`` is what stays (the prefix)."""
        if job.revisable and not failed and not starts_with_words(translation, job.prefix):
            return Final(job.segment, job.source, translation, cached, latency_ms, revised=True)
        return Final(job.segment, job.source, keep_prefix(job.prefix, translation), cached, latency_ms, failed)


def translate_pending(
    state: StreamState,
    translate: Translate,
    *,
    partials: bool = True,
    clock: Callable[[], float] | None = None,
) -> Iterator[Partial | Final]:
    """Translate what ``state`` has to translate now, synchronously: the waiting finals as one batch,
    then the open segment's partial (if one is due). Yields the messages in the order to send them;
    each translation is done when the iteration reaches it. ``clock`` (the clock of ``apply``'s ``now``)
    measures the finals' latency; without it, latency is 0."""
    finals = state.take_finals()
    if finals:
        texts = translate([job.input for job in finals], [job.decoding for job in finals])
        for job, text in zip(finals, texts, strict=True):
            latency = (clock() - job.received_at) * 1000 if clock is not None else 0.0
            yield state.final_result(job, text, latency_ms=latency)
    partial = state.next_partial() if partials else None
    if partial is not None:
        [text] = translate([partial.input], [partial.decoding])
        message = state.partial_result(partial, text)
        if message is not None:
            yield message


def _common(hypotheses: list[list[str]]) -> int:
    """How many words all ``hypotheses`` share from the start."""
    first, n = hypotheses[0], 0
    while n < len(first) and all(len(h) > n and h[n] == first[n] for h in hypotheses):
        n += 1
    return n


def _strip_end(words: list[str], keep: int) -> list[str]:
    """``words`` without sentence punctuation at the end of the last word (not within the first ``keep``)."""
    if len(words) <= keep:
        return words
    last = _SENTENCE_END.sub("", words[-1])
    return [*words[:-1], last] if last else words[:-1]
