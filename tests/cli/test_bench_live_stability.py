"""`translator bench --stability` against a real server (cache off, as the measurement needs)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import Server
from translator.cli.bench_live_stability import run_stability
from translator.engine.corpus import BUILTIN_EN_DE

PYTHON_BENCH = [sys.executable, "-m", "translator", "bench"]


@pytest.fixture(scope="module")
def uncached() -> Iterator[Server]:
    srv = Server("--cache-size", "0")
    yield srv
    srv.stop()


async def test_stability_report(uncached: Server) -> None:
    corpus: list[tuple[str, str | None]] = [(s, r) for s, r in BUILTIN_EN_DE]
    row = await run_stability(uncached.http, "en", "de", corpus, streams=2, per_stream=3, timeout=60)
    assert row["sentences"] == 6 and row["errors"] == 0
    assert row["ne_stable"] == 0  # the promise, at word level, as a client sees it
    assert 0 <= row["ne_display"] < 1.5 and row["laal_display"] <= row["laal_stable"] + 1e-9
    assert row["updates_per_sentence"] >= 5
    assert 0 <= row["identical_to_offline"] <= 1 and row["bleu_offline"] > 0
    assert row["final_ms"]["p50"] is not None


def test_cli_stability_json(uncached: Server) -> None:
    proc = subprocess.run(
        [*PYTHON_BENCH, "--url", uncached.http, "--stability", "1", "--sentences", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)
    assert row["mode"] == "stability" and row["sentences"] == 2
