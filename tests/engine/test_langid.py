"""Language identification on dev snippets (Multi30k val, newstest2020 dev): accuracy thresholds, and an honest
"undetermined" for text no model serves or too little text."""

from __future__ import annotations

import random

import pytest

from translator.engine.corpus import SHARED_DATA, read_lines
from translator.engine.langid import UNDETERMINED, LanguageIdentifier


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier(["en", "de"])


def dev(language: str) -> list[str]:
    files = [SHARED_DATA / "multi30k" / f"val.{language}.gz", SHARED_DATA / "general" / f"dev.{language}.gz"]
    if not all(f.exists() for f in files):
        pytest.skip("the dev data (../shared/data) is not there")
    return [line for f in files for line in read_lines(f) if line.strip()]


def snippets(lines: list[str], words: int | None, count: int = 200) -> list[str]:
    rng = random.Random(words or 0)
    out = []
    for line in rng.sample(lines, count):
        tokens = line.split()
        start = rng.randrange(max(1, len(tokens) - (words or len(tokens)) + 1))
        out.append(" ".join(tokens[start : start + words] if words else tokens))
    return out


@pytest.mark.parametrize(
    ("words", "answered", "accuracy"),
    [(None, 0.98, 0.99), (5, 0.9, 0.99), (3, 0.75, 0.98), (2, 0.5, 0.97)],
    ids=["sentence", "5 words", "3 words", "2 words"],
)
def test_accuracy_on_dev_snippets(
    identifier: LanguageIdentifier, words: int | None, answered: float, accuracy: float
) -> None:
    results = [(lang, identifier.detect(t)) for lang in ("en", "de") for t in snippets(dev(lang), words)]
    known = [(lang, d) for lang, d in results if d.known]
    assert len(known) / len(results) >= answered
    assert sum(d.language == lang for lang, d in known) / len(known) >= accuracy
    assert all(0.8 <= d.confidence <= 1.0 for _, d in known)


def test_text_no_model_serves_is_undetermined(identifier: LanguageIdentifier) -> None:
    path = SHARED_DATA / "multi30k" / "val.fr.gz"
    if not path.exists():
        pytest.skip("the dev data (../shared/data) is not there")
    for words in (None, 5, 3):
        french = snippets(read_lines(path), words)
        assert sum(identifier.detect(t).known for t in french) / len(french) <= 0.05, words


def test_too_little_text(identifier: LanguageIdentifier) -> None:
    for text in ("", "   ", "😀👍", "https://example.org/a/b", "42", "a"):
        detection = identifier.detect(text)
        assert detection.language == UNDETERMINED and detection.confidence == 0.0, text
    assert identifier.detect("Two dogs are playing in the snow.").language == "en"
    assert identifier.detect("Zwei Hunde spielen im Schnee.").language == "de"


def test_candidates_are_the_served_languages_best_first(identifier: LanguageIdentifier) -> None:
    detection = identifier.detect("Ein Mann fährt Fahrrad.")
    assert [lang for lang, _ in detection.candidates] == ["de", "en"]
    assert detection.candidates[0][1] == detection.confidence
    assert abs(sum(c for _, c in detection.candidates) - 1.0) < 1e-6
    only = LanguageIdentifier(["de", "xx"])
    assert only.languages == ("de",) and only.unsupported == ("xx",)
    assert only.detect("A man is riding a bicycle down the street.").language == UNDETERMINED
    assert only.detect("Ein Mann fährt Fahrrad die Straße hinunter.").language == "de"
