import asyncio
import threading

import pytest

from translator.service.batcher import MicroBatcher, Shed, Superseded
from translator.service.metrics import Counter, Gauge, Histogram, Metrics
from translator.service.workers import Workers


def test_counter_and_labels() -> None:
    counter = Counter("c_total", "Help.", ("kind",))
    counter.inc(1, "a")
    counter.inc(2, 'q"x')
    assert counter.render() == [
        "# HELP c_total Help.",
        "# TYPE c_total counter",
        'c_total{kind="a"} 1',
        'c_total{kind="q\\"x"} 2',
    ]


def test_gauge_and_function_gauge() -> None:
    gauge = Gauge("g", "Help.")
    gauge.inc(3)
    gauge.dec()
    assert gauge.render()[-1] == "g 2"
    assert Gauge("f", "Help.", lambda: 7).render()[-1] == "f 7"


def test_histogram_buckets_are_cumulative() -> None:
    hist = Histogram("h", "Help.", (0.1, 1.0))
    for value in (0.05, 0.5, 0.7, 3.0):
        hist.observe(value)
    lines = hist.render()
    assert 'h_bucket{le="0.1"} 1' in lines
    assert 'h_bucket{le="1"} 3' in lines
    assert 'h_bucket{le="+Inf"} 4' in lines
    assert "h_count 4" in lines and "h_sum 4.25" in lines
    assert hist.count() == 4


def test_service_metrics_render() -> None:
    metrics = Metrics(lambda: 5, lambda: 2)
    text = metrics.render()
    assert "translator_cache_hits_total 5" in text
    assert "# TYPE translator_cache_misses_total counter" in text
    assert text.endswith("\n")


async def test_dropped_requests_of_a_real_batcher() -> None:
    gate = threading.Event()

    def translate(texts: list[str], prefixes: list[str | None]) -> list[str]:
        gate.wait(10)
        return [t.upper() for t in texts]

    executor = Workers(1)
    batcher = MicroBatcher(translate, executor, max_wait_ms=0, max_queue=2)
    metrics = Metrics(lambda: 0, lambda: 0, batch_stats=lambda: [batcher.stats])
    assert 'translator_requests_dropped_total{reason="shed"} 0' in metrics.render()
    blocker = asyncio.create_task(batcher.submit(["in flight"]))
    await asyncio.sleep(0.01)
    while batcher.queued_texts:  # until the worker holds it at the gate
        await asyncio.sleep(0.001)
    gone = asyncio.create_task(batcher.submit(["g"]))
    await asyncio.sleep(0.01)
    gone.cancel()  # its caller went away
    await asyncio.sleep(0.01)
    old = asyncio.create_task(batcher.submit(["a"], partial=True, coalesce_key="s1"))
    await asyncio.sleep(0.01)
    new = asyncio.create_task(batcher.submit(["a b"], partial=True, coalesce_key="s1"))  # supersedes "a"
    other = asyncio.create_task(batcher.submit(["x"], partial=True, coalesce_key="s2"))
    await asyncio.sleep(0.01)
    final = asyncio.create_task(batcher.submit(["f"]))  # three texts waiting: the oldest partial is shed
    await asyncio.sleep(0.01)
    gate.set()
    with pytest.raises(Superseded):
        await old
    with pytest.raises(Shed):
        await new
    assert await other == ["X"] and await final == ["F"] and await blocker == ["IN FLIGHT"]
    text = metrics.render()
    assert "# TYPE translator_requests_dropped_total counter" in text
    assert 'translator_requests_dropped_total{reason="superseded"} 1' in text
    assert 'translator_requests_dropped_total{reason="shed"} 1' in text
    assert 'translator_requests_dropped_total{reason="cancelled"} 1' in text
    assert metrics.requests_dropped.value("shed") == 1
    await batcher.close()
    executor.shutdown()
