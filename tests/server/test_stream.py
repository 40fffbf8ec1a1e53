"""The streaming protocol against a real server process, with a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Server, open_stream, post_json, receive_until, send
from tests.conftest import check_stream_guarantees as check_guarantees
from translator.segment import cut_complete
from translator.server.settings import ServerConfig

PARAGRAPH = (
    "A man is riding a bicycle down the street. Two dogs are playing in the snow! "
    "Where is the train station? A woman in a red dress is reading a book."
)
SENTENCES = [
    "A man is riding a bicycle down the street.",
    "Two dogs are playing in the snow!",
    "Where is the train station?",
    "A woman in a red dress is reading a book.",
]


async def drain(ws: ClientConnection, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Whatever arrives until the connection has been quiet for ``quiet`` seconds."""
    messages = []
    try:
        while True:
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
    except TimeoutError:
        return messages


async def test_ready_message(server: Server) -> None:
    ws, ready = await open_stream(server)
    assert ready["type"] == "ready" and ready["source"] == "en" and ready["target"] == "de"
    assert ready["model"] == "en-de" and ready["protocol"] == 1
    await ws.close()


@pytest.mark.parametrize("query", ["source=en&target=xx", "source=en", ""])
async def test_unknown_or_missing_pair_is_refused_with_1008(server: Server, query: str) -> None:
    ws = await connect(f"{server.ws}/v1/stream?{query}", open_timeout=30)
    error = json.loads(await ws.recv())
    assert error["type"] == "error" and error["code"] in ("unknown_pair", "missing_language")
    if "xx" in query:
        assert "en->de" in error["message"]
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1008


async def test_word_by_word_paragraph_keeps_every_guarantee(server: Server) -> None:
    """Like a speaker: each word is sent once the translation of the previous one is shown."""
    ws, _ = await open_stream(server)
    messages: list[dict[str, Any]] = []
    typed = ""
    for word in PARAGRAPH.split(" "):
        typed += word + " "
        await send(ws, "append", word + " ")
        expected = " ".join(cut_complete(typed)[1].split())
        async with asyncio.timeout(60):
            while not (messages and messages[-1]["type"] == "partial" and messages[-1]["source"] == expected):
                messages.append(json.loads(await ws.recv()))
    await send(ws, "commit")
    messages += await receive_until(ws, finals=1)
    check_guarantees(messages, SENTENCES)
    partials = [m for m in messages if m["type"] == "partial"]
    assert len(partials) >= len(PARAGRAPH.split(" "))
    # Stable text appears before the sentence ends, and the final starts with it.
    assert any(m["stable"] for m in partials)
    # Nothing after the last final: the stream is settled.
    assert await drain(ws) == []
    await ws.close()


async def test_chunks_that_split_words_and_sentences(server: Server) -> None:
    ws, _ = await open_stream(server)
    for i in range(0, len(PARAGRAPH), 7):
        await send(ws, "append", PARAGRAPH[i : i + 7])
    await send(ws, "commit")
    check_guarantees(await receive_until(ws, finals=len(SENTENCES)), SENTENCES)
    await ws.close()


async def test_sentence_is_final_when_the_next_begins(server: Server) -> None:
    ws, _ = await open_stream(server, "source=en&target=de&pause_ms=0")  # no pause cuts while it waits
    await send(ws, "append", "A dog runs through the grass.")
    await drain(ws, quiet=1.0)  # partials only: the sentence might still go on
    await send(ws, "append", " The")
    messages = await receive_until(ws, finals=1)
    final = messages[-1]
    assert final["segment"] == 0 and final["source"] == "A dog runs through the grass."
    await send(ws, "append", " sun is shining.")
    await send(ws, "commit")
    messages = await receive_until(ws, finals=1)
    assert messages[-1]["segment"] == 1 and messages[-1]["source"] == "The sun is shining."
    await ws.close()


async def test_replace_revises_the_open_text(server: Server) -> None:
    ws, _ = await open_stream(server)
    for hypothesis in ["a man", "a man is writing", "a man is riding a", "A man is riding a bicycle"]:
        await send(ws, "replace", hypothesis)
        await asyncio.sleep(0.05)
    await send(ws, "commit")
    messages = await receive_until(ws, finals=1)
    check_guarantees(messages, ["A man is riding a bicycle"])
    partial_sources = [m["source"] for m in messages if m["type"] == "partial"]
    assert all(
        s in ["a man", "a man is writing", "a man is riding a", "A man is riding a bicycle"] for s in partial_sources
    )
    # After a commit the next text is a new segment.
    await send(ws, "replace", "Two dogs play.")
    await send(ws, "commit")
    messages = await receive_until(ws, finals=1)
    assert messages[-1]["segment"] == 1 and messages[-1]["source"] == "Two dogs play."
    await ws.close()


