"""Resuming streams (translator.server.resume): lost connections against real servers (a client that
aborts its transport, a proxy that loses what either side sends and resets its connections, a replica
that drains into Redis for another one, a soak of random drops)."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import (
    RedisServer,
    Server,
    TcpProxy,
    check_stream_guarantees,
    metric,
    open_stream,
    receive_until,
    send,
)
from translator.server.resume import ResumeRegistry
from translator.server.resume_state import Kept
from translator.streaming import StreamState

Q = "source=en&target=de&pause_ms=0"


async def test_a_registry_with_resume_off_keeps_nothing() -> None:
    registry = ResumeRegistry(0, max_streams=1, max_finals=1, max_chars=1)
    assert not registry.enabled
    assert await registry.claim("A" * 32, None, "en", "de") == "disabled"

    class Conn:  # what the registry sees of a connection
        source, target, partials, session = "en", "de", True, None
        state = StreamState()
        kept = Kept.off("en", "de", True, None)

    conn = Conn()
    registry.open(conn, None, None)  # type: ignore[arg-type]
    assert conn.kept.token is None and registry.ready_info(conn, resumed=False) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ResumeRegistry(-1, max_streams=1, max_finals=1, max_chars=1)


# Against a real server ---------------------------------------------------------------------------


async def resume(
    base: str, token: str, ack: int = -1, query: str = Q
) -> tuple[ClientConnection, list[dict[str, Any]], dict[str, Any]]:
    """Reconnect with ?resume=TOKEN&ack=N: the connection, the errors before ``ready``, and ``ready``."""
    ws = await connect(f"{base}/v1/stream?{query}&resume={token}&ack={ack}", open_timeout=30)
    before: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        message = json.loads(await ws.recv())
        while message["type"] != "ready":
            before.append(message)
            message = json.loads(await ws.recv())
    return ws, before, message


async def until(ws: ClientConnection, kind: str, timeout: float = 60) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not messages or messages[-1]["type"] != kind:
            messages.append(json.loads(await ws.recv()))
    return messages


async def wait_for_metric(server: Server, name: str, value: float, timeout: float = 30) -> None:
    """Until the server's metric reaches ``value`` (the event loop runs meanwhile: an aborted
    transport is only closed by it)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = metric(await asyncio.to_thread(read_metrics, server), name)
        if seen >= value:
            return
        assert time.monotonic() < deadline, f"{name} stayed at {seen}, not {value}"
        await asyncio.sleep(0.05)


def read_metrics(server: Server) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{server.http}/metrics", timeout=10) as response:
        return response.read().decode()


async def test_ready_carries_a_token_and_the_time_a_stream_is_kept(server: Server) -> None:
    ws, ready = await open_stream(server, Q)
    other, ready2 = await open_stream(server, Q)
    assert ready["resume_seconds"] == 60 and len(ready["resume"]) >= 32 and ready["resume"] != ready2["resume"]
    assert "resumed" not in ready
    await ws.close()
    await other.close()


async def test_a_connection_lost_mid_sentence_resumes_with_nothing_lost(server: Server) -> None:
    ws, ready = await open_stream(server, Q)
    await send(ws, "append", "A man is riding a ")
    first = await until(ws, "partial")
    ws.transport.abort()  # gone without a close frame, in the middle of a sentence
    ws2, before, ready2 = await resume(server.ws, ready["resume"])
    assert before == [] and ready2["resumed"] is True and ready2["resume"] == ready["resume"]
    assert (ready2["segment"], ready2["received"], ready2["open_text_chars"]) == (0, 1, len("A man is riding a "))
    await send(ws2, "append", "bicycle. Two dogs are playing.")
    await send(ws2, "commit")
    rest = await receive_until(ws2, finals=2)
    assert rest[0]["type"] == "partial" and rest[0] == first[-1]  # the current partial, first
    check_stream_guarantees(first + rest, ["A man is riding a bicycle.", "Two dogs are playing."])
    await ws2.close()


