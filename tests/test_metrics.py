from translator.service.metrics import Counter, Gauge, Histogram, Metrics


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
