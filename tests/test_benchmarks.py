"""The prepared benchmarks beside the code, run with tiny sizes: the GPU diagnosis (benchmarks/cuda_diagnose.py) on
the CPU, the HTTP floor (benchmarks/http_floor.py) on loopback, and a lone request's costs by server thread and
by layer (benchmarks/request_costs.py) against a real server and the shipped model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cuda_diagnosis_runs_on_the_cpu() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "cuda_diagnose.py"), "--device", "cpu"]
    command += ["--batch", "2", "--batches", "2", "--inter", "1,2", "--beam", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["inter_threads"] for line in lines] == [1, 2]
    for line in lines:
        assert line["device"] == "cpu" and line["create_ms"] > 0 and line["first_sentence_ms"] > 0
        for kind in ("plain", "prefix", "alternatives"):
            assert len(line[kind]["cold_ms"]) == len(line[kind]["warm_ms"]) == 2
            assert all(ms > 0 for ms in line[kind]["cold_ms"] + line[kind]["warm_ms"])
        assert len(line["parallel_two_batches_ms"]) == 1


def test_http_floor_times_both_endpoints_of_a_real_server() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "http_floor.py"), "--requests", "5", "--gap-ms", "1"]
    done = subprocess.run([*command, "--rounds", "1"], capture_output=True, text=True, timeout=120, check=True)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["endpoint"] for line in lines] == ["echo", "hop"]
    for line in lines:
        times = line["round_trip_ms"]
        assert line["requests"] == 5 and 0 < times["p50"] <= times["p90"] <= times["p99"]


def test_request_costs_splits_a_real_servers_cpu_by_thread_and_times_the_layers(tmp_path: Path) -> None:
    sentences = tmp_path / "sentences.en"
    sentences.write_text("".join(f"A man number {i} is riding a bike.\n" for i in range(20)), encoding="utf-8")
    command = [sys.executable, str(ROOT / "benchmarks" / "request_costs.py"), "--requests", "20"]
    done = subprocess.run([*command, "--sentences", str(sentences)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    threads, layers = (json.loads(line) for line in done.stdout.splitlines())
    assert threads["part"] == "server_cpu_ms_per_request" and threads["requests"] == 20
    # The model's threads do the translating; the event loop and the named workers spend a little on each.
    assert threads["model_and_other"] > threads["event_loop"] > 0 and threads["workers"] > 0
    assert threads["raw_ctranslate2_cpu_ms_per_sentence"] > 0 and threads["client_cpu_ms_per_request"] > 0
    assert layers["part"] == "layers_wall_ms" and layers["sentences"] == 10  # the first ten warm up
    assert 0 < layers["raw_p50"] and 0 < layers["engine_p50"] and 0 < layers["service_p50"]
    assert "engine_minus_raw_p50" in layers and "service_minus_raw_p50" in layers
