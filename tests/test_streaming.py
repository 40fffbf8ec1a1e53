"""The pure streaming state machine, driven by a deterministic stand-in translation function.

The stand-in is not a model: it lets these tests check the bookkeeping (numbering, ordering,
prefix guarantees) exactly. The real model is exercised end to end in tests/server/test_stream.py.
"""

from __future__ import annotations

import random

import pytest

from tests.conftest import check_state_guarantees as check_guarantees
from tests.conftest import fake_translate
from translator.decoding import Hypotheses, Prefix
from translator.protocol import ClientMessage, Final, Partial
from translator.segment import model_input
from translator.streaming import FinalJob, PartialJob, StabilityPolicy, StreamState, translate_pending
from translator.text import keep_prefix


def fake_batch(sources: list[str], prefixes: list[str | None]) -> list[str]:
    return [fake_translate(source, prefix or "") for source, prefix in zip(sources, prefixes, strict=True)]


def drive(state: StreamState, messages: list[dict[str, object]]) -> None:
    """Translate everything the state asks for, as a server's worker does; the messages in their wire form."""
    messages.extend(message.to_dict() for message in translate_pending(state, fake_batch))


def fields(job: PartialJob | None) -> tuple[int, str, str] | None:
    return None if job is None else (job.segment, job.source, job.prefix)


def test_sentence_is_final_once_the_next_one_starts() -> None:
    state = StreamState()
    state.append("A man walks.")
    assert state.take_finals() == []
    state.append(" The")
    assert state.take_finals() == [FinalJob(0, "A man walks.", "", 0.0)]
    assert state.next_segment == 1
    assert state.open_text == "The"


def test_commit_finalizes_all_open_text() -> None:
    state = StreamState()
    state.append("Hello there")
    state.commit(now=5.0)
    assert state.take_finals() == [FinalJob(0, "Hello there", "", 5.0)]
    assert state.open_text == "" and state.next_segment == 1
    state.commit()
    assert state.take_finals() == []


def test_word_being_typed_is_held_back_from_partials() -> None:
    state = StreamState()
    state.append("A man is rid")
    assert fields(state.next_partial()) == (0, "A man is", "")
    state.append("i")
    assert state.next_partial() is None  # nothing new to translate
    state.append("ng ")
    assert fields(state.next_partial()) == (0, "A man is riding", "")


def test_replace_uses_the_whole_hypothesis() -> None:
    state = StreamState()
    state.replace("hello how are")
    assert fields(state.next_partial()) == (0, "hello how are", "")
    state.replace("hello how are you. I am")
    assert state.take_finals() == [FinalJob(0, "hello how are you.", "", 0.0)]
    assert fields(state.next_partial()) == (1, "I am", "")


def test_local_agreement_grows_the_stable_prefix() -> None:
    state = StreamState(policy=StabilityPolicy(display_agreed=False))
    state.append("a b c ")
    job = state.next_partial()
    assert job is not None
    first = state.partial_result(job, "A B C")
    assert first is not None and first.stable == "" and first.unstable == "A B C"
    state.append("d ")
    job = state.next_partial()
    assert job is not None
    second = state.partial_result(job, "A B X D")
    # "A B" agree and are followed by another word in both translations.
    assert second is not None and second.stable == "A B" and second.unstable == " X D"
    state.commit()
    final = state.take_finals()[0]
    assert final.prefix == "A B"


@pytest.mark.parametrize(("follow", "stable"), [("all", "A"), ("newest", "A B")])
def test_follow_says_which_hypotheses_must_go_on_after_a_stable_word(follow: str, stable: str) -> None:
    # A prefix translated as a prefix: each hypothesis ends where its source ends.
    state = StreamState(policy=StabilityPolicy(follow=follow))
    shown: list[str] = []
    for typed, translation in (("a b ", "A B"), ("c ", "A B C")):
        state.append(typed)
        job = state.next_partial()
        assert job is not None
        partial = state.partial_result(job, translation)
        assert partial is not None
        shown.append(partial.stable)
    # "B" ended the first hypothesis: with "newest" the second, which keeps it and goes on, settles it.
    assert shown == ["", stable]
    state.commit()
    assert state.take_finals()[0].prefix == stable


def test_follow_must_be_a_known_rule() -> None:
    with pytest.raises(ValueError, match="follow"):
        StabilityPolicy(follow="some")


def test_late_partial_for_a_finished_segment_is_dropped() -> None:
    state = StreamState()
    state.append("One two ")
    job = state.next_partial()
    assert job is not None
    state.append("three. Four")
    assert [f.segment for f in state.take_finals()] == [0]
    assert state.partial_result(job, "EINS ZWEI") is None


