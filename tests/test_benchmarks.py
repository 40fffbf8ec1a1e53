"""The prepared benchmarks beside the code, run with tiny sizes: the GPU diagnosis (benchmarks/cuda_diagnose.py) on
the CPU, and the HTTP floor (benchmarks/http_floor.py) on loopback."""

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
