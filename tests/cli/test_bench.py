"""`translator bench` against a real server: it must produce sane numbers (not fast ones)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import MODELS, Server
from translator.cli.bench import run_rest, run_streams
from translator.cli.common import percentiles
from translator.engine.corpus import BUILTIN_EN_DE


def test_percentiles() -> None:
    assert percentiles([]) == {"p50": None, "p90": None, "p99": None, "max": None}
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == {"p50": 50.5, "p90": 91.0, "p99": 100.0, "max": 100.0}


async def test_streams_report(server: Server) -> None:
    corpus: list[tuple[str, str | None]] = [(s, r) for s, r in BUILTIN_EN_DE]
    report = await run_streams(server.http, "en", "de", corpus, streams=3, per_stream=2, wpm=400, timeout=120)
    assert report["sentences"] == 6 and report["errors"] == 0
    assert report["final_ms"]["p50"] is not None and report["final_ms"]["p50"] >= 0
    assert report["first_partial_ms"]["p50"] is not None
    assert report["bleu"] is not None and 0 <= report["bleu"] <= 100
    assert report["normalized_erasure"] >= 0 and report["sentences_per_s"] > 0


async def test_rest_report(server: Server) -> None:
    corpus: list[tuple[str, str | None]] = [(s, None) for s, _ in BUILTIN_EN_DE]
    report = await run_rest(server.http, "en", "de", corpus, concurrency=2, batch=3, requests_per_client=3)
    assert report["requests"] == 6 and report["errors"] == 0
    assert report["latency_ms"]["p99"] is not None


def test_cli_json_with_baseline(server: Server) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "translator",
            "bench",
            "--url",
            server.http,
            "--streams",
            "2",
            "--sentences",
            "2",
            "--wpm",
            "0",
            "--rest",
            "2,1",
            "--requests",
            "4",
            "--baseline",
            "--baseline-batches",
            "1,4",
            "--baseline-sentences",
            "16",
            "--models",
            str(MODELS),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    modes = ["stream", "rest", "rest", "baseline-latency", "baseline", "baseline", "baseline-inflight", "rest-paired"]
    assert [r["mode"] for r in rows] == modes
    assert all(r["sentences_per_s"] > 0 for r in rows if "sentences_per_s" in r)
    assert rows[3]["latency_ms"]["p50"] > 0 and rows[3]["inter_threads"] == 2  # the server's default threads
    # Each server figure as a ratio of raw CTranslate2 from the same run (flat-out streams, REST at c=2:
    # against the best raw batch).
    assert rows[0]["vs_raw"]["throughput_ratio"] > 0 and rows[1]["vs_raw"]["throughput_ratio"] > 0
    # ... and per sentence of CPU: the server's (from /metrics) against raw best's, beside the bench's own.
    assert rows[0]["vs_raw"]["cpu_ratio"] > 0 and rows[1]["vs_raw"]["cpu_ratio"] > 0
    assert all(r["client_cpu_ms_per_sentence"] > 0 for r in rows[:3])
    best = max(rows[4:6], key=lambda r: r["sentences_per_s"])
    assert rows[1]["vs_raw"]["raw_best_batch"] == best["batch"]
    # REST at c=2 also against raw CTranslate2 with 2 sentences in flight (flat-out streams have no such row).
    assert rows[6]["in_flight"] == 2 and rows[6]["sentences_per_s"] > 0
    assert rows[1]["vs_raw"]["raw_in_flight_sentences_per_s"] == rows[6]["sentences_per_s"]
    assert rows[1]["vs_raw"]["in_flight_ratio"] > 0 and "in_flight_ratio" not in rows[0]["vs_raw"]
    # A lone REST client against raw single-sentence latency, and the same paired sentence by sentence.
    assert rows[2]["concurrency"] == 1 and rows[2]["vs_raw"]["p50_ratio"] > 0
    paired = rows[7]
    assert paired["sentences"] == 4 and paired["rest_latency_ms"]["p50"] > 0 and paired["raw_latency_ms"]["p50"] > 0
    assert paired["over_raw_ms"]["p50"] is not None


def test_cli_needs_something_to_measure() -> None:
    proc = subprocess.run([sys.executable, "-m", "translator", "bench"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--streams" in proc.stderr
