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

Stability policy (local agreement with a forced prefix): the open segment is re-translated each
time its source grows, with the current stable text forced as the start of the translation
(``target_prefix``). Words on which two successive translations agree, and which are followed by
another word in both, become stable. The final translation is forced to start with the stable text
too, which is what makes the guarantee hold; what that costs in quality is measured in the README.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from translator.protocol import ClientMessage, Final, Partial
from translator.segment import cut_complete, split_sentences
from translator.text import common_prefix_words, keep_prefix, normalize_spaces

# Sources and the prefixes their translations must start with (None: no prefix) -> translations.
Translate = Callable[[list[str], list[str | None]], list[str]]


@dataclass(frozen=True)
class FinalJob:
    segment: int
    source: str
    # The stable text the final translation must start with ("" if none was shown).
    prefix: str
    # When the input that completed the sentence arrived (the caller's clock).
    received_at: float


@dataclass(frozen=True)
class PartialJob:
    segment: int
    source: str
    prefix: str
    # Increases with every partial job of the state; results of older jobs than one already shown
    # are dropped, so a late translation never replaces a newer one on screen.
    version: int = 0


@dataclass
class _OpenSegment:
    stable: str = ""
    previous: str | None = None  # last translation, for local agreement
    requested_source: str = ""  # source of the last partial job handed out
    shown_version: int = -1  # version of the last partial turned into a message


@dataclass
class StreamState:
    """What one client has sent, and what has to be translated next."""

    next_segment: int = 0
    open_text: str = ""
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
        self._cut(now, everything=False)

    def replace(self, text: str, now: float = 0.0) -> None:
        self.open_text = text
        self._last_was_replace = True
        self._cut(now, everything=False)

    def commit(self, now: float = 0.0) -> None:
        self._cut(now, everything=True)

    def _cut(self, now: float, *, everything: bool) -> None:
        if everything:
            complete, self.open_text = split_sentences(self.open_text), ""
        else:
            complete, self.open_text = cut_complete(self.open_text)
        for sentence in complete:
            self._finals.append(FinalJob(self.next_segment, sentence, self._open.stable, now))
            self.next_segment += 1
            self._open = _OpenSegment()

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
        return PartialJob(self.next_segment, source, self._open.stable, self._versions)

    # Results ---------------------------------------------------------------------------------

    def partial_result(self, job: PartialJob, translation: str) -> Partial | None:
        """The partial message for a translation of ``job``; None if its segment is finished or a
        newer partial was already shown."""
        segment = self._open
        if job.segment != self.next_segment or job.version <= segment.shown_version:
            return None
        segment.shown_version = job.version
        text = keep_prefix(segment.stable, translation)
        if segment.previous is not None:
            agreed = _agreed_words(segment.previous, text)
            if len(agreed) > len(segment.stable) and agreed.startswith(segment.stable) and text.startswith(agreed):
                segment.stable = agreed
        segment.previous = text
        return Partial(job.segment, job.source, segment.stable, text[len(segment.stable) :])

    @staticmethod
    def final_result(
        job: FinalJob, translation: str, *, cached: bool = False, latency_ms: float = 0.0, failed: bool = False
    ) -> Final:
        """The final message for a translation of ``job`` (made to start with the stable text shown).
        ``failed``: the model failed on the sentence, and ``translation`` is what stays (the prefix)."""
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
        texts = translate([job.source for job in finals], [job.prefix or None for job in finals])
        for job, text in zip(finals, texts, strict=True):
            latency = (clock() - job.received_at) * 1000 if clock is not None else 0.0
            yield state.final_result(job, text, latency_ms=latency)
    partial = state.next_partial() if partials else None
    if partial is not None:
        [text] = translate([partial.source], [partial.prefix or None])
        message = state.partial_result(partial, text)
        if message is not None:
            yield message


def _agreed_words(previous: str, current: str) -> str:
    """The words two translations share from the start, each followed by another word in both."""
    a, b = previous.split(), current.split()
    n = min(common_prefix_words(previous, current), min(len(a), len(b)) - 1)
    return " ".join(b[: max(n, 0)])
