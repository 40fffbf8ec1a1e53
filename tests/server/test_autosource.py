"""``/v1/stream?source=auto``: the language detected from the first words, against a real server; and the
decision rules on their own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.conftest import Server, check_stream_guarantees, open_stream, receive_until, send
from translator.engine.langid import UNDETERMINED, Detection
from translator.server.autosource import decide


def test_decide() -> None:
    english = Detection("en", 0.97, (("en", 0.97), ("de", 0.03)))
    unsure = Detection(UNDETERMINED, 0.0, (("en", 0.6), ("de", 0.4)))
    assert decide(english, "de", {"en", "fr"}, finished=False) == ("translate", "en")
    assert decide(english, "en", {"de"}, finished=False)[0] == "same_language"
    assert decide(english, "fr", {"de"}, finished=False)[0] == "unknown_pair"
    assert decide(unsure, "de", {"en"}, finished=False) == ("wait", "")
    assert decide(unsure, "de", {"en"}, finished=True)[0] == "language_not_detected"


async def messages_until_quiet(ws: ClientConnection, quiet: float = 1.0, finals: int = 0) -> list[dict[str, Any]]:
    """The messages until ``finals`` finals have come (bounded), and then until ``quiet`` seconds pass."""
    out = await receive_until(ws, finals) if finals else []
    try:
        while True:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
    except TimeoutError:
        return out


async def test_detected_from_the_first_words_then_translated(server: Server) -> None:
    ws, ready = await open_stream(server, "source=auto&target=de")
    assert (ready["source"], ready["target"], ready["model"]) == ("auto", "de", "")
    text = "A young boy in a red shirt is climbing a tree. Two women are talking on a bench."
    for word in text.split():
        await send(ws, "append", word + " ")
    await send(ws, "commit")
    messages = await messages_until_quiet(ws, finals=2)
    await ws.close()
    detected = [m for m in messages if m["type"] == "detected"]
    assert len(detected) == 1 and detected[0]["language"] == "en" and detected[0]["model"] == "en-de"
    assert 0.8 <= detected[0]["confidence"] <= 1.0
    first = messages.index(detected[0])
    assert all(m["type"] not in ("partial", "final") for m in messages[:first])  # nothing before it
    check_stream_guarantees(
        messages, ["A young boy in a red shirt is climbing a tree.", "Two women are talking on a bench."]
    )
    assert not any(m.get("failed") for m in messages)


async def test_the_target_language_itself_is_refused_sentence_by_sentence(server: Server) -> None:
    ws, _ = await open_stream(server, "source=auto&target=en")
    await send(ws, "append", "A man is riding a bicycle. Where is the station? ")
    await send(ws, "commit")
    messages = await messages_until_quiet(ws, finals=2)
    errors = [m for m in messages if m["type"] == "error"]
    finals = [m for m in messages if m["type"] == "final"]
    assert [(e["code"], e["segment"]) for e in errors] == [("same_language", 0), ("same_language", 1)]
    assert [(f["segment"], f["source"], f["text"], f["failed"]) for f in finals] == [
        (0, "A man is riding a bicycle.", "", True),
        (1, "Where is the station?", "", True),
    ]
    # Detection goes on: German text is then translated.
    await send(ws, "append", "Zwei Hunde spielen im Schnee.")
    await send(ws, "commit")
    more = await messages_until_quiet(ws, finals=1)
    await ws.close()
    assert [m["type"] for m in more] == ["detected", "final"]
    assert more[0]["language"] == "de" and more[1]["segment"] == 2 and more[1]["text"] and "failed" not in more[1]


async def test_too_little_text_waits_then_says_so(server: Server) -> None:
    ws, _ = await open_stream(server, "source=auto&target=de&partials=false")
    await send(ws, "append", "Hi")
    assert await messages_until_quiet(ws, 0.5) == []  # one word: waiting for more
    await send(ws, "commit")
    messages = await messages_until_quiet(ws, finals=1)
    await ws.close()
    assert [(m["type"], m.get("code")) for m in messages] == [("error", "language_not_detected"), ("final", None)]
    assert messages[1]["failed"] is True and messages[1]["source"] == "Hi"


async def test_a_target_no_model_translates_into(server: Server) -> None:
    ws, first = await open_stream(server, "source=auto&target=fr")
    assert first["type"] == "error" and first["code"] == "unknown_pair" and "auto->fr" in first["message"]
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1008
