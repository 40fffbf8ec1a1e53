"""Property-based tests of the protocol parser and the streaming state machine (hypothesis):
random interleavings of append/replace/commit with random Unicode (surrogates, control characters,
huge and empty texts). No exception escapes, and the guarantees hold."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import check_state_guarantees as check_guarantees
from tests.conftest import fake_translate
from translator.protocol import ClientMessage, ProtocolError, parse_client_message
from translator.segment import cut_complete, split_sentences
from translator.streaming import StabilityPolicy, StreamState
from translator.text import keep_prefix

texts = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60) | st.sampled_from(
    ["", " ", "\n", ". ", "Hello. World", "x" * 5000, "Mr. Smith.", "\ud800", "a\x00b\x1fc", "…!? ¿¡"]
)
operations = st.lists(st.tuples(st.sampled_from(["append", "replace", "commit", "pause", "work"]), texts), max_size=40)
policies = st.builds(
    StabilityPolicy,
    anchor=st.sampled_from(["forced", "bias", "none"]),
    agreement=st.integers(2, 4),
    hypotheses=st.integers(1, 3),
    mask=st.integers(0, 3),
    strip_end=st.booleans(),
    free_final=st.booleans(),
)


@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_parser_never_raises_anything_but_protocol_errors(raw: str) -> None:
    try:
        message = parse_client_message(raw)
    except ProtocolError as exc:
        assert exc.code in ("invalid_json", "invalid_message", "unknown_type", "invalid_text")
    else:
        message.text.encode("utf-8")  # always valid text


@given(texts)
def test_parser_accepts_any_text_as_json(text: str) -> None:
    raw = json.dumps({"type": "append", "text": text})
    message = parse_client_message(raw)
    assert message.type == "append"
    message.text.encode("utf-8")
    assert len(message.text) == len(text)


@given(texts)
def test_cut_complete_loses_no_text(text: str) -> None:
    complete, rest = cut_complete(text)
    assert " ".join(complete + split_sentences(rest)).split() == " ".join(split_sentences(text)).split()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(operations, policies, st.sampled_from([0, 1, 3, 40]))
def test_random_interleavings_keep_the_guarantees(
    ops: list[tuple[str, str]], policy: StabilityPolicy, max_words: int
) -> None:
    state = StreamState(policy=policy, max_words=max_words)
    messages: list[dict[str, object]] = []
    expected_sources: list[str] = []

    def work() -> None:
        for job in state.take_finals():
            expected_sources.append(job.source)
            text = fake_translate(job.source, job.prefix)
            messages.append(StreamState.final_result(job, text).to_dict())
        job = state.next_partial()
        if job is not None:
            message = state.partial_result(job, fake_translate(job.source, job.prefix))
            if message is not None:
                messages.append(message.to_dict())

    for op, text in ops:
        clean = parse_client_message(json.dumps({"type": "append", "text": text})).text
        if op == "append":
            state.apply(ClientMessage("append", clean))
        elif op == "replace":
            state.apply(ClientMessage("replace", clean))
        elif op == "commit":
            state.apply(ClientMessage("commit"))
        elif op == "pause":
            state.pause()
        else:
            work()
    state.apply(ClientMessage("commit"))
    work()
    assert state.open_text == ""
    check_guarantees(messages, expected_sources)
    assert all(source.strip() == source and source for source in expected_sources)


@given(st.text(max_size=30), st.text(max_size=30))
def test_keep_prefix_always_keeps_it(prefix: str, text: str) -> None:
    assert keep_prefix(prefix, text).startswith(prefix)


@given(
    st.lists(st.text(alphabet="abc. ", min_size=1, max_size=8), max_size=30),
    st.sampled_from([1, 2, 5, 40]),
    st.lists(st.booleans(), max_size=30),
)
def test_length_and_pause_cuts_drop_nothing(chunks: list[str], max_words: int, pauses: list[bool]) -> None:
    state = StreamState(max_words=max_words)
    sources: list[str] = []
    for chunk, pause in zip(chunks, pauses + [False] * len(chunks), strict=False):
        state.append(chunk)
        if pause:
            state.pause()
        sources += [job.source for job in state.take_finals()]
        assert len(state.open_source.split()) <= max(max_words, 1) or not state.open_source
    state.commit()
    sources += [job.source for job in state.take_finals()]
    # Every character accepted, in order (a pause may end a word that the next chunk continues).
    assert "".join("".join(sources).split()) == "".join("".join(chunks).split())
