"""Sessions across replicas through Redis pub/sub: real replicas, a real redis-server, killed and back."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import RedisServer, Server
from tests.conftest import server_metric as metric
from translator.client import StreamClient


async def watch(server: Server, name: str) -> ClientConnection:
    viewer = await connect(f"{server.ws}/v1/stream?session={name}&role=viewer")
    assert json.loads(await viewer.recv())["role"] == "viewer"
    return viewer


async def speak(server: Server, name: str, text: str) -> list[dict[str, Any]]:
    """What the speaker receives for ``text``, up to its final."""
    async with await StreamClient.connect(server.http, "en", "de", session=name) as speaker:
        await speaker.append(text)
        await speaker.commit()
        spoken = [await speaker.recv(timeout=60)]
        while spoken[-1]["type"] != "final":
            spoken.append(await speaker.recv(timeout=60))
    return spoken


async def seen_until_final(viewer: ClientConnection, timeout: float = 10) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not seen or seen[-1]["type"] != "final":
            seen.append(json.loads(await viewer.recv()))
    return seen


async def nothing_more(viewer: ClientConnection, quiet: float = 0.7) -> bool:
    try:
        await asyncio.wait_for(viewer.recv(), quiet)
    except TimeoutError:
        return True
    return False


async def wait_for_metric(server: Server, name: str, value: float, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while metric(server, name) != value:
        assert time.monotonic() < deadline, f"{name} never became {value}"
        await asyncio.sleep(0.1)


async def test_viewers_on_any_replica_see_the_speaker(redis_server: RedisServer) -> None:
    env = {"TRANSLATOR_REDIS_URL": redis_server.url}
    a, b = Server("--inter-threads", "1", env=env), Server("--inter-threads", "1", env=env)
    try:
        await wait_for_metric(a, "translator_session_relay_up", 1)
        await wait_for_metric(b, "translator_session_relay_up", 1)
        local, remote = await watch(a, "talk"), await watch(b, "talk")
        spoken = await speak(a, "talk", "A man in a green hat is playing the guitar.")
        # The same messages, in the same order, once each: locally and on the other replica.
        assert await seen_until_final(local) == spoken
        assert await seen_until_final(remote) == spoken
        assert await nothing_more(local) and await nothing_more(remote)
        assert metric(b, "translator_session_relay_received_total") == len(spoken)
        # Other sessions stay apart.
        other = await watch(b, "another-talk")
        await speak(a, "talk", "Two girls are laughing.")
        assert await nothing_more(other)
        for viewer in (local, remote, other):
            await viewer.close()
    finally:
        a.stop()
        b.stop()


async def test_redis_down_keeps_local_viewers_and_the_relay_comes_back(redis_server: RedisServer) -> None:
    env = {"TRANSLATOR_REDIS_URL": redis_server.url, "TRANSLATOR_REDIS_RETRY_SECONDS": "0.3"}
    a, b = Server("--inter-threads", "1", env=env), Server("--inter-threads", "1", env=env)
    try:
        await wait_for_metric(b, "translator_session_relay_up", 1)
        local, remote = await watch(a, "live"), await watch(b, "live")
        redis_server.kill()
        spoken = await speak(a, "live", "A dog is running through the tall grass.")
        assert await seen_until_final(local) == spoken  # the speaker's own replica still serves its viewers
        assert await nothing_more(remote)
        assert metric(a, "translator_session_relay_dropped_total") >= 1
        await wait_for_metric(b, "translator_session_relay_up", 0)
        redis_server.start()
        await wait_for_metric(a, "translator_session_relay_up", 1)
        await wait_for_metric(b, "translator_session_relay_up", 1)
        spoken = await speak(a, "live", "The sun is setting over the lake.")
        assert await seen_until_final(remote) == spoken
        await seen_until_final(local)
        for viewer in (local, remote):
            await viewer.close()
    finally:
        a.stop()
        b.stop()
    assert "session relay redis://127.0.0.1" in a.output and "publishing again" in a.output
