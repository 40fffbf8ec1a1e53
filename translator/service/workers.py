"""The threads that run the model off the event loop: a plainer pool than ``ThreadPoolExecutor``.

A job is a function, its arguments and a ``done`` callback that the worker calls with the result or the
exception (in the worker's thread; the micro-batcher's hands it to its event loop). There is no
``concurrent.futures.Future`` per job, no work item and no thread-count bookkeeping, which a lone
request pays for on its way to the model and back (measured in docs/performance.md). The threads start
with the pool, carry the names
``{name}_0``, ``{name}_1``, ... to the operating system (translator.service.threads) and are daemons: a
process that exits does not wait for a model run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from translator.service.threads import name_os_thread

Done = Callable[[Any, BaseException | None], None]
_STOP = None


class WorkersClosed(RuntimeError):
    """A job given to, or still waiting in, a pool that was shut down."""

    def __init__(self) -> None:
        super().__init__("the worker threads are shut down")


class Workers:
    def __init__(self, count: int, name: str = "translate") -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self.count = count
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Done] | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(count)]
        for thread in self._threads:
            thread.start()

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...], done: Done) -> None:
        """Run ``fn(*args)`` on a free worker, then ``done(result, None)`` or ``done(None, exception)``
        there. After ``shutdown``, ``done`` gets WorkersClosed at once."""
        if self._closed:
            done(None, WorkersClosed())
            return
        self._jobs.put((fn, args, done))

    def shutdown(self) -> None:
        """Stop the workers once their current jobs end; jobs still waiting get WorkersClosed."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[2](None, WorkersClosed())
        for _ in self._threads:
            self._jobs.put(_STOP)

    def _work(self) -> None:
        name_os_thread()
        while (job := self._jobs.get()) is not None:
            fn, args, done = job
            if self._closed:
                done(None, WorkersClosed())
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the caller, who decides
                done(None, exc)
            else:
                done(result, None)