async def test_repeated_sentence_is_answered_from_the_cache(server: Server) -> None:
    ws, _ = await open_stream(server)
    sentence = "The children are eating ice cream on a sunny afternoon."
    await send(ws, "append", sentence)
    await send(ws, "commit")
    first = (await receive_until(ws, finals=1))[-1]
    await send(ws, "append", sentence)
    await send(ws, "commit")
    second = (await receive_until(ws, finals=1))[-1]
    assert first["cached"] is False and second["cached"] is True
    assert second["text"] == first["text"] and second["segment"] == 1
    await ws.close()


async def test_bad_messages_get_errors_and_the_connection_stays_usable(server: Server) -> None:
    ws, _ = await open_stream(server, "source=en&target=de&pause_ms=0")  # no pause cuts while it waits
    await send(ws, "append", "A man is sleeping")  # accepted before the bad messages
    bad = [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        (json.dumps({"type": "shout", "text": "x"}), "unknown_type"),
        (json.dumps({"type": "append"}), "invalid_text"),
        (json.dumps({"type": "append", "text": 5}), "invalid_text"),
    ]
    for raw, _ in bad:
        await ws.send(raw)
    await ws.send(b"\x00binary")
    messages = await drain(ws, quiet=1.5)
    errors = [m for m in messages if m["type"] == "error"]
    assert [e["code"] for e in errors] == [code for _, code in bad] + ["invalid_message"]
    assert all(e["message"] for e in errors)
    await send(ws, "append", " on a bench.")
    await send(ws, "commit")
    final = (await receive_until(ws, finals=1))[-1]
    assert final["source"] == "A man is sleeping on a bench."
    await send(ws, "ping")
    assert (await drain(ws)) == [{"type": "pong"}]
    await ws.close()


async def test_empty_and_too_long_text(server: Server) -> None:
    ws, _ = await open_stream(server)
    await send(ws, "append", "")
    await send(ws, "append", "   ")
    await send(ws, "commit")
    assert await drain(ws) == []  # nothing to translate, nothing sent
    await send(ws, "append", "A girl is jumping")
    await send(ws, "append", "x" * 20_000)  # over the 10,000-character open-text limit
    error = json.loads(await asyncio.wait_for(ws.recv(), 30))
    while error["type"] == "partial":
        error = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert error["type"] == "error" and error["code"] == "text_too_long"
    await send(ws, "append", " into the lake.")
    await send(ws, "commit")
    final = (await receive_until(ws, finals=1))[-1]
    assert final["source"] == "A girl is jumping into the lake."  # nothing accepted was lost
    await ws.close()