def test_older_partial_results_never_replace_newer_ones() -> None:
    state = StreamState()
    state.append("a b ")
    old = state.next_partial()
    state.append("c ")
    new = state.next_partial()
    assert old is not None and new is not None and new.version > old.version
    assert state.partial_result(new, "A B C") is not None
    assert state.partial_result(old, "A B") is None


def test_apply_dispatches_client_messages() -> None:
    state = StreamState()
    state.apply(ClientMessage("append", "One. Two"), now=1.0)
    state.apply(ClientMessage("ping"), now=2.0)  # the connection's business: no change
    assert state.open_text == "Two" and state.next_segment == 1
    state.apply(ClientMessage("replace", "Three four"), now=3.0)
    state.apply(ClientMessage("commit"), now=4.0)
    assert state.take_finals() == [FinalJob(0, "One.", "", 1.0), FinalJob(1, "Three four", "", 4.0)]


def test_has_work_says_what_is_due() -> None:
    state = StreamState()
    assert not state.has_work(partials=True)
    state.append("a b ")
    assert state.has_work(partials=True) and not state.has_work(partials=False)
    assert state.next_partial() is not None
    assert not state.has_work(partials=True)  # handed out: nothing new
    state.append("sees the cat. The dog ")
    assert state.has_work(partials=False)
    assert [job.segment for job in state.take_finals()] == [0]
    assert state.has_work(partials=True) and not state.has_work(partials=False)


def test_results_are_protocol_messages() -> None:
    state = StreamState(policy=StabilityPolicy(display_agreed=False))
    state.append("a b ")
    job = state.next_partial()
    assert job is not None
    assert state.partial_result(job, "A B") == Partial(0, "a b", "", "A B")
    final = StreamState.final_result(FinalJob(0, "a b", "A", 0.0), "X B", cached=True, latency_ms=12.34)
    assert final == Final(0, "a b", "A B", True, 12.34)
    assert final.to_dict()["latency_ms"] == 12.3
    failed = StreamState.final_result(FinalJob(1, "c", "C", 0.0), "C", failed=True)
    assert failed.to_dict()["failed"] is True


def test_translate_pending_sends_finals_before_the_partial() -> None:
    state = StreamState(policy=StabilityPolicy(display_agreed=False))
    state.append("One two. Three ", now=1.0)
    messages = list(translate_pending(state, fake_batch, clock=lambda: 1.5))
    # The partial's source has no sentence end, so neither has its translation ("?" stripped).
    assert messages == [Final(0, "One two.", "ONE TWO.?", False, 500.0), Partial(1, "Three", "", "THREE")]
    state.append("four ")
    assert list(translate_pending(state, fake_batch, partials=False)) == []
    assert not state.has_work(partials=False)


def test_keep_prefix_safety_net() -> None:
    assert keep_prefix("Ein Mann", "Ein Mann fährt.") == "Ein Mann fährt."
    assert keep_prefix("Ein Mann", "Eine Frau fährt.") == "Ein Mann fährt."
    assert keep_prefix("Ein Mann geht", "Ein") == "Ein Mann geht"
    assert keep_prefix("", "x") == "x"


def test_random_chunking_keeps_every_guarantee() -> None:
    paragraph = (
        "A man is riding a bicycle. Two dogs play in the snow! Where is the station? "
        "The weather is nice today. She said no."
    )
    sentences = [
        "A man is riding a bicycle.",
        "Two dogs play in the snow!",
        "Where is the station?",
        "The weather is nice today.",
        "She said no.",
    ]
    rng = random.Random(7)
    for n in range(50):
        state = StreamState(policy=StabilityPolicy(follow=("all", "newest")[n % 2]))
        messages: list[dict[str, object]] = []
        pos = 0
        while pos < len(paragraph):
            size = rng.randint(1, 12)
            state.append(paragraph[pos : pos + size])
            pos += size
            if rng.random() < 0.7:
                drive(state, messages)
        state.commit()
        drive(state, messages)
        check_guarantees(messages, sentences)


# Stability policy, segment cuts and revisions ----------------------------------------------------


def partial(state: StreamState, translation: str) -> Partial:
    job = state.next_partial()
    assert job is not None
    message = state.partial_result(job, translation)
    assert message is not None
    return message


