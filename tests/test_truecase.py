"""The truecaser: counting written forms, building the table, restoring capitals, the table file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from translator.truecase import Truecaser, build, count_forms, is_all_caps, is_lowercase_text

TEXT = [
    "Ein Mann fährt mit dem Fahrrad.",
    "Der Mann und die Frau essen.",
    "Eine Frau sieht den Mann. Mann! Das Leben ist schön.",
    "Wir leben in Berlin und essen dort.",
    "„Fahrrad“ ist ein Wort; Frau Müller fährt Fahrrad.",
]


def test_counts_forms_where_case_is_not_positional() -> None:
    counts = count_forms(TEXT)
    # "Ein", "Der", "Eine", "Das" start sentences, "Mann" after "Mann." and "„Fahrrad" after a quote.
    assert counts["Ein"] == counts["Der"] == counts["Eine"] == 0
    assert counts["Mann"] == 3
    assert counts["Fahrrad"] == 2
    assert counts["leben"] == 1 and counts["Leben"] == 1
    assert counts["essen"] == 2


def test_builds_only_words_whose_best_form_has_capitals() -> None:
    truecaser = build(count_forms(TEXT), min_count=1, min_share=0.6)
    assert truecaser.table["mann"] == "Mann"
    assert truecaser.table["müller"] == "Müller"
    assert "essen" not in truecaser.table  # only ever lowercase here
    assert "leben" not in truecaser.table  # half and half: below the share
    assert build(count_forms(TEXT), min_count=4).table.get("mann") is None


def test_restores_capitals_of_lowercase_words_only() -> None:
    truecaser = Truecaser({"mann": "Mann", "fahrrad": "Fahrrad", "e-mail": "E-Mail"})
    assert truecaser.case("ein mann fährt fahrrad, 3 mal.") == "ein Mann fährt Fahrrad, 3 mal."
    assert truecaser.case("MANN und Mann und mann") == "MANN und Mann und Mann"
    assert truecaser.case("eine e-mail") == "eine E-Mail"
    assert Truecaser({}).case("ein mann") == "ein mann"


def test_restores_uncased_text_and_leaves_cased_text() -> None:
    truecaser = Truecaser({"mann": "Mann", "fahrrad": "Fahrrad", "berlin": "Berlin"})
    assert truecaser.restore("Ein mann fährt fahrrad") == "Ein Mann fährt Fahrrad"
    assert truecaser.restore("EIN MANN FÄHRT IN BERLIN FAHRRAD.") == "Ein Mann fährt in Berlin Fahrrad."
    assert truecaser.restore("„EIN MANN!“") == "„Ein Mann!“"
    assert truecaser.restore("Ein Mann fährt fahrrad") == "Ein Mann fährt fahrrad"  # written with case
    assert truecaser.restore("NASA") == "NASA" and truecaser.restore("Die NASA baut") == "Die NASA baut"


@given(st.text())
def test_changes_nothing_but_letter_case(text: str) -> None:
    truecaser = Truecaser({"mann": "Mann", "a": "A"})
    for cased in (truecaser.case(text), truecaser.restore(text)):
        assert cased.lower() == text.lower() and len(cased) == len(text)


def test_lowercase_text_is_what_it_is_for() -> None:
    assert is_lowercase_text("ein mann fährt")
    assert is_lowercase_text("Ein mann fährt.")  # the capital a segment gets for the model
    assert not is_lowercase_text("Ein Mann fährt.")
    assert not is_lowercase_text("123 ...")
    assert is_all_caps("A MAN IS RIDING.") and not is_all_caps("NASA") and not is_all_caps("A MAN is riding")


def test_table_file_round_trip_and_errors(tmp_path: Path) -> None:
    truecaser = build(Counter({"Mann": 5, "Berlin": 3, "essen": 4}))
    path = tmp_path / "truecase.de.tsv.gz"
    truecaser.save(path)
    assert Truecaser.load(path) == truecaser == Truecaser({"berlin": "Berlin", "mann": "Mann"})
    bad = tmp_path / "bad.tsv"
    bad.write_text("mann\tFrau\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:1"):
        Truecaser.load(bad)
