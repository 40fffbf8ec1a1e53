"""Finding and reading the shared data sets (translator.engine.corpus)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from translator.engine.corpus import BUILTIN_EN_DE, benchmark_pairs, cycled, multi30k_test, read_pairs


def _write_gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def test_benchmark_pairs_prefer_multi30k_when_the_data_is_there(tmp_path: Path) -> None:
    src, ref = multi30k_test("de", "en", tmp_path)
    _write_gz(src, ["Ein Hund läuft.", "Zwei Katzen schlafen."])
    _write_gz(ref, ["A dog runs.", "Two cats sleep."])
    assert benchmark_pairs("de", "en", tmp_path) == [
        ("Ein Hund läuft.", "A dog runs."),
        ("Zwei Katzen schlafen.", "Two cats sleep."),
    ]


def test_benchmark_pairs_fall_back_to_the_built_in_pairs_in_the_pair_direction(tmp_path: Path) -> None:
    assert benchmark_pairs("en", "de", tmp_path) == BUILTIN_EN_DE
    assert benchmark_pairs("de", "en", tmp_path) == [(de, en) for en, de in BUILTIN_EN_DE]
    other = benchmark_pairs("en", "fr", tmp_path)
    assert [s for s, _ in other] == [en for en, _ in BUILTIN_EN_DE]
    assert all(ref is None for _, ref in other)


def test_cycled_repeats_from_the_start_and_refuses_nothing_to_repeat() -> None:
    assert cycled(["a", "b", "c"], 7) == ["a", "b", "c", "a", "b", "c", "a"]
    assert cycled(["a", "b", "c"], 2) == ["a", "b"]
    with pytest.raises(ValueError, match="no sentences"):
        cycled([], 3)


def test_read_pairs_refuses_files_of_different_lengths(tmp_path: Path) -> None:
    _write_gz(tmp_path / "a.gz", ["one", "two"])
    _write_gz(tmp_path / "b.gz", ["eins"])
    with pytest.raises(ValueError):
        read_pairs(tmp_path / "a.gz", tmp_path / "b.gz")