@pytest.mark.parametrize(
    ("words", "limit"),
    [
        ("the red car drives past the old house", ServerConfig().max_uncased_segment_words),  # a recognizer's
        ("The red car drives past the old House", ServerConfig().max_segment_words),  # written text
    ],
)
async def test_long_sentence_without_punctuation(server: Server, words: str, limit: int) -> None:
    """320 words without a sentence end: cut into segments of max-segment-words (max-uncased-segment-words
    for text without capitals), none lost."""
    ws, _ = await open_stream(server)
    text = " ".join([words] * 40)
    await send(ws, "append", text)
    await send(ws, "commit")
    messages = await receive_until(ws, finals=-(-320 // limit), timeout=180)
    finals = [m for m in messages if m["type"] == "final"]
    assert " ".join(f["source"] for f in finals) == text
    assert [len(f["source"].split()) for f in finals] == [limit] * (320 // limit) + [320 % limit] * bool(320 % limit)
    assert all(f["text"] for f in finals)
    await ws.close()


async def test_a_pause_ends_unpunctuated_speech() -> None:
    """Speech-recognizer text without punctuation: a final within about a second of the pause, and one
    at least every max-uncased-segment-words (at most 40) words without one."""
    srv = Server("--cache-size", "0")
    try:
        ws, _ = await open_stream(srv, "source=en&target=de&pause_ms=500")
        for word in "a man is riding a bicycle".split():
            await send(ws, "append", word + " ")
        sent = asyncio.get_running_loop().time()
        messages = await receive_until(ws, finals=1, timeout=30)
        waited = asyncio.get_running_loop().time() - sent
        final = messages[-1]
        assert final["source"] == "a man is riding a bicycle" and final["text"]
        assert 0.45 < waited < 1.5, waited
        check_guarantees(messages, ["a man is riding a bicycle"])
        # The server's default pause (1000 ms), and the length cut without any pause.
        ws2, _ = await open_stream(srv)
        limit = ServerConfig().max_uncased_segment_words
        words = ("the children walk to school every morning and " * 10).split()[: limit + 8]
        for word in words:
            await send(ws2, "append", word + " ")
        sent = asyncio.get_running_loop().time()
        first = [m for m in await receive_until(ws2, finals=1, timeout=30) if m["type"] == "final"]
        assert len(first[0]["source"].split()) == limit <= 40
        rest = [m for m in await receive_until(ws2, finals=1, timeout=30) if m["type"] == "final"]
        assert 0.9 < asyncio.get_running_loop().time() - sent < 2.5
        assert " ".join(f["source"] for f in first + rest).split() == words
        await ws.close()
        await ws2.close()
        # pause_ms must be a number.
        bad = await connect(f"{srv.ws}/v1/stream?source=en&target=de&pause_ms=soon", open_timeout=30)
        assert json.loads(await bad.recv())["code"] == "invalid_message"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(bad.recv(), 10)
        assert bad.close_code == 1008
    finally:
        srv.stop()


async def test_revisions_are_opt_in_and_marked(server: Server) -> None:
    """?revisions=true: the final is the sentence translated whole (as REST translates it), and says
    "revised" exactly when it does not start with the stable words shown."""
    ws, _ = await open_stream(server, "source=en&target=de&revisions=true&pause_ms=0")
    sentence = "A young girl in a pink jacket climbs over a wooden fence near the barn."
    stable = ""
    for word in sentence.split():
        await send(ws, "append", word + " ")
        async with asyncio.timeout(60):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "partial":
                    stable = message["stable"]
                    break
    await send(ws, "commit")
    final = (await receive_until(ws, finals=1))[-1]
    status, body = post_json(server, {"q": sentence, "source": "en", "target": "de"})
    assert status == 200 and final["text"] == body["translatedText"]
    kept = final["text"].split()[: len(stable.split())] == stable.split()
    assert final.get("revised", False) is (not kept)
    await ws.close()


async def test_vanishing_client_does_not_disturb_others(server: Server) -> None:
    leaver, _ = await open_stream(server)
    stayer, _ = await open_stream(server)
    await send(leaver, "append", "Three people are walking along the beach and")
    await send(stayer, "append", "An old man is feeding the birds in the park.")
    leaver.transport.abort()  # gone without a closing handshake, mid-sentence
    await send(stayer, "commit")
    final = (await receive_until(stayer, finals=1))[-1]
    assert final["source"] == "An old man is feeding the birds in the park."
    await stayer.close()
    ws, ready = await open_stream(server)  # the server still accepts new clients
    assert ready["type"] == "ready"
    await ws.close()


async def test_many_concurrent_clients(server: Server) -> None:
    sentences = [f"A man with {n} dogs is walking in the park." for n in range(2, 22)]

    async def client(sentence: str) -> dict[str, Any]:
        ws, _ = await open_stream(server)
        for word in sentence.split(" "):
            await send(ws, "append", word + " ")
        await send(ws, "commit")
        messages = await receive_until(ws, finals=1, timeout=120)
        check_guarantees(messages, [sentence])
        await ws.close()
        return messages[-1]

    finals = await asyncio.gather(*(client(s) for s in sentences))
    assert [f["source"] for f in finals] == sentences


async def test_german_to_english_stream(server: Server) -> None:
    ws, ready = await open_stream(server, "source=de&target=en")
    assert ready["model"] == "de-en"
    await send(ws, "append", "Ein Hund läuft über die Wiese. ")
    await send(ws, "commit")
    final = (await receive_until(ws, finals=1))[-1]
    assert final["source"] == "Ein Hund läuft über die Wiese." and final["text"]
    await ws.close()


async def test_finals_only_stream(server: Server) -> None:
    ws, ready = await open_stream(server, "source=en&target=de&partials=false")
    assert ready["partials"] is False
    for word in SENTENCES[0].split():
        await send(ws, "append", word + " ")
    await send(ws, "commit")
    messages = await receive_until(ws, finals=1)
    assert [m["type"] for m in messages] == ["final"]
    await ws.close()


async def test_foreign_origins_are_refused_before_the_handshake(server: Server) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as info:
        await connect(f"{server.ws}/v1/stream?source=en&target=de", origin="http://evil.example")
    assert info.value.response.status_code == 403
    same, ready = await open_stream(server)  # no Origin: programs are allowed
    assert ready["type"] == "ready"
    await same.close()
    own = await connect(f"{server.ws}/v1/stream?source=en&target=de", origin=f"http://127.0.0.1:{server.port}")
    assert json.loads(await own.recv())["type"] == "ready"
    await own.close()


async def test_configured_origins_are_allowed() -> None:
    srv = Server(env={"TRANSLATOR_ALLOWED_ORIGINS": "https://captions.example, https://other.example"})
    try:
        ws = await connect(f"{srv.ws}/v1/stream?source=en&target=de", origin="https://captions.example")
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.close()
    finally:
        srv.stop()


async def test_oversized_message_closes_with_1009(server: Server) -> None:
    ws, _ = await open_stream(server)
    await send(ws, "append", "A man is walking")
    await ws.send(json.dumps({"type": "append", "text": "x" * 70_000}))
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(30):
            while True:
                await ws.recv()
    assert ws.close_code == 1009


async def test_limits_rate_connections_and_idle() -> None:
    srv = Server("--max-messages-per-second", "5", "--max-connections-per-client", "2", "--idle-timeout", "2")
    try:
        ws, ready = await open_stream(srv)
        assert ready["max_messages_per_second"] == 5
        for word in ["A", "man", "is", "walking", "in", "the", "park", "today"]:
            await send(ws, "append", word + " ")
        messages = await drain(ws, quiet=0.6)
        refused = [m for m in messages if m.get("code") == "rate_limited"]
        assert len(refused) == 3  # a burst of 5 is accepted, the rest refused with an error
        # Connections per client address.
        second, _ = await open_stream(srv)
        third = await connect(f"{srv.ws}/v1/stream?source=en&target=de")
        assert json.loads(await third.recv())["code"] == "too_many_connections"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(third.recv(), 10)
        assert third.close_code == 1013
        await second.close()
        # Idle: the accepted text gets its final, then the stream is closed with 1001.
        messages = []
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(30):
                while True:
                    messages.append(json.loads(await ws.recv()))
        assert [m["code"] for m in messages if m["type"] == "error"] == ["idle_timeout"]
        assert [m["source"] for m in messages if m["type"] == "final"] == ["A man is walking in"]
        assert ws.close_code == 1001
        # A stream that keeps flooding is closed with 1008.
        flood, _ = await open_stream(srv)
        with pytest.raises(ConnectionClosed):
            for _ in range(100):
                await flood.send(json.dumps({"type": "ping"}))
            async with asyncio.timeout(30):
                while True:
                    await flood.recv()
        assert flood.close_code == 1008
    finally:
        srv.stop()


async def test_a_client_that_does_not_read_is_closed_and_others_carry_on() -> None:
    import socket
    import time
    import urllib.request

    srv = Server("--max-backlog", "50")
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect(("127.0.0.1", srv.port))
        slow = await connect(f"{srv.ws}/v1/stream?source=en&target=de", sock=sock, max_queue=1)
        sentence = "The quick brown fox jumps over the lazy dog near the old river bank. "
        for _ in range(150):  # 100 finals per message; the client reads none of them
            await slow.send(json.dumps({"type": "append", "text": sentence * 100}))
        # Meanwhile another client is served as usual.
        ws, _ = await open_stream(srv)
        start = time.monotonic()
        await send(ws, "append", "A woman is walking her dog.")
        await send(ws, "commit")
        final = (await receive_until(ws, finals=1, timeout=60))[-1]
        assert final["source"] == "A woman is walking her dog." and time.monotonic() - start < 5
        await ws.close()
        # The slow client was closed by the server (1008) once its backlog passed the bound.
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(60):
                while True:
                    await slow.recv()
        assert slow.close_code == 1008
        with urllib.request.urlopen(f"{srv.http}/metrics", timeout=10) as response:
            assert 'translator_errors_total{code="backlog"} 1' in response.read().decode()
    finally:
        srv.stop()


async def test_soak_short_lived_connections_leave_nothing_behind() -> None:
    import urllib.request

    from tests.conftest import metric

    srv = Server()
    try:

        def read_metrics() -> str:
            with urllib.request.urlopen(f"{srv.http}/metrics", timeout=10) as response:
                return response.read().decode()

        async def client(n: int) -> None:
            ws, _ = await open_stream(srv)
            if n % 3:
                await send(ws, "append", f"Person number {n} is waving. ")
                await send(ws, "commit")
                await receive_until(ws, finals=1, timeout=60)
                await ws.close()
            else:
                await send(ws, "append", "Someone leaves before the end of")
                ws.transport.abort()  # some vanish without a closing handshake

        async def round_of(start: int) -> None:
            await asyncio.gather(*(client(n) for n in range(start, start + 30)))

        await round_of(0)
        await asyncio.sleep(1)
        before = read_metrics()
        async with asyncio.timeout(240):
            for start in range(30, 330, 30):  # 300 more connections
                await round_of(start)
        await asyncio.sleep(2)
        after = read_metrics()
        assert metric(after, "translator_connections_active") == 0
        assert metric(after, "translator_connections_total") == 330
        assert metric(after, "translator_asyncio_tasks") <= metric(before, "translator_asyncio_tasks") + 2
        growth = metric(after, "translator_process_resident_bytes") - metric(
            before, "translator_process_resident_bytes"
        )
        assert growth < 64 * 1024 * 1024, f"resident memory grew by {growth / 1e6:.1f} MB"
    finally:
        srv.stop()
