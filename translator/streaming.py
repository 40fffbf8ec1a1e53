"""The streaming state of one connection: pure logic, no model, no I/O.

Text arrives with ``append``, ``replace`` and ``commit``. The state cuts it into sentences
(segments, numbered from 0), decides which need a final translation and which open segment needs a
partial one, and turns translations into protocol messages while keeping the guarantees:

- every segment gets exactly one final, and finals are produced in segment order;
- no partial for a segment after its final was requested;
- within a segment, ``stable`` only grows: each stable text is a prefix of the next and of the final.

Stability policy (local agreement with a forced prefix): the open segment is re-translated each
time its source grows, with the current stable text forced as the start of the translation
(``target_prefix``). Words on which two successive translations agree, and which are followed by
another word in both, become stable. The final translation is forced to start with the stable text
too, which is what makes the guarantee hold; what that costs in quality is measured in the README.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from translator.segment import cut_complete, split_sentences


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

    # When True, the word being typed at the end of appended text is left out of partial
    # translations until a space or punctuation shows that it is complete.
    hold_back_last_word: bool = True
    next_segment: int = 0
    open_text: str = ""
    _open: _OpenSegment = field(default_factory=_OpenSegment)
    _finals: list[FinalJob] = field(default_factory=list)
    _last_was_replace: bool = False
    _versions: int = 0

    # Input -----------------------------------------------------------------------------------

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
        """The source of the open segment as a partial translation should see it."""
        text = self.open_text
        if self.hold_back_last_word and not self._last_was_replace and text[-1:].isalnum():
            text = text[: len(text) - len(text.split()[-1])]
        return " ".join(text.split())

    def take_finals(self) -> list[FinalJob]:
        """The finals to translate now, in segment order. Each is handed out once."""
        finals, self._finals = self._finals, []
        return finals

    def take_finals_pending(self) -> bool:
        """Whether finals are waiting to be taken."""
        return bool(self._finals)

    def partial_job(self, peek: bool = False) -> PartialJob | None:
        """A partial translation of the open segment, if its source changed since the last one."""
        source = self.open_source
        if not source or source == self._open.requested_source:
            return None
        if peek:
            return PartialJob(self.next_segment, source, self._open.stable, self._versions)
        self._open.requested_source = source
        self._versions += 1
        return PartialJob(self.next_segment, source, self._open.stable, self._versions)

    # Results ---------------------------------------------------------------------------------

    def partial_result(self, job: PartialJob, translation: str) -> dict[str, object] | None:
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
        return {
            "type": "partial",
            "segment": job.segment,
            "source": job.source,
            "stable": segment.stable,
            "unstable": text[len(segment.stable) :],
        }

    @staticmethod
    def final_message(job: FinalJob, translation: str, *, cached: bool, latency_ms: float) -> dict[str, object]:
        return {
            "type": "final",
            "segment": job.segment,
            "source": job.source,
            "text": keep_prefix(job.prefix, translation),
            "cached": cached,
            "latency_ms": round(latency_ms, 1),
        }


def keep_prefix(prefix: str, text: str) -> str:
    """``text``, made to start with ``prefix``.

    A translation forced to start with ``prefix`` already does; this is the safety net that keeps
    the stability guarantee if a tokenizer does not reproduce the prefix exactly: the words that
    differ are replaced by the prefix.
    """
    if text.startswith(prefix):
        return text
    prefix_words = len(prefix.split())
    rest = text.split()[prefix_words:]
    return " ".join([prefix, *rest]) if rest else prefix


def _agreed_words(previous: str, current: str) -> str:
    """The words two translations share from the start, each followed by another word in both."""
    a, b = previous.split(), current.split()
    n = 0
    limit = min(len(a), len(b)) - 1
    while n < limit and a[n] == b[n]:
        n += 1
    return " ".join(b[:n])
