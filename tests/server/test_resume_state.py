"""What a stream keeps for a resume, and the codec that hands a stream over (translator.server.resume_state)."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest

from tests.conftest import fake_translate
from translator.decoding import Prefix
from translator.protocol import ClientMessage, Final, Partial
from translator.server.resume_state import Kept, dump, load, restore, snapshot
from translator.streaming import StreamState, translate_pending


def fake(sources: list[str], prefixes: list[str | None]) -> list[str]:
    return [fake_translate(s, p or "") for s, p in zip(sources, prefixes, strict=True)]


def kept(**overrides: Any) -> Kept:
    values: dict[str, Any] = dict(
        source="en", target="de", partials=True, session=None, key=None, max_finals=3, max_chars=1000
    )
    values.update(overrides)
    return Kept(**values)


def final(segment: int, source: str = "A b.", text: str = "X y.") -> Final:
    return Final(segment, source, text, False, 1.0)


def test_a_live_state_round_trips_and_goes_on_the_same() -> None:
    state = StreamState(max_words=12)
    for chunk in ["A man is riding ", "a bicycle. Two dogs ", "are playing in ", "the"]:
        state.apply(ClientMessage("append", chunk), 1.5)
        list(translate_pending(state, fake))
    state.apply(ClientMessage("append", " snow. A cat"), 2.5)  # finals cut and not taken yet
    record = kept(acked=0, received=7)
    record.keep(final(1, "Two dogs are playing in the snow.", "ZWEI"))
    record.keep(Partial(2, "A", "", "EIN?"))
    text = snapshot(state, record, 123.0)
    state2, record2, expires = restore(text)
    assert expires == 123.0 and json.loads(text)["v"] == 1
    assert dump(state2) == dump(state)  # every attribute, the private ones and the prefixes' options too
    assert dump(record2) == dump(record) and record2.token is None  # transient fields are left out
    [job] = state2._finals
    assert isinstance(job.prefix, Prefix) and vars(job.prefix) == vars(state._finals[0].prefix)
    # The restored state goes on exactly as the live one.
    for s in (state, state2):
        s.apply(ClientMessage("append", " sleeps on the sofa."), 3.0)
        s.commit(3.5)
    assert [m.to_dict() for m in translate_pending(state2, fake)] == [
        m.to_dict() for m in translate_pending(state, fake)
    ]


def test_fields_added_or_removed_later_do_not_break_a_handover() -> None:
    state = StreamState()
    state.apply(ClientMessage("append", "A man is"), 1.0)
    data = dump(state)
    del data["fields"]["open_text"]  # an older server did not have this field: it gets its default
    data["fields"]["gone_since"] = 5  # a newer one had an attribute this one does not know: kept aside
    restored = load(data)
    assert isinstance(restored, StreamState) and restored.open_text == "" and restored.next_segment == 0
    # A final's decoding request from a replica that had no Prefix.fallback yet reads as one without it
    # (str subclasses are rebuilt by their constructor, so a later attribute has its default).
    older = dump(Prefix("Ein Mann", free=True, hypotheses=4, fallback="Ein Mann fährt."))
    del older["attrs"]["fallback"]
    prefix = load(older)
    assert isinstance(prefix, Prefix) and prefix == "Ein Mann" and prefix.free and prefix.fallback == ""
    with pytest.raises(ValueError):
        load({"$dataclass": "os:PathLike", "fields": {}})  # only the translator package's classes
    with pytest.raises(ValueError):
        load({"$str": "translator.streaming:StreamState", "text": "", "attrs": {}})
    with pytest.raises(TypeError):
        dump(object())
    with pytest.raises(ValueError):
        restore(json.dumps({"v": 99}))
    assert load(dump({(1, "a"): {3, 4}, "q": deque([1], maxlen=5)})) == {(1, "a"): {3, 4}, "q": deque([1], maxlen=5)}


def test_kept_finals_are_bounded_acknowledged_and_replayed() -> None:
    evicted: list[int] = []
    record = kept(max_finals=3, max_chars=100, on_evict=lambda: evicted.append(1))
    for n in range(5):
        record.keep(final(n))
    assert [f.segment for f in record.finals] == [2, 3, 4] and len(evicted) == 2  # the oldest go first
    record.keep(final(5, "x" * 60, "y" * 60))  # over the characters: all but the newest go
    assert [f.segment for f in record.finals] == [5] and record.chars == 120
    record.keep(Partial(6, "Two", "", "ZWEI"))
    record.ack(5)
    assert not record.finals and record.chars == 0
    record.keep(final(4))  # acknowledged already: not kept
    record.keep(final(6))
    assert record.partial is None  # its segment is final now
    record.keep(Partial(7, "A", "", "EIN"))
    assert [m.segment for m in record.replay(-1, open_segment=7)] == [6, 7]
    assert [m.segment for m in record.replay(6, open_segment=8)] == []  # the partial is stale
    off = Kept.off("en", "de", True, None)
    off.keep(final(0))
    assert not off.finals