def test_no_invented_sentence_end_in_a_partial() -> None:
    state = StreamState(policy=StabilityPolicy(display_agreed=False))
    state.append("a man is ")
    assert partial(state, "Ein Mann ist.").text == "Ein Mann ist"
    state.append("riding. ")  # the source ends a sentence now: so may the translation
    assert partial(state, "Ein Mann fährt.").text == "Ein Mann fährt."


def test_mask_holds_back_the_tail_of_an_unfinished_sentence() -> None:
    state = StreamState(policy=StabilityPolicy(mask=2, display_agreed=False))
    state.append("a b c d ")
    assert partial(state, "A B C D").text == "A B"
    state.append("e ")
    second = partial(state, "A B C D E")
    # "A B C D" agree; stable are those followed by another agreed word; the display never shows less.
    assert second.stable == "A B C" and second.text == "A B C"


def test_stable_text_grows_by_whole_words_and_the_final_keeps_them() -> None:
    state = StreamState(policy=StabilityPolicy(display_agreed=False))
    state.append("on the land ")
    partial(state, "auf dem Land und")
    state.append("and ")
    assert partial(state, "auf dem Land und dann").stable == "auf dem Land"
    state.commit()
    [job] = state.take_finals()
    # A translation that extends a stable word ("Land" -> "Lande") is cut back to the stable words.
    final = StreamState.final_result(job, "auf dem Lande und dann.")
    assert final.text.split()[:3] == ["auf", "dem", "Land"]
    assert StreamState.final_result(job, "auf dem Land und dann.").text == "auf dem Land und dann."


def test_hypotheses_that_contradict_the_stable_text_are_not_shown() -> None:
    state = StreamState(policy=StabilityPolicy(display_agreed=False))
    state.append("a b c ")
    partial(state, "A B C")
    state.append("d ")
    assert partial(state, "A B C D").stable == "A B"
    state.append("e ")
    shown = partial(state, "X Y Z W V")
    assert shown.stable == "A B" and shown.unstable == "" and state.contradictions == 1


def test_n_best_display_shows_what_the_hypotheses_share() -> None:
    state = StreamState(policy=StabilityPolicy(hypotheses=3, display_agreed=False))
    state.append("a b c ")
    assert partial(state, Hypotheses("A B C", ("A B C", "A B D", "A X"))).text == "A"


def test_final_jobs_ask_for_a_free_decoding_that_keeps_the_stable_words() -> None:
    state = StreamState()
    state.append("a b c ")
    partial(state, "A B C")
    state.append("d ")
    partial(state, "A B C D")
    state.commit()
    [job] = state.take_finals()
    assert isinstance(job.prefix, Prefix) and job.prefix == "A B" and job.prefix.free
    assert StreamState(policy=StabilityPolicy(free_final=False)).policy.final_prefix("A").free is False


def test_a_final_falls_back_to_the_last_partial_of_the_same_sentence() -> None:
    """A free final whose hypotheses all contradict the stable text may take the stream's last partial of
    the same model input (it starts with the stable words) instead of a forced decoding; only then."""
    state = StreamState()
    state.append("A man rides ")
    partial(state, "Ein Mann fährt")
    state.append("a bike. ")
    assert partial(state, "Ein Mann fährt Rad.").stable == "Ein Mann"
    state.append("Two ")  # the next sentence starts: the first is final
    [job] = state.take_finals()
    assert isinstance(job.prefix, Prefix) and job.prefix == "Ein Mann" and job.prefix.free
    assert job.prefix.fallback == "Ein Mann fährt Rad."  # as the model wrote it, sentence end included
    # A word came after the last partial: its hypothesis is not a translation of the final's input.
    state.append("dogs ")
    partial(state, "Zwei Hunde")
    state.append("run ")
    partial(state, "Zwei Hunde laufen")
    state.append("fast. ")
    state.commit()
    [job] = state.take_finals()
    assert job.prefix == "Zwei" and isinstance(job.prefix, Prefix) and job.prefix.fallback == ""
    # Off with the policy; a fallback that does not start with the stable words is never used.
    assert StabilityPolicy(partial_fallback=False).final_prefix("Ein Mann", "Ein Mann fährt.").fallback == ""
    assert StabilityPolicy().final_prefix("Ein Mann", "Eine Frau fährt.").fallback == ""
    assert StabilityPolicy().final_prefix("Ein Mann", "Ein Mann fährt.").fallback == "Ein Mann fährt."


