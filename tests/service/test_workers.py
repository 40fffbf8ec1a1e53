"""The model's worker threads: results and failures reach ``done``, jobs run side by side, shutdown is clean."""

from __future__ import annotations

import threading

import pytest

from translator.service.workers import Workers, WorkersClosed


class Outcomes:
    """What ``done`` was called with, and in which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, BaseException | None, str]] = []
        self.arrived = threading.Semaphore(0)

    def __call__(self, result: object, failure: BaseException | None) -> None:
        self.calls.append((result, failure, threading.current_thread().name))
        self.arrived.release()

    def wait(self, count: int) -> None:
        for _ in range(count):
            assert self.arrived.acquire(timeout=10)


def test_results_and_failures_reach_done_on_a_named_worker_and_the_pool_goes_on() -> None:
    pool, outcomes = Workers(1, name="model"), Outcomes()
    try:
        pool.run(lambda a, b: a + b, (2, 3), outcomes)
        pool.run(lambda: 1 / 0, (), outcomes)
        pool.run(str.upper, ("still working",), outcomes)
        outcomes.wait(3)
    finally:
        pool.shutdown()
    [(five, none, thread), (nothing, failure, _), (upper, _, _)] = outcomes.calls
    assert (five, none, thread) == (5, None, "model_0")
    assert nothing is None and isinstance(failure, ZeroDivisionError)
    assert upper == "STILL WORKING"


def test_two_workers_run_two_jobs_at_once() -> None:
    pool, outcomes = Workers(2), Outcomes()
    both_running = threading.Barrier(2, timeout=10)
    try:
        for _ in range(2):
            pool.run(both_running.wait, (), outcomes)  # a lone worker would wait here until the barrier breaks
        outcomes.wait(2)
    finally:
        pool.shutdown()
    assert [failure for _, failure, _ in outcomes.calls] == [None, None]
    assert {thread for _, _, thread in outcomes.calls} == {"translate_0", "translate_1"}


def test_shutdown_fails_the_waiting_jobs_and_later_ones_and_stops_the_threads() -> None:
    pool, outcomes = Workers(1, name="closing"), Outcomes()
    started, gate = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return gate.wait(10)

    pool.run(hold, (), outcomes)  # in flight: it finishes after the shutdown
    pool.run(str, ("waiting",), outcomes)
    assert started.wait(10)
    pool.shutdown()
    pool.run(str, ("too late",), outcomes)
    gate.set()
    outcomes.wait(3)
    assert sorted(str(result) for result, _, _ in outcomes.calls) == ["None", "None", "True"]
    assert sum(isinstance(failure, WorkersClosed) for _, failure, _ in outcomes.calls) == 2
    for _ in range(1000):  # bounded: 10 s
        if not any(t.name == "closing_0" for t in threading.enumerate()):
            break
        threading.Event().wait(0.01)
    assert not any(t.name == "closing_0" for t in threading.enumerate())


def test_a_pool_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Workers(0)
