"""translator.align: where a source position goes in a translation, and the atoms never translated."""

from __future__ import annotations

from translator.align import atom_ranges, boundary_map, find_run, tokens


def test_tokens_split_words_and_punctuation() -> None:
    assert tokens("Hello, it's a well-known dog.") == ["Hello", ",", "it's", "a", "well-known", "dog", "."]


def test_same_words_anchor_and_the_rest_is_interpolated() -> None:
    source = tokens("I met Anna in Berlin yesterday")
    target = tokens("Ich habe gestern Anna in Berlin getroffen")
    mapped = boundary_map(source, target)
    assert mapped(0) == 0 and mapped(len(source)) == len(target)
    assert mapped(2) == 3 and mapped(5) == 6  # before "Anna", after "Berlin"
    assert [mapped(b) for b in range(len(source) + 1)] == sorted(mapped(b) for b in range(len(source) + 1))


def test_find_run_prefers_the_nearest_and_accepts_half() -> None:
    target = ["der", "Hund", "und", "der", "Hund", "."]
    assert find_run(target, ["Der", "Hund"], near=3) == (3, 5)
    assert find_run(target, ["der", "Hund", "!"], near=0) == (0, 2)  # punctuation at its ends does not count
    assert find_run(target, ["die", "Katze"], near=0) is None
    assert find_run(target, ["und", "Katze"], near=0) == (2, 3)


def test_atoms() -> None:
    text = "Hi @bob@mastodon.social, see https://x.org/a?b=1. #cats 😀👍🏽 mail me@x.org"
    found = [text[a:b] for a, b in atom_ranges(text)]
    assert found == ["@bob@mastodon.social", "https://x.org/a?b=1", "#cats", "😀👍🏽", "me@x.org"]
    assert atom_ranges("A plain sentence, nothing else.") == []
