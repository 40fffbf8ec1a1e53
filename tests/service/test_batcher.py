"""Micro-batcher semantics. A recording translate function shows which texts went into which batch
and can hold a batch in flight; one test runs the real engine through the batcher."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from functools import partial

import pytest

from translator.engine.engine import Engine, texts_only
from translator.service.batcher import MicroBatcher, Shed, Superseded
from translator.service.workers import Workers


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_on: str | None = None

    def __call__(self, texts: list[str], prefixes: list[str | None]) -> list[str]:
        self.gate.wait(10)
        self.batches.append(list(texts))
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("model failure")
        return [f"<{t}|{p or ''}>" for t, p in zip(texts, prefixes, strict=True)]


@pytest.fixture
def executor() -> Iterator[Workers]:
    pool = Workers(2)
    yield pool
    pool.shutdown()


async def hold(recorder: Recorder, batcher: MicroBatcher) -> asyncio.Task[list[str]]:
    """Put a request in flight and keep it there until recorder.gate is set."""
    recorder.gate.clear()
    task = asyncio.create_task(batcher.submit(["blocker"]))
    while batcher.queued_texts:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)
    return task


async def test_requests_are_gathered_into_one_batch_in_order(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_batch=16, max_wait_ms=50)
    results = await asyncio.gather(*(batcher.submit([f"t{i}"], [f"p{i}"]) for i in range(5)))
    assert results == [[f"<t{i}|p{i}>"] for i in range(5)]
    assert recorder.batches == [[f"t{i}" for i in range(5)]]
    await batcher.close()


async def test_a_lone_request_does_not_wait_for_the_batch_window(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_wait_ms=60_000)
    async with asyncio.timeout(10):  # a behaviour bound, not a timing claim: the window is a minute
        assert await batcher.submit(["alone"]) == ["<alone|>"]
        await asyncio.sleep(0.1)
        assert await batcher.submit(["later"]) == ["<later|>"]
    await batcher.close()


async def test_requests_that_arrive_while_the_workers_are_busy_form_one_batch(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_wait_ms=0)
    blocker = await hold(recorder, batcher)
    waiting = []
    for i in range(4):  # one by one, in separate loop turns
        waiting.append(asyncio.create_task(batcher.submit([f"w{i}"])))
        await asyncio.sleep(0.005)
    recorder.gate.set()
    assert await asyncio.gather(*waiting) == [[f"<w{i}|>"] for i in range(4)]
    await blocker
    assert recorder.batches == [["blocker"], ["w0", "w1", "w2", "w3"]]
    await batcher.close()


async def test_a_free_worker_runs_while_another_is_busy(executor: Workers) -> None:
    recorder = Recorder()
    started = threading.Semaphore(0)

    def translate(texts: list[str], prefixes: list[str | None]) -> list[str]:
        started.release()
        return recorder(texts, prefixes)

    batcher = MicroBatcher(translate, executor, max_wait_ms=60_000, workers=2)
    recorder.gate.clear()
    first = asyncio.create_task(batcher.submit(["one"]))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(batcher.submit(["two"]))
    loop = asyncio.get_running_loop()
    # Both are in the model at the same time, each in a batch of its own.
    assert await loop.run_in_executor(None, started.acquire, True, 10)
    assert await loop.run_in_executor(None, started.acquire, True, 10)
    recorder.gate.set()
    assert await first == ["<one|>"] and await second == ["<two|>"]
    assert sorted(recorder.batches) == [["one"], ["two"]]
    await batcher.close()


async def test_answered_callers_coming_back_are_batched_together(executor: Workers) -> None:
    """After a batch of three is answered, the free worker waits for three texts before it starts the
    next batch (not for the window, which is a minute here)."""
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_wait_ms=60_000)
    await asyncio.gather(*(batcher.submit([f"a{i}"]) for i in range(3)))
    async with asyncio.timeout(10):
        again = []
        for i in range(3):
            again.append(asyncio.create_task(batcher.submit([f"b{i}"])))
            await asyncio.sleep(0.005)
        await asyncio.gather(*again)
    assert recorder.batches == [["a0", "a1", "a2"], ["b0", "b1", "b2"]]
    await batcher.close()


async def test_a_final_does_not_wait_for_answered_partials_to_come_back(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_wait_ms=60_000)
    await asyncio.gather(*(batcher.submit([f"p{i}"], partial=True, coalesce_key=i) for i in range(3)))
    async with asyncio.timeout(10):  # the window is a minute: the final went at once
        assert await batcher.submit(["final"]) == ["<final|>"]
    assert recorder.batches == [["p0", "p1", "p2"], ["final"]]
    await batcher.close()


async def test_partials_leave_the_last_free_worker_to_finals(executor: Workers) -> None:
    """Two workers: while a partial batch is in flight, a newer partial waits and a final goes at once."""
    partials_gate, started = threading.Event(), threading.Semaphore(0)
    seen: list[list[str]] = []

    def translate(texts: list[str], prefixes: list[str | None]) -> list[str]:
        seen.append(list(texts))
        started.release()
        if texts[0].startswith("p"):
            partials_gate.wait(10)
        return [t.upper() for t in texts]

    batcher = MicroBatcher(translate, executor, max_wait_ms=0, workers=2)
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(batcher.submit(["p1"], partial=True, coalesce_key="a"))
    assert await loop.run_in_executor(None, started.acquire, True, 10)
    second = asyncio.create_task(batcher.submit(["p2"], partial=True, coalesce_key="b"))
    await asyncio.sleep(0.02)
    assert batcher.queued_texts == 1  # not started: the free worker is kept for finals
    async with asyncio.timeout(10):
        assert await batcher.submit(["final"]) == ["FINAL"]
    partials_gate.set()
    assert await first == ["P1"] and await second == ["P2"]
    assert seen == [["p1"], ["final"], ["p2"]]
    await batcher.close()


async def test_max_batch_splits_and_a_large_request_stays_whole(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_batch=3, max_wait_ms=20)
    small = [batcher.submit([f"s{i}"]) for i in range(4)]
    big = batcher.submit([f"b{i}" for i in range(5)])
    results = await asyncio.gather(*small, big)
    assert results[-1] == [f"<b{i}|>" for i in range(5)]
    assert sorted(len(b) for b in recorder.batches) == [1, 3, 5]
    await batcher.close()


async def test_finals_go_before_partials(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_batch=2, max_wait_ms=0)
    blocker = await hold(recorder, batcher)
    partials = [asyncio.create_task(batcher.submit([f"p{i}"], partial=True)) for i in range(2)]
    finals = [asyncio.create_task(batcher.submit([f"f{i}"])) for i in range(2)]
    await asyncio.sleep(0.01)
    recorder.gate.set()
    await asyncio.gather(blocker, *partials, *finals)
    assert recorder.batches[1] == ["f0", "f1"] and recorder.batches[2] == ["p0", "p1"]
    await batcher.close()


async def test_newer_partial_supersedes_a_waiting_one(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_wait_ms=0)
    blocker = await hold(recorder, batcher)
    old = asyncio.create_task(batcher.submit(["a b"], partial=True, coalesce_key="conn1"))
    other = asyncio.create_task(batcher.submit(["x"], partial=True, coalesce_key="conn2"))
    await asyncio.sleep(0.01)
    new = asyncio.create_task(batcher.submit(["a b c"], partial=True, coalesce_key="conn1"))
    await asyncio.sleep(0.01)
    recorder.gate.set()
    with pytest.raises(Superseded):
        await old
    assert await new == ["<a b c|>"] and await other == ["<x|>"]
    await blocker
    assert "a b" not in [t for b in recorder.batches for t in b]
    assert batcher.stats.superseded == 1
    await batcher.close()


async def test_cancelled_caller_leaves_the_queue(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_wait_ms=0)
    blocker = await hold(recorder, batcher)
    gone = asyncio.create_task(batcher.submit(["vanished"]))
    stays = asyncio.create_task(batcher.submit(["stays"]))
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.sleep(0.01)
    recorder.gate.set()
    assert await stays == ["<stays|>"]
    await blocker
    assert "vanished" not in [t for b in recorder.batches for t in b]
    assert batcher.stats.cancelled == 1
    await batcher.close()


async def test_cancelling_during_a_batch_does_not_disturb_the_others(executor: Workers) -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher = MicroBatcher(recorder, executor, max_wait_ms=20)
    tasks = [asyncio.create_task(batcher.submit([f"t{i}"])) for i in range(3)]
    await asyncio.sleep(0.05)  # the batch is in flight
    tasks[1].cancel()
    recorder.gate.set()
    assert await tasks[0] == ["<t0|>"] and await tasks[2] == ["<t2|>"]
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]
    await batcher.close()


async def test_overload_sheds_oldest_partials_but_never_finals(executor: Workers) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, executor, max_wait_ms=0, max_queue=4)
    blocker = await hold(recorder, batcher)
    partials = [asyncio.create_task(batcher.submit([f"p{i}"], partial=True)) for i in range(4)]
    await asyncio.sleep(0.01)
    finals = [asyncio.create_task(batcher.submit([f"f{i}"])) for i in range(6)]
    await asyncio.sleep(0.01)
    recorder.gate.set()
    assert [await f for f in finals] == [[f"<f{i}|>"] for i in range(6)]
    outcomes = await asyncio.gather(*partials, return_exceptions=True)
    assert all(isinstance(o, Shed) for o in outcomes)
    assert batcher.stats.shed == 4
    await blocker
    await batcher.close()


async def test_model_error_reaches_only_that_batch(executor: Workers) -> None:
    recorder = Recorder()
    recorder.fail_on = "bad"
    batcher = MicroBatcher(recorder, executor, max_wait_ms=20)
    outcomes = await asyncio.gather(batcher.submit(["bad"]), batcher.submit(["ok"]), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)  # same batch
    assert await batcher.submit(["later"]) == ["<later|>"]  # the batcher carries on
    await batcher.close()


def test_invalid_settings(executor: Workers) -> None:
    async def make() -> None:
        MicroBatcher(Recorder(), executor, max_batch=0)

    with pytest.raises(ValueError):
        asyncio.run(make())


async def test_real_engine_gives_the_same_results_batched(en_de: Engine, executor: Workers) -> None:
    batcher = MicroBatcher(partial(texts_only, en_de, "en", "de"), executor, max_wait_ms=20)
    sentences = ["A man is riding a bicycle.", "Two dogs play.", "A woman reads a book."]
    batched = await asyncio.gather(*(batcher.submit([s]) for s in sentences))
    assert [b[0] for b in batched] == [t.text for t in en_de.translate(sentences)]
    await batcher.close()
