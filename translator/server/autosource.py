"""``/v1/stream?source=auto&target=LANG``: the stream's language is detected from its first words.

Text is accepted as usual but nothing is translated until the language is known. The first attempt comes
once the open text has ``MIN_WORDS`` words, or a sentence is complete (a sentence end, a line break, a
pause, a commit); the whole text held so far is identified (``translator.engine.langid``). Then:

- a language a model translates into the target: a ``detected`` message, and the held sentences and
  everything after them are translated from it (the stream's source from then on);
- too little to tell: wait for more text, unless the client has finished (commit, pause, drain) or
  ``MAX_WORDS`` words are held; then ``error`` ``language_not_detected``;
- the target language itself (``same_language``), or a language no model translates into the target
  (``unknown_pair``): that ``error``.

An error comes once sentences are complete, one for each (with its ``segment``), then the sentence's final
(``failed: true``, its ``source`` and no translation: nothing accepted is dropped silently); detection starts
again with the next text.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from translator.engine import UnknownPairError
from translator.engine.langid import Detection
from translator.protocol import Detected, ServerMessage
from translator.service.service import TranslationService
from translator.streaming import FinalJob, StreamState

MIN_WORDS = 5
MAX_WORDS = 30


class Stream(Protocol):
    """What detection needs of a connection (translator.server.connection.Connection)."""

    source: str
    state: StreamState
    service: TranslationService
    finals_settled: asyncio.Event

    async def send(self, message: ServerMessage) -> None: ...

    async def error(self, code: str, message: str, *, segment: int | None = None) -> None: ...

    async def _finals(self, jobs: list[FinalJob]) -> None: ...


def decide(detection: Detection, target: str, sources: set[str], *, finished: bool) -> tuple[str, str]:
    """What to do with a detection: ``("translate", language)``, ``("wait", "")`` or ``(code, message)`` for
    the error to send."""
    if detection.known:
        language = detection.language
        if language == target:
            return "same_language", f"the text is in the target language ({language}): nothing to translate"
        if language not in sources:
            return "unknown_pair", f"the text is in {language}, and no model translates {language}->{target}"
        return "translate", language
    if finished:
        return "language_not_detected", "could not tell the language of the text: send more, or name the source"
    return "wait", ""


@dataclass
class AutoSource:
    target: str
    sources: set[str]  # the languages a model translates into the target
    held: list[FinalJob] = field(default_factory=list)
    settled: bool = False

    @classmethod
    def admit(cls, service: TranslationService, source: str, target: str) -> AutoSource | None:
        """For ``source=auto``, the detection (UnknownPairError if no model translates into ``target``)."""
        if source != "auto":
            return None
        sources = {s for s, t in service.pairs() if t == target}
        if not sources:
            raise UnknownPairError(source, target, service.pairs())
        return cls(target, sources)

    async def resolve(self, stream: Stream) -> bool:
        """Whether the source is known (then the stream translates as usual). Called by the work loop each
        time the stream's state took input; translates the sentences held until it was known."""
        if self.settled:
            return True
        state = stream.state
        self.held += state.take_finals()
        text = " ".join([job.source for job in self.held] + [state.open_source])
        words = len(text.split())
        if not self.held and words < MIN_WORDS:
            return False
        finished = bool(self.held) and not state.open_text.strip()
        detection = (await stream.service.identifier()).detect(text)
        action, detail = decide(detection, self.target, self.sources, finished=finished or words >= MAX_WORDS)
        if action == "translate":
            held, self.held = self.held, []
            self.settled = True
            stream.source = detail
            model = stream.service.model(detail, self.target).name
            await stream.send(Detected(detail, detection.confidence, model))
            if held:
                await stream._finals(held)
        elif action != "wait" and self.held:  # an error names the sentences it is about
            held, self.held = self.held, []
            for job in held:
                await stream.error(action, detail, segment=job.segment)
                await stream.send(StreamState.final_result(job, "", failed=True))
        if not self.held and not state.has_work(partials=False):
            stream.finals_settled.set()
        return self.settled
