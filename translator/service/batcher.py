"""Cross-connection continuous batching in front of one engine.

A request goes to the model at once when a worker is free and nothing says more requests are on their
way: a lone request never waits. Requests that arrive while every worker is busy wait, and the next free
worker takes them together (up to ``max_batch`` texts): a busy server batches. Right after a batch of
finals or REST requests is answered, its callers tend to come back with their next request (REST
clients, streams whose next sentences are waiting); a free worker then waits for as many texts as that
batch held, at most ``max_wait_ms`` after it was answered, so that a loaded server keeps its batches
whole instead of breaking them up into ever smaller ones. Requests submitted in the same event-loop turn
always go together.

Finals and REST requests go before partials and are batched apart from them; with several workers,
partials never take the last free one, so a final never waits behind partials. A partial that has a newer
partial from the same stream
waiting behind it is dropped rather than translated (coalescing). A caller that goes away (its await is
cancelled) takes its request out of the queue. When more than ``max_queue`` texts are waiting, the
oldest partials are shed; finals are never shed. The model runs on ``pool``'s threads
(translator.service.workers), off the event loop, with one hand-off each way.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from translator.service.workers import Workers

PRIORITY_FINAL = 0  # finals and REST requests
PRIORITY_PARTIAL = 1

TranslateFn = Callable[[list[str], list[str | None]], list[str]]


class Superseded(Exception):
    """A partial request dropped because a newer one for the same stream replaced it."""


class Shed(Exception):
    """A partial request dropped because the server is overloaded."""


@dataclass(order=True)
class _Request:
    priority: int
    order: int
    texts: list[str] = field(compare=False)
    prefixes: list[str | None] = field(compare=False)
    future: asyncio.Future[list[str]] = field(compare=False)
    coalesce_key: Hashable | None = field(compare=False, default=None)
    enqueued_at: float = field(compare=False, default=0.0)  # loop.time()


@dataclass(eq=False)
class _Batch:
    requests: list[_Request]
    texts: int
    finals: int  # texts of finals and REST requests
    started: float  # time.perf_counter()


@dataclass
class BatchStats:
    batches: int = 0
    texts: int = 0
    superseded: int = 0
    shed: int = 0
    cancelled: int = 0


class MicroBatcher:
    def __init__(
        self,
        translate: TranslateFn,
        pool: Workers,
        *,
        max_batch: int = 32,
        max_wait_ms: float = 3.0,
        max_queue: int = 1024,
        workers: int = 1,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_wait_ms < 0 or max_queue < 1 or workers < 1:
            raise ValueError("max_batch, max_queue and workers must be positive, max_wait_ms not negative")
        self._translate = translate
        self._pool = pool
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000, max_queue
        self.workers = workers
        self._loop = asyncio.get_running_loop()
        self._queue: list[_Request] = []
        self._waiting_texts = 0
        self._waiting_finals = 0  # of those, texts of finals and REST requests
        self._latest_partial: dict[Hashable, _Request] = {}
        self._counter = itertools.count()
        self._busy = 0  # batches in flight
        self._in_flight: set[_Batch] = set()
        # Texts of finals and REST requests in recently answered batches whose callers have not come back
        # yet (see the module doc; a partial's caller does not come back at once), and when the last batch
        # was answered: the expectation lapses max_wait after it.
        self._owed = 0
        self._answered_at = 0.0
        self._scheduled = False  # a dispatch is due in this or the next loop turn
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._on_batch = on_batch
        self.stats = BatchStats()

    @property
    def queued_texts(self) -> int:
        return self._waiting_texts

    async def submit(
        self,
        texts: Sequence[str],
        prefixes: Sequence[str | None] | None = None,
        *,
        partial: bool = False,
        coalesce_key: Hashable | None = None,
    ) -> list[str]:
        """Translate ``texts``; raises Superseded or Shed for dropped partials."""
        if not texts:
            return []
        if self._closed:
            raise RuntimeError("the batcher is closed")
        request = _Request(
            PRIORITY_PARTIAL if partial else PRIORITY_FINAL,
            next(self._counter),
            list(texts),
            list(prefixes) if prefixes is not None else [None] * len(texts),
            self._loop.create_future(),
            coalesce_key if partial else None,
            self._loop.time(),
        )
        if request.coalesce_key is not None:
            older = self._latest_partial.get(request.coalesce_key)
            if older is not None and older in self._queue:
                self._remove(older)
                self.stats.superseded += 1
                older.future.set_exception(Superseded())
            self._latest_partial[request.coalesce_key] = request
        self._queue.append(request)
        self._waiting_texts += len(request.texts)
        if not partial:
            self._waiting_finals += len(request.texts)
        self._shed()
        if not self._scheduled and self._busy < self.workers:
            # Next loop turn, so that requests submitted in this one go together; no waiting.
            self._scheduled = True
            self._loop.call_soon(self._dispatch)
        try:
            return await request.future
        except asyncio.CancelledError:
            if request in self._queue:
                self._remove(request)
                self.stats.cancelled += 1
            raise
        finally:
            if request.coalesce_key is not None and self._latest_partial.get(request.coalesce_key) is request:
                del self._latest_partial[request.coalesce_key]

    def _remove(self, request: _Request) -> None:
        self._queue.remove(request)
        self._waiting_texts -= len(request.texts)
        if request.priority == PRIORITY_FINAL:
            self._waiting_finals -= len(request.texts)

    def _shed(self) -> None:
        if self._waiting_texts <= self.max_queue:
            return
        for request in sorted((r for r in self._queue if r.priority == PRIORITY_PARTIAL), key=lambda r: r.order):
            if self._waiting_texts <= self.max_queue:
                break
            self._remove(request)
            self.stats.shed += 1
            request.future.set_exception(Shed())

    def _take_batch(self, limit: int) -> list[_Request]:
        """The first requests in priority order, up to ``limit`` texts (a larger request goes whole)."""
        self._queue.sort()
        size = finals = taken = 0
        for request in self._queue:
            if taken and size + len(request.texts) > limit:
                break
            size += len(request.texts)
            finals += len(request.texts) if request.priority == PRIORITY_FINAL else 0
            taken += 1
        batch = self._queue[:taken]
        del self._queue[:taken]
        self._waiting_texts -= size
        self._waiting_finals -= finals
        return batch

    def _dispatch(self) -> None:
        """Start batches on free workers: at once unless answered callers are expected back, then once they
        are, or max_wait after the last batch was answered."""
        self._scheduled = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._loop.time()
        if self._owed and now - self._answered_at >= self.max_wait:
            self._owed = 0
        while self._queue and self._busy < self.workers and not self._closed:
            # Finals go first and count alone; partials count as they are.
            waiting = self._waiting_finals or self._waiting_texts
            if waiting < min(self._owed, self.max_batch):
                self._timer = self._loop.call_at(self._answered_at + self.max_wait, self._dispatch)
                return
            free = self.workers - self._busy
            if self._waiting_finals:
                # Finals alone (a partial would slow them down), shared by the free workers rather than one
                # taking them all.
                limit = min(self.max_batch, max(1, -(-self._waiting_finals // free)), self._waiting_finals)
            elif self.workers > 1 and free == 1:
                return  # partials never take the last free worker: a final never waits behind them
            else:
                limit = self.max_batch
            batch = [r for r in self._take_batch(limit) if not r.future.done()]
            if batch:
                self._start(batch)

    def _start(self, requests: list[_Request]) -> None:
        texts = [t for r in requests for t in r.texts]
        prefixes = [p for r in requests for p in r.prefixes]
        finals = sum(len(r.texts) for r in requests if r.priority == PRIORITY_FINAL)
        batch = _Batch(requests, len(texts), finals, time.perf_counter())
        self._owed = max(0, self._owed - finals)
        self._busy += 1
        self._in_flight.add(batch)
        loop, finish = self._loop, self._finish

        def back(results: list[str] | None, failure: BaseException | None) -> None:  # in the worker thread
            try:
                loop.call_soon_threadsafe(finish, batch, results, failure)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

        self._pool.run(self._translate, (texts, prefixes), back)

    def _finish(self, batch: _Batch, results: list[str] | None, failure: BaseException | None) -> None:
        self._busy -= 1
        self._in_flight.discard(batch)
        if failure is not None:
            # The model failed (or the pool was shut down): this batch only.
            error = failure if isinstance(failure, Exception) else RuntimeError("the translation was cancelled")
            for request in batch.requests:
                if not request.future.done():
                    request.future.set_exception(error)
        else:
            assert results is not None
            self.stats.batches += 1
            self.stats.texts += batch.texts
            if self._on_batch is not None:
                self._on_batch(batch.texts, time.perf_counter() - batch.started)
            offset = 0
            for request in batch.requests:
                part = results[offset : offset + len(request.texts)]
                offset += len(request.texts)
                if not request.future.done():
                    request.future.set_result(part)
            self._owed += batch.finals
            self._answered_at = self._loop.time()
        if self._queue and not self._scheduled:
            self._dispatch()

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for batch in self._in_flight:
            for request in batch.requests:
                if not request.future.done():
                    request.future.cancel()
        self._in_flight.clear()
        for request in self._queue:
            if not request.future.done():
                request.future.cancel()
        self._queue.clear()
        self._waiting_texts = self._waiting_finals = 0