def test_revisions_give_the_offline_translation_and_say_so() -> None:
    state = StreamState(policy=StabilityPolicy(display_agreed=False), revisions=True)
    state.append("a b c ")
    partial(state, "A B C")
    state.append("d ")
    partial(state, "A B C D")
    state.commit()
    [job] = state.take_finals()
    assert job.decoding is None  # translated whole, as offline
    revised = StreamState.final_result(job, "X B C D.")
    assert revised.text == "X B C D." and revised.revised and revised.to_dict()["revised"] is True
    kept = StreamState.final_result(job, "A B C D.")
    assert not kept.revised and "revised" not in kept.to_dict()


def test_a_pause_ends_the_open_segment() -> None:
    state = StreamState()
    assert state.pause_deadline(1.0) is None
    state.append("so we meet again", now=10.0)
    assert state.pause_deadline(0.0) is None  # pauses off
    assert state.pause_deadline(1.0) == 11.0
    state.pause(11.0)
    assert state.take_finals() == [FinalJob(0, "so we meet again", "", 11.0)]
    assert state.pause_deadline(1.0) is None and state.open_text == ""


def test_partials_ask_for_the_policy_beam() -> None:
    state = StreamState(policy=StabilityPolicy(partial_beam=2))
    state.append("A man is riding ")
    job = state.next_partial()
    assert job is not None and isinstance(job.prefix, Prefix) and job.prefix.beam == 2
    wide = StreamState(policy=StabilityPolicy(partial_beam=0))
    wide.append("A man is riding ")
    job = wide.next_partial()
    assert job is not None and isinstance(job.prefix, Prefix) and job.prefix.beam == 0  # the engine's
    with pytest.raises(ValueError, match="partial_beam"):
        StabilityPolicy(partial_beam=-1)


def test_a_segment_written_without_case_is_cut_sooner() -> None:
    words = "one two three four five six seven eight".split()
    uncased = StreamState(max_words=6, max_uncased_words=3)
    cased = StreamState(max_words=6, max_uncased_words=3)
    capitals = StreamState(max_words=6, max_uncased_words=3)
    for word in words:
        uncased.append(word + " ")
        cased.append(word.capitalize() + " ")
        capitals.append(word.upper() + " ")
    assert [j.source for j in uncased.take_finals()] == ["one two three", "four five six"]
    assert [j.source for j in cased.take_finals()] == ["One Two Three Four Five Six"]
    assert [j.source for j in capitals.take_finals()] == ["ONE TWO THREE", "FOUR FIVE SIX"]
    only = StreamState(max_uncased_words=3)  # no cut for written text, the shorter one for uncased text
    for word in words:
        only.append(word + " ")
    assert len(only.take_finals()) == 2


def test_a_long_segment_without_a_sentence_end_is_cut() -> None:
    state = StreamState(max_words=5)
    for word in "one two three four five six seven".split():
        state.append(word + " ")
    [job] = state.take_finals()
    assert job.source == "one two three four five"
    assert state.open_text.split() == ["six", "seven"]
    state.append("eight nine ten eleven twelve thirteen fourteen fifte")  # the word being typed stays open
    assert [j.source for j in state.take_finals()] == ["six seven eight nine ten"]
    assert state.open_text.split() == ["eleven", "twelve", "thirteen", "fourteen", "fifte"]


def test_lowercase_unpunctuated_input_is_translated_as_a_sentence() -> None:
    assert model_input("a man is riding", final=True) == "A man is riding."
    assert model_input("a man is riding", final=False) == "A man is riding"
    assert model_input("Hello there", final=True) == "Hello there"  # written text is left alone
    assert model_input("is it", final=True) == "Is it."
    assert model_input("wait.", final=True) == "Wait."
    assert model_input("A MAN IS RIDING", final=True) == "A MAN IS RIDING."  # the engine restores the case
    assert model_input("A man is riding", final=True) == "A man is riding"  # written with case: as it is


def test_the_display_shows_only_agreed_words_of_an_unfinished_sentence() -> None:
    state = StreamState()  # the default policy
    state.append("a man is ")
    assert partial(state, "Ein Mann ist").text == ""  # nothing to agree with yet
    state.append("riding ")
    second = partial(state, "Ein Mann fährt")
    # Agreed: "Ein Mann"; both are followed by another word in both hypotheses, so both are stable.
    assert second.stable == "Ein Mann" and second.text == "Ein Mann"
    state.append("a ")
    third = partial(state, "Ein Mann fährt ein")
    assert third.stable == "Ein Mann" and third.text == "Ein Mann fährt"  # "fährt" agreed, not yet stable
    state.append("a bicycle. ")
    assert partial(state, "Ein Mann fährt Fahrrad.").text == "Ein Mann fährt Fahrrad."  # ended: all of it
