"""Raw CTranslate2 rows and the server-vs-raw ratios of `translator bench` (translator.cli.bench_engine)."""

from __future__ import annotations

from typing import Any

from tests.conftest import MODELS
from translator.cli.bench_engine import add_vs_raw, partials_cost, raw_ctranslate2
from translator.engine.corpus import BUILTIN_EN_DE


def _latency(p50: float, p99: float) -> dict[str, float | None]:
    return {"p50": p50, "p90": p99, "p99": p99, "max": p99}


def test_raw_rows_with_the_given_threads() -> None:
    sentences = [s for s, _ in BUILTIN_EN_DE] * 2
    rows = raw_ctranslate2(MODELS / "en-de", sentences, [1, 4], inter=2, intra=1, beam=2, latency_sentences=4)
    assert [r["mode"] for r in rows] == ["baseline-latency", "baseline", "baseline"]
    assert rows[0]["sentences"] == 4 and 0 < rows[0]["latency_ms"]["p50"] <= rows[0]["latency_ms"]["max"]
    assert [r["batch"] for r in rows[1:]] == [1, 4]
    assert all(r["inter_threads"] == 2 and r["sentences"] == 16 and r["sentences_per_s"] > 0 for r in rows[1:])
    assert all(r["cpu_ms_per_sentence"] > 0 for r in rows)
    # The device and compute type it ran with (CTranslate2's name for the engine's default: int8_float32 on CPU).
    assert rows[0]["device"] == "cpu" and rows[0]["compute_type"].startswith("int8")


def test_raw_rows_with_the_given_compute_type() -> None:
    sentences = [s for s, _ in BUILTIN_EN_DE]
    rows = raw_ctranslate2(
        MODELS / "en-de", sentences, [8], inter=1, intra=1, beam=1, latency_sentences=2, device="cpu",
        compute_type="float32",
    )  # fmt: skip
    assert rows[0]["compute_type"] == "float32" and rows[1]["sentences_per_s"] > 0


def test_each_server_figure_against_its_raw_reference() -> None:
    rows: list[dict[str, Any]] = [
        {"mode": "rest", "concurrency": 1, "batch": 1, "sentences_per_s": 150.0, "latency_ms": _latency(6.5, 9.0)},
        {
            "mode": "rest",
            "concurrency": 16,
            "batch": 1,
            "sentences_per_s": 450.0,
            "latency_ms": _latency(30, 60),
            "server_cpu_ms_per_sentence": 4.0,
        },
        {"mode": "stream", "streams": 16, "wpm": 0.0, "sentences_per_s": 400.0, "final_ms": _latency(90, 200)},
        {"mode": "stream", "streams": 16, "wpm": 150.0, "sentences_per_s": 2.0, "final_ms": _latency(8, 16)},
        {"mode": "baseline-latency", "latency_ms": _latency(5.0, 8.0)},
        {"mode": "baseline", "batch": 8, "sentences_per_s": 400.0},
        {"mode": "baseline", "batch": 16, "sentences_per_s": 500.0, "cpu_ms_per_sentence": 3.0},
    ]
    add_vs_raw(rows)
    assert rows[0]["vs_raw"] == {"raw_p50_ms": 5.0, "p50_ratio": 1.3, "p50_over_raw_ms": 1.5}
    assert rows[1]["vs_raw"] == {
        "raw_best_sentences_per_s": 500.0,
        "raw_best_batch": 16,
        "throughput_ratio": 0.9,
        # raw best needs 3 ms of CPU per sentence where the server spent 4
        "raw_best_cpu_ms_per_sentence": 3.0,
        "cpu_ratio": 0.75,
    }
    assert rows[2]["vs_raw"] == {"raw_best_sentences_per_s": 500.0, "raw_best_batch": 16, "throughput_ratio": 0.8}
    assert rows[3]["vs_raw"] == {"raw_p99_ms": 8.0, "final_p99_ratio": 2.0}
    assert all("vs_raw" not in r for r in rows[4:])


def test_without_raw_rows_there_are_no_ratios() -> None:
    rows: list[dict[str, Any]] = [{"mode": "rest", "concurrency": 1, "latency_ms": _latency(6.5, 9.0)}]
    add_vs_raw(rows)
    assert "vs_raw" not in rows[0]


def test_partials_cost_per_update() -> None:
    on = {"streams": 16, "wpm": 150.0, "server_cpu_s": 3.0, "partials_received": 500, "final_ms": _latency(9, 20)}
    off = {"streams": 16, "wpm": 150.0, "server_cpu_s": 1.0, "partials_received": 0, "final_ms": _latency(8, 15)}
    row = partials_cost(on, off)
    assert row["cpu_ms_per_update"] == 4.0 and row["partial_updates"] == 500
    assert row["final_ms"]["with_partials"]["p99"] == 20 and row["final_ms"]["finals_only"]["p99"] == 15
    assert partials_cost({**on, "server_cpu_s": None}, off)["cpu_ms_per_update"] is None
