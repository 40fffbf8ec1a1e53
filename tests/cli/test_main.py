"""The `translator` command, run as users run it: a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS
from translator.engine.corpus import SHARED_DATA
from translator.engine.engine import resolve_compute_type, resolve_device


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "translator", *args], input=stdin, capture_output=True, timeout=300)


def test_translates_arguments() -> None:
    proc = run("translate", "--source", "en", "--target", "de", "A man is riding a bicycle.", "A dog runs.")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 2 and all(lines)
    assert lines[0] != "A man is riding a bicycle."


def test_stdin_gives_one_line_per_line_in_order() -> None:
    text = "A man is riding a bicycle.\n\nTwo dogs play in the snow.\r\nA woman reads a book. She smiles.\n"
    proc = run("translate", "-s", "en", "-t", "de", stdin=text.encode())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().split("\n")
    assert lines[-1] == ""  # ends with a newline
    lines = lines[:-1]
    assert len(lines) == 4
    assert lines[1] == ""
    assert all(lines[i] for i in (0, 2, 3))
    # The same sentence alone gives the same line.
    alone = run("translate", "-s", "en", "-t", "de", "Two dogs play in the snow.")
    assert alone.stdout.decode().strip() == lines[2]


def test_unknown_pair_is_a_usage_error() -> None:
    proc = run("translate", "--source", "en", "--target", "xx", "Hello.")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "en->xx" in err and "en->de" in err and "de->en" in err
    assert proc.stdout == b""


def test_non_utf8_stdin_is_a_clear_error_after_the_good_lines() -> None:
    proc = run("translate", "-s", "en", "-t", "de", stdin=b"A man is riding a bicycle.\n\xff\xfe broken\nmore\n")
    assert proc.returncode == 1
    assert len(proc.stdout.decode().splitlines()) == 1
    assert "line 2" in proc.stderr.decode() and "UTF-8" in proc.stderr.decode()


def test_models_list() -> None:
    proc = run("models", "list", "--models", str(MODELS))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "en->de" in out and "de->en" in out and "int8" in out
    data = json.loads(run("models", "list", "--models", str(MODELS), "--json").stdout)
    sizes = {m["name"]: m["size_mb"] for m in data["models"]}
    assert set(sizes) >= {"en-de", "de-en"}
    assert all(0 < size < 60 for size in sizes.values())


def test_models_eval_on_a_file(tmp_path: Path) -> None:
    src, ref = tmp_path / "src.en", tmp_path / "ref.de"
    src.write_text("A man is riding a bicycle.\nA dog runs through the grass.\n")
    ref.write_text("Ein Mann fährt Fahrrad.\nEin Hund rennt durch das Gras.\n")
    out = tmp_path / "hyp.de"
    proc = run(
        "models", "eval", "-s", "en", "-t", "de", "--src-file", str(src), "--ref-file", str(ref), "--output", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    # The default compute type follows the device: int8 on CPU, int8_float16 on CUDA.
    assert report["sentences"] == 2
    assert report["compute_type"] == resolve_compute_type(resolve_device("auto"), None)
    assert 0 <= report["bleu"] <= 100 and report["chrf"] > 0
    assert len(out.read_text().splitlines()) == 2
    mismatched = tmp_path / "short.de"
    mismatched.write_text("Nur eine Zeile.\n")
    bad = run("models", "eval", "-s", "en", "-t", "de", "--src-file", str(src), "--ref-file", str(mismatched))
    assert bad.returncode == 1 and b"reference lines" in bad.stderr


def test_models_stability_on_a_file(tmp_path: Path) -> None:
    src, ref = tmp_path / "src.en", tmp_path / "ref.de"
    src.write_text("A man is riding a bicycle down the street.\nTwo dogs are playing in the snow.\n")
    ref.write_text("Ein Mann fährt mit dem Fahrrad die Straße entlang.\nZwei Hunde spielen im Schnee.\n")
    proc = run("models", "stability", "-s", "en", "-t", "de", "--src-file", str(src), "--ref-file", str(ref), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["sentences"] == 2 and report["updates_per_sentence"] > 0
    assert set(report) >= {
        "bleu_offline",
        "bleu_finals",
        "ne_display",
        "ne_stable",
        "laal_display",
        "stable_before_end",
    }
    half = run("models", "stability", "-s", "en", "-t", "de", "--src-file", str(src))
    assert half.returncode == 2 and b"--ref-file" in half.stderr


@pytest.mark.skipif(not (SHARED_DATA / "multi30k").is_dir(), reason="../shared/data is not present")
def test_models_bench_prints_numbers() -> None:
    proc = run(
        "models",
        "bench",
        "-s",
        "en",
        "-t",
        "de",
        "--sentences",
        "16",
        "--batch-sizes",
        "1,8",
        "--threads",
        "1x1",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["batch_size"] for r in rows] == [1, 8]
    assert all(r["sentences_per_second"] > 0 for r in rows)
    assert rows[0]["latency_p50_ms"] > 0


@pytest.mark.skipif(not (SHARED_DATA / "multi30k").is_dir(), reason="../shared/data is not present")
def test_models_bench_finals_prints_each_fallback() -> None:
    proc = run(
        "models", "bench", "-s", "en", "-t", "de", "--finals", "--sentences", "6", "--final-gap-ms", "0",
        "--inter-threads", "2", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["stable"], r["fallback"]) for r in rows] == [
        ("kept", "beside"), ("kept", "after"), ("contradicted", "beside"), ("contradicted", "after"),
    ]  # fmt: skip
    assert all(r["finals"] == 6 and 0 < r["ms"]["p50"] <= r["ms"]["max"] for r in rows)
    # The first half of a sentence's own offline translation is kept; where to decode the fallback changes
    # the time only, not which finals keep their stable text.
    assert rows[0]["kept_stable"] == rows[1]["kept_stable"] == 6
    assert rows[2]["kept_stable"] == rows[3]["kept_stable"] < 6


def test_serve_refuses_bad_configuration(tmp_path: Path) -> None:
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "translator", "serve"],
        env={**os.environ, "TRANSLATOR_PORT": "eighty"},
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 2 and b"TRANSLATOR_PORT" in proc.stderr
    empty = run("serve", "--port", "0", "--models", str(tmp_path))
    assert empty.returncode != 0
    assert b"no models found" in empty.stdout + empty.stderr


def test_version_and_help() -> None:
    assert run("--version").stdout.decode().startswith("translator ")
    assert run("translate", "--help").returncode == 0
