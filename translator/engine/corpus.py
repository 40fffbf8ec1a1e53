"""Parallel text on disk: reading line files (plain or gzip) and finding the shared data sets.

The data sets live in ``../shared/data`` next to the checkout (see its ``SOURCES.md``); the evaluation,
the benchmarks, the training recipe and the tests all find them here.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
MULTI30K_TEST = "test_2016_flickr"

# A few English-German pairs for the benchmarks when the shared data is not there (a bare install).
BUILTIN_EN_DE = [
    ("Good morning, everyone.", "Guten Morgen zusammen."),
    ("A man is riding a bicycle down the street.", "Ein Mann fährt mit dem Fahrrad die Straße entlang."),
    ("Two dogs are playing in the snow.", "Zwei Hunde spielen im Schnee."),
    ("Where is the train station?", "Wo ist der Bahnhof?"),
    ("The weather is nice today.", "Das Wetter ist heute schön."),
    ("A woman in a red dress is reading a book.", "Eine Frau in einem roten Kleid liest ein Buch."),
    ("Thank you very much for coming.", "Vielen Dank, dass Sie gekommen sind."),
    ("Children are playing in the park near the river.", "Kinder spielen im Park am Fluss."),
]


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file, ``.gz`` or plain, without their line ends."""
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return [line.rstrip("\r\n") for line in handle]
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\r\n") for line in handle]


def read_pairs(source_path: Path, target_path: Path) -> list[tuple[str, str]]:
    """Line-aligned source and target files as pairs (ValueError when their lengths differ)."""
    return list(zip(read_lines(source_path), read_lines(target_path), strict=True))


def multi30k(split: str, language: str, data: Path = SHARED_DATA) -> Path:
    """One Multi30k file: ``split`` is ``train``, ``val`` or ``test_2016_flickr``."""
    return data / "multi30k" / f"{split}.{language}.gz"


def multi30k_test(source: str, target: str, data: Path = SHARED_DATA) -> tuple[Path, Path]:
    """The Multi30k test2016 source and reference files of a pair (they may not exist)."""
    return multi30k(MULTI30K_TEST, source, data), multi30k(MULTI30K_TEST, target, data)


def multi30k_test_pairs(source: str, target: str, data: Path = SHARED_DATA) -> list[tuple[str, str]] | None:
    """The Multi30k test2016 pairs of a pair of languages; None when the files are not there."""
    src, ref = multi30k_test(source, target, data)
    if not src.exists() or not ref.exists():
        return None
    return read_pairs(src, ref)


def benchmark_pairs(source: str, target: str, data: Path = SHARED_DATA) -> list[tuple[str, str | None]]:
    """What the benchmarks translate when given no file: the Multi30k test2016 pairs when the shared data is
    there, else the built-in English-German pairs in the pair's direction (English sentences without
    references for any other pair)."""
    pairs = multi30k_test_pairs(source, target, data)
    if pairs is not None:
        return list(pairs)
    if (source, target) == ("en", "de"):
        return list(BUILTIN_EN_DE)
    if (source, target) == ("de", "en"):
        return [(de, en) for en, de in BUILTIN_EN_DE]
    return [(en, None) for en, _ in BUILTIN_EN_DE]


def cycled(items: list[str], count: int) -> list[str]:
    """``count`` items, repeating ``items`` from the start as often as needed (a speed benchmark's workload)."""
    if not items:
        raise ValueError("no sentences to repeat")
    return (items * math.ceil(count / len(items)))[:count]


def news_dev(source: str, target: str, data: Path = SHARED_DATA) -> tuple[Path, Path]:
    """newstest2020 for a direction (``general/dev.*`` is the en→de set, ``general/dev_deen.*`` de→en)."""
    stem = "dev" if (source, target) == ("en", "de") else "dev_deen"
    return data / "general" / f"{stem}.{source}.gz", data / "general" / f"{stem}.{target}.gz"


def bcontrast_test(source: str, target: str, data: Path = SHARED_DATA) -> tuple[Path, Path]:
    """BConTrasT test1 (customer-agent dialogue, both directions; a public test set: report, never tune)."""
    return data / "general" / f"test_bcontrast.{source}.gz", data / "general" / f"test_bcontrast.{target}.gz"
