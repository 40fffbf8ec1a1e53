"""Cross-connection micro-batching in front of one engine.

Requests from every connection and REST call are gathered for at most ``max_wait_ms`` (or until
``max_batch`` texts are waiting), translated together in one engine call off the event loop, and
resolved to their callers. Finals and REST requests go before partials. A partial that has a newer
partial from the same stream waiting behind it is dropped rather than translated (coalescing). A
caller that goes away (its await is cancelled) takes its request out of the queue. When more than
``max_queue`` texts are waiting, the oldest partials are shed; finals are never shed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

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
    enqueued_at: float = field(compare=False, default=0.0)


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
        executor: Executor,
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
        self._executor = executor
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000, max_queue
        self._queue: list[_Request] = []
        self._waiting_texts = 0
        self._latest_partial: dict[Hashable, _Request] = {}
        self._counter = itertools.count()
        self._wake = asyncio.Event()
        self._workers = [asyncio.get_running_loop().create_task(self._work()) for _ in range(workers)]
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
        loop = asyncio.get_running_loop()
        request = _Request(
            PRIORITY_PARTIAL if partial else PRIORITY_FINAL,
            next(self._counter),
            list(texts),
            list(prefixes) if prefixes is not None else [None] * len(texts),
            loop.create_future(),
            coalesce_key if partial else None,
            time.perf_counter(),
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
        self._shed()
        self._wake.set()
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

    def _shed(self) -> None:
        if self._waiting_texts <= self.max_queue:
            return
        for request in sorted((r for r in self._queue if r.priority == PRIORITY_PARTIAL), key=lambda r: r.order):
            if self._waiting_texts <= self.max_queue:
                break
            self._remove(request)
            self.stats.shed += 1
            request.future.set_exception(Shed())

    def _take_batch(self) -> list[_Request]:
        self._queue.sort()
        batch: list[_Request] = []
        size = 0
        for request in list(self._queue):
            if batch and size + len(request.texts) > self.max_batch:
                break
            batch.append(request)
            size += len(request.texts)
        for request in batch:
            self._remove(request)
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            # Gather: wait a little for more requests unless the batch is already full.
            deadline = loop.time() + self.max_wait
            while self._waiting_texts < self.max_batch and (remaining := deadline - loop.time()) > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            batch = [r for r in self._take_batch() if not r.future.done()]
            if not batch:
                continue
            texts = [t for r in batch for t in r.texts]
            prefixes = [p for r in batch for p in r.prefixes]
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self._translate, texts, prefixes)
            except Exception as exc:
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            self.stats.batches += 1
            self.stats.texts += len(texts)
            if self._on_batch is not None:
                self._on_batch(len(texts), time.perf_counter() - start)
            offset = 0
            for request in batch:
                part = results[offset : offset + len(request.texts)]
                offset += len(request.texts)
                if not request.future.done():
                    request.future.set_result(part)

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        for request in self._queue:
            if not request.future.done():
                request.future.cancel()
        self._queue.clear()
        self._waiting_texts = 0