async def test_a_final_sent_but_not_received_comes_once_after_the_resume(server: Server) -> None:
    proxy = TcpProxy(server.port)
    try:
        ws, ready = await open_stream(server_at(proxy), Q)
        await send(ws, "append", "A man is riding a bicycle. ")
        seen = await until(ws, "partial")
        finals_before = metric(read_metrics(server), 'translator_messages_sent_total{type="final"}')
        proxy.lose_replies = True  # what the server sends from now on is lost on the way
        await send(ws, "append", "Two dogs ")
        await wait_for_metric(server, 'translator_messages_sent_total{type="final"}', finals_before + 1)
        proxy.drop()
        proxy.lose_replies = False
        ws2, before, ready2 = await resume(proxy.ws, ready["resume"], ack=-1)
        assert before == [] and ready2["segment"] == 1 and ready2["open_text_chars"] == len("Two dogs ")
        replayed = json.loads(await ws2.recv())
        assert replayed["type"] == "final" and replayed["segment"] == 0
        await send(ws2, "append", "are playing in the snow.")
        await send(ws2, "commit")
        rest = await receive_until(ws2, finals=1)
        check_stream_guarantees(
            [*seen, replayed, *rest], ["A man is riding a bicycle.", "Two dogs are playing in the snow."]
        )
        # With ?ack= the client says what it has: nothing is sent twice.
        ws2.transport.abort()
        ws3, _, ready3 = await resume(proxy.ws, ready["resume"], ack=1)
        assert ready3["segment"] == 2
        await send(ws3, "ping")
        assert json.loads(await asyncio.wait_for(ws3.recv(), 30)) == {"type": "pong"}
        await ws3.close()
    finally:
        proxy.stop()


def server_at(proxy: TcpProxy) -> Any:
    """``open_stream``'s server argument for a proxy."""

    class At:
        ws = proxy.ws

    return At()


async def test_messages_the_server_never_read_are_sent_again(server: Server) -> None:
    proxy = TcpProxy(server.port)
    try:
        ws, ready = await open_stream(server_at(proxy), Q)
        await send(ws, "append", "A woman is ")
        await until(ws, "partial")
        proxy.lose_requests = True
        await send(ws, "append", "reading a book.")  # never reaches the server
        await asyncio.sleep(0.3)
        proxy.drop()
        proxy.lose_requests = False
        ws2, _, ready2 = await resume(proxy.ws, ready["resume"])
        assert ready2["received"] == 1 and ready2["open_text_chars"] == len("A woman is ")
        await send(ws2, "append", "reading a book.")  # what the client sent after the first `received`
        await send(ws2, "commit")
        [final] = [m for m in await receive_until(ws2, finals=1) if m["type"] == "final"]
        assert (final["segment"], final["source"]) == (0, "A woman is reading a book.")
        await ws2.close()
    finally:
        proxy.stop()


