from translator.segment import split_sentences


def test_splits_on_sentence_punctuation() -> None:
    assert split_sentences("A man walks. A dog runs! Where? Here.") == [
        "A man walks.",
        "A dog runs!",
        "Where?",
        "Here.",
    ]


def test_line_breaks_end_sentences() -> None:
    assert split_sentences("first line\nsecond line\n\nthird") == ["first line", "second line", "third"]


def test_keeps_abbreviations_initials_and_numbers_together() -> None:
    assert split_sentences("Dr. Smith met J. Doe at 3.5 km. Then they left.") == [
        "Dr. Smith met J. Doe at 3.5 km.",
        "Then they left.",
    ]
    assert split_sentences("Wir treffen uns z.B. am 3. Mai. Gut.") == ["Wir treffen uns z.B. am 3. Mai.", "Gut."]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert split_sentences('He said "Stop!" Then he ran.') == ['He said "Stop!"', "Then he ran."]


def test_lowercase_continuation_is_not_a_boundary() -> None:
    assert split_sentences("Wait... and then it rained.") == ["Wait... and then it rained."]


def test_empty_and_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\t ") == []


def test_no_text_is_lost() -> None:
    text = "One. Two!  Three?\nFour … five. Six"
    assert " ".join(split_sentences(text)).split() == text.split()
