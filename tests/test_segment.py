from translator.segment import cut_complete, split_sentences


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


def test_cut_complete_waits_for_the_next_sentence() -> None:
    assert cut_complete("A man walks.") == ([], "A man walks.")
    assert cut_complete("A man walks. ") == ([], "A man walks. ")
    assert cut_complete("A man walks. The") == (["A man walks."], "The")
    assert cut_complete("One. Two! Three") == (["One.", "Two!"], "Three")
    assert cut_complete("Mr. Smith") == ([], "Mr. Smith")


def test_cut_complete_line_breaks_complete_everything_before_them() -> None:
    assert cut_complete("first line\nsecond. Third\n") == (["first line", "second.", "Third"], "")
    assert cut_complete("a\r\n\nb") == (["a"], "b")
    assert cut_complete("\n\n") == ([], "")


def test_cut_complete_is_consistent_with_split_sentences() -> None:
    text = "Hello there. How are you?\nFine, thanks! And you"
    complete, rest = cut_complete(text)
    assert complete + split_sentences(rest) == split_sentences(text)