async def test_acknowledged_finals_are_forgotten(server: Server) -> None:
    ws, ready = await open_stream(server, Q + "&partials=false")
    await send(ws, "append", "A dog runs. A cat sleeps. ")
    await send(ws, "commit")
    await receive_until(ws, finals=2)
    await ws.send(json.dumps({"type": "ack", "segment": 0}))
    await ws.send(json.dumps({"type": "ack", "segment": "one"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 30))["code"] == "invalid_segment"
    ws.transport.abort()
    ws2, _, ready2 = await resume(server.ws, ready["resume"], ack=-1)
    assert ready2["received"] == 4 and ready2["segment"] == 2  # every message read counts, acks too
    replayed = await receive_until(ws2, finals=1)
    assert [m["segment"] for m in replayed] == [1]  # segment 0 was acknowledged
    await ws2.close()


async def test_bad_tokens_get_resume_failed_and_a_new_stream(server: Server) -> None:
    # Unknown (never issued, malformed, or of a stream closed with 1000).
    for token in ("Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4", "x"):
        ws, before, ready = await resume(server.ws, token)
        assert [(e["code"], e["reason"]) for e in before] == [("resume_failed", "unknown")]
        assert "resumed" not in ready and ready["resume"] != token
        await ws.close()
    ws, ready = await open_stream(server, Q)
    await ws.close()  # 1000: the client is done, the server forgets the stream
    ws, before, _ = await resume(server.ws, ready["resume"])
    assert before[0]["reason"] == "unknown" and "new stream" in before[0]["message"]
    await ws.close()
    # In use: the first connection is still open.
    ws, ready = await open_stream(server, Q)
    await send(ws, "append", "Two birds ")
    second, before, ready2 = await resume(server.ws, ready["resume"])
    assert before[0]["reason"] == "in_use" and "resumed" not in ready2
    await second.close()
    # Another language pair: refused, and the stream stays there for its own client.
    ws.transport.abort()
    other, before, ready3 = await resume(server.ws, ready["resume"], query="source=de&target=en")
    assert before[0]["reason"] == "mismatch" and ready3["source"] == "de"
    await other.close()
    # ?resume=TOKEN alone: the stream's own pair.
    ws2, before, ready4 = await resume(server.ws, ready["resume"], query="pause_ms=0")
    assert before == [] and ready4["resumed"] and (ready4["source"], ready4["target"]) == ("en", "de")
    assert ready4["open_text_chars"] == len("Two birds ")
    await ws2.close()
    metrics = read_metrics(server)
    for reason in ("unknown", "in_use", "mismatch"):
        assert metric(metrics, f'translator_resume_attempts_total{{result="{reason}"}}') >= 1


async def test_the_time_away_is_no_pause_in_the_input(server: Server) -> None:
    """With the pause timer on, a resume after longer than the pause does not cut the open sentence."""
    ws, ready = await open_stream(server, "source=en&target=de&pause_ms=400")
    await send(ws, "append", "The children are eating ")
    await until(ws, "partial")
    ws.transport.abort()
    await asyncio.sleep(1.0)
    ws2, _, ready2 = await resume(server.ws, ready["resume"], query="source=en&target=de&pause_ms=400")
    assert ready2["open_text_chars"] == len("The children are eating ")
    await send(ws2, "append", "ice cream.")
    await send(ws2, "commit")
    finals = [m for m in await receive_until(ws2, finals=1) if m["type"] == "final"]
    assert [(f["segment"], f["source"]) for f in finals] == [(0, "The children are eating ice cream.")]
    await ws2.close()


@pytest.fixture(scope="module")
def bounded() -> Any:
    srv = Server("--resume-seconds", "3", "--resume-max-streams", "2", "--resume-max-finals", "2")
    yield srv
    srv.stop()


async def test_dropped_streams_expire(bounded: Server) -> None:
    ws, ready = await open_stream(bounded, Q)
    assert ready["resume_seconds"] == 3
    await send(ws, "append", "A man ")
    ws.transport.abort()
    await wait_for_metric(bounded, "translator_resume_streams_kept", 1)
    await asyncio.sleep(3.5)
    ws2, before, _ = await resume(bounded.ws, ready["resume"])
    assert before[0]["reason"] == "expired"
    await ws2.close()
    metrics = read_metrics(bounded)
    assert metric(metrics, "translator_resume_streams_kept") == 0
    assert metric(metrics, "translator_resume_expired_total") >= 1


async def test_the_memory_bound_drops_the_oldest_first(bounded: Server) -> None:
    evicted = metric(read_metrics(bounded), 'translator_resume_evicted_total{what="stream"}')
    tokens = []
    for n in range(3):
        ws, ready = await open_stream(bounded, Q + "&partials=false")
        await send(ws, "append", f"Person {n} ")
        await send(ws, "ping")
        await until(ws, "pong")
        ws.transport.abort()
        tokens.append(ready["resume"])
        await wait_for_metric(bounded, "translator_resume_streams_kept", min(n + 1, 2))  # parked in this order
    await wait_for_metric(bounded, 'translator_resume_evicted_total{what="stream"}', evicted + 1)
    ws, before, _ = await resume(bounded.ws, tokens[0])
    assert before[0]["reason"] == "evicted"
    await ws.close()
    ws, before, ready = await resume(bounded.ws, tokens[2], query=Q + "&partials=false")
    assert before == [] and ready["open_text_chars"] == len("Person 2 ")
    await ws.close()
    # A stream keeps at most resume-max-finals unacknowledged finals: the oldest go first.
    finals_evicted = metric(read_metrics(bounded), 'translator_resume_evicted_total{what="final"}')
    proxy = TcpProxy(bounded.port)
    try:
        ws, ready = await open_stream(server_at(proxy), Q + "&partials=false")
        proxy.lose_replies = True
        await send(ws, "append", "One dog. Two cats. Three birds. Four fish.")
        await send(ws, "commit")
        await wait_for_metric(bounded, 'translator_resume_evicted_total{what="final"}', finals_evicted + 2)
        proxy.drop()
        proxy.lose_replies = False
        ws2, _, _ = await resume(proxy.ws, ready["resume"], query=Q + "&partials=false")
        assert [m["segment"] for m in await receive_until(ws2, finals=2)] == [2, 3]
        await ws2.close()
    finally:
        proxy.stop()


async def test_foreign_tokens_are_refused_and_tokens_never_reach_the_log(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("key-one\nkey-two\n")
    srv = Server("--api-keys-file", str(keys), "--log-level", "info")
    try:
        ws, ready = await open_stream(srv, Q + "&api_key=key-one")
        await send(ws, "append", "A horse ")
        ws.transport.abort()
        token = ready["resume"]
        other, before, ready2 = await resume(srv.ws, token, query=Q + "&api_key=key-two")
        assert before[0]["reason"] == "forbidden" and "resumed" not in ready2
        await other.close()
        ws2, before, ready3 = await resume(srv.ws, token, query=Q + "&api_key=key-one")
        assert before == [] and ready3["open_text_chars"] == len("A horse ")
        await ws2.close()
    finally:
        srv.stop()
    assert "/v1/stream" in srv.output and "resume=***" in srv.output  # the access log was on
    assert token not in srv.output


# Across replicas: a drain hands streams over through Redis ------------------------------------------


async def test_a_drained_stream_resumes_on_another_replica(redis_server: RedisServer) -> None:
    from translator.client import StreamClient

    a = Server("--redis-url", redis_server.url, "--drain-grace", "30")
    b = Server("--redis-url", redis_server.url)
    proxy = TcpProxy(a.port)  # the load balancer: A, until A drains
    try:
        # 1. A raw client whose last finals are lost on the way while A drains.
        raw, ready = await open_stream(server_at(proxy), Q)
        await send(raw, "append", "A man is riding a bicycle. Two dogs are")
        seen = await receive_until(raw, finals=1)
        # 2. A StreamClient, which resumes by itself.
        client = await StreamClient.connect(proxy.http, "en", "de", pause_ms="0")
        await client.append("The children are eating ")
        # 3. A stream dropped before the drain, parked on A with its open text.
        parked, parked_ready = await open_stream(server_at(proxy), Q)
        await send(parked, "append", "Three people are ")
        await until(parked, "partial")
        parked.transport.abort()
        # 4. A stream dropped on A and resumed on B, before the drain: from Redis; A knows it is taken.
        moved, moved_ready = await open_stream(server_at(proxy), Q)
        await send(moved, "append", "Four birds are ")
        await until(moved, "partial")
        moved.transport.abort()
        await wait_for_metric(a, "translator_resume_streams_kept", 2)

        proxy.upstream = b.port  # new connections go to B
        moved2, before, ready_b = await resume(proxy.ws, moved_ready["resume"])
        assert before == [] and ready_b["resumed"] and ready_b["open_text_chars"] == len("Four birds are ")
        again, before, _ = await resume(a.ws, moved_ready["resume"])
        assert before[0]["reason"] == "in_use"  # on B now
        await again.close()
        await send(moved2, "append", "singing.")
        await send(moved2, "commit")
        [final] = [m for m in await receive_until(moved2, finals=1) if m["type"] == "final"]
        assert (final["segment"], final["source"]) == (0, "Four birds are singing.")
        await moved2.close()

        proxy.lose_replies = True  # A's last finals and its 1001 never reach the raw client...
        a.process.send_signal(signal.SIGTERM)
        assert a.process.wait(timeout=60) == 0
        proxy.drop()
        proxy.lose_replies = False

        raw2, before, ready2 = await resume(proxy.ws, ready["resume"], ack=0)
        assert before == [] and ready2["resumed"] and ready2["segment"] == 2 and ready2["open_text_chars"] == 0
        await send(raw2, "append", "playing in the snow.")
        await send(raw2, "commit")
        rest = await receive_until(raw2, finals=2)  # the one lost during the drain, and the new one
        check_stream_guarantees(seen + rest, ["A man is riding a bicycle.", "Two dogs are", "playing in the snow."])
        await raw2.close()

        await client.append("ice cream.")  # after A's 1001 the client resumed on B
        await client.commit()
        finals = []
        while len(finals) < 2:
            message = await client.recv(timeout=60)
            if message["type"] == "final":
                finals.append(message)
        assert [(f["segment"], f["source"]) for f in finals] == [(0, "The children are eating"), (1, "ice cream.")]
        assert client.resumed == 1
        await client.close()

        parked2, before, ready3 = await resume(proxy.ws, parked_ready["resume"])
        assert before == [] and ready3["open_text_chars"] == len("Three people are ")  # handed over as it was
        await send(parked2, "append", "walking.")
        await send(parked2, "commit")
        [final] = [m for m in await receive_until(parked2, finals=1) if m["type"] == "final"]
        assert (final["segment"], final["source"]) == (0, "Three people are walking.")
        await parked2.close()
    finally:
        proxy.stop()
        a.stop()
        b.stop()
    assert ready["resume"] not in a.output + b.output
    assert redis_server.client().keys("translator:v1:resume:*") == []


# Soak: many clients, random drops --------------------------------------------------------------------


async def test_soak_random_drops_lose_nothing_and_leave_nothing_behind() -> None:
    from translator.client import StreamClient

    srv = Server("--resume-seconds", "2")
    rng = random.Random(16)
    words = "A man with a red hat is walking his small dog along the river bank today".split()
    try:
        before = read_metrics(srv)

        async def speaker(n: int) -> int:
            client = await StreamClient.connect(
                srv.http, "en", "de", pause_ms="0", partials=rng.choice(["true", "false"])
            )
            sentences = [" ".join(words[: 4 + (n + k) % 8]) + f" number {n} {k}." for k in range(3)]
            drops = 0
            dropped: list[object] = []

            def drop() -> None:
                nonlocal drops
                if not any(ws is client.ws for ws in dropped):  # one drop per connection
                    dropped.append(client.ws)
                    client.ws.transport.abort()
                    drops += 1

            for sentence in sentences:
                for word in sentence.split():
                    await client.append(word + " ")
                    if rng.random() < 0.04:
                        drop()
            await client.commit()
            finals: list[dict[str, Any]] = []
            async with asyncio.timeout(120):
                while len(finals) < len(sentences):
                    message = await client.recv()
                    if message["type"] == "final":
                        finals.append(message)
                        if len(finals) < len(sentences) and rng.random() < 0.3:
                            drop()  # finals on the way are lost
            assert [f["segment"] for f in finals] == [0, 1, 2]
            assert [f["source"] for f in finals] == sentences
            # A drop is resumed, unless what was still to come had reached the client already.
            assert client.resumed <= drops
            resumed = client.resumed
            if n % 4 == 0:  # gone for good: its stream expires
                client.resume = False
                client.ws.transport.abort()
            await client.close()
            return resumed

        async def rounds() -> AsyncIterator[int]:
            for start in (0, 16, 32):
                for drops in await asyncio.gather(*(speaker(n) for n in range(start, start + 16))):
                    yield drops

        total = [d async for d in rounds()]
        assert sum(total) >= 10
        await asyncio.sleep(3.5)  # past resume-seconds: the abandoned streams expire
        after = read_metrics(srv)
        assert metric(after, "translator_connections_active") == 0
        assert metric(after, "translator_resume_streams_kept") == 0
        assert metric(after, "translator_resume_finals_kept") == 0
        assert metric(after, "translator_resume_kept_chars") == 0
        assert metric(after, 'translator_resume_attempts_total{result="resumed"}') == sum(total)
        assert metric(after, "translator_resume_expired_total") >= 12  # the abandoned ones
        assert metric(after, "translator_asyncio_tasks") <= metric(before, "translator_asyncio_tasks") + 2
        growth = metric(after, "translator_process_resident_bytes") - metric(
            before, "translator_process_resident_bytes"
        )
        assert growth < 64 * 1024 * 1024, f"resident memory grew by {growth / 1e6:.1f} MB"
    finally:
        srv.stop()
