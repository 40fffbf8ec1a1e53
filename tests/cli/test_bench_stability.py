from __future__ import annotations

from translator.cli.bench_stability import measure, simulate
from translator.engine.engine import Engine
from translator.text import erased

SENTENCES = [
    "A man is riding a bicycle down the street.",
    "Two dogs are playing in the snow.",
    "A woman in a red dress is reading a book.",
    "Children play. Their parents watch.",
]


def test_erased_counts_words_taken_back() -> None:
    assert erased("", "Ein Mann") == 0
    assert erased("Ein Mann", "Ein Mann fährt") == 0
    assert erased("Ein Mann fährt", "Ein Mann läuft schnell") == 1
    assert erased("Ein Hund", "Zwei Hunde") == 2


def test_streamed_finals_start_with_what_was_stable(en_de: Engine) -> None:
    streamed, stats = simulate(en_de, SENTENCES, "en", "de")
    assert len(streamed) == len(SENTENCES) and all(streamed)
    assert stats["partials_per_sentence"] >= 3
    assert 0 <= stats["stable_before_end"] <= 1
    assert stats["normalized_erasure"] >= 0


def test_measure_reports_both_ways(en_de: Engine) -> None:
    result = measure(en_de, SENTENCES, SENTENCES, "en", "de")
    assert result.sentences == 4
    assert 0 <= result.bleu_streamed <= 100 and 0 <= result.bleu_whole <= 100
    assert 0 <= result.identical_to_whole <= 1
