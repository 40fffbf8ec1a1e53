"""The shared Redis cache: a real redis-server, killed, slowed and restarted; real server processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

from tests.conftest import RedisServer, Server, free_port, open_stream, receive_until, send
from tests.conftest import post_json_url as post_json
from tests.conftest import server_metric as metric
from translator.server.settings import ServerConfig
from translator.service.shared_cache import SharedCache, safe_url


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


async def final_of(server: Server, sentence: str) -> dict[str, Any]:
    ws, _ = await open_stream(server)
    await send(ws, "append", sentence)
    await send(ws, "commit")
    final = [m for m in await receive_until(ws, finals=1, timeout=30) if m["type"] == "final"][-1]
    await ws.close()
    return final


def test_keys_follow_the_model_and_the_normalized_text() -> None:
    key = SharedCache.key("abc", "en", "de", "A dog  runs.")
    assert key == SharedCache.key("abc", "en", "de", " A dog runs. ")
    assert key != SharedCache.key("abd", "en", "de", "A dog runs.")
    assert key != SharedCache.key("abc", "en", "fr", "A dog runs.")
    assert key != SharedCache.key("abc", "en", "de", "a dog runs.")
    assert key.startswith("translator:v1:abc:en-de:")


def test_passwords_never_reach_the_logs() -> None:
    assert safe_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert safe_url("rediss://user:s3cret@cache/1") == "rediss://user:***@cache/1"
    assert safe_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="redis://"):
        ServerConfig(redis_url="http://cache:6379")
    with pytest.raises(ValueError, match="positive"):
        ServerConfig(redis_url="redis://cache", redis_timeout_ms=0)
    with pytest.raises(ValueError, match="positive"):
        SharedCache("redis://cache", ttl=0)


async def test_round_trip_with_ttl(redis_server: RedisServer) -> None:
    cache = SharedCache(redis_server.url, ttl=60)
    try:
        assert await cache.check()
        keys = [SharedCache.key("m", "en", "de", t) for t in ("One.", "Two.")]
        assert await cache.get_many(keys) == [None, None]
        cache.put({keys[0]: "Eins."})
        await asyncio.sleep(0.2)
        assert await cache.get_many(keys) == ["Eins.", None]
        assert (cache.hits, cache.misses, cache.errors) == (1, 3, 0)
        assert 0 < redis_server.client().ttl(keys[0]) <= 60
    finally:
        await cache.close()


async def test_a_dead_redis_costs_one_bounded_call_per_interval() -> None:
    cache = SharedCache(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, retry_after=30)
    try:
        start = time.perf_counter()
        assert await cache.get_many(["k"]) == [None]
        assert time.perf_counter() - start < 1.0
        assert not cache.up and cache.errors == 1
        for _ in range(100):  # skipped while down: no more errors, no waiting
            assert await cache.get_many(["k"]) == [None]
        cache.put({"k": "v"})
        assert cache.errors == 1 and cache.writes_dropped == 1 and cache.misses == 101
    finally:
        await cache.close()


async def test_a_slow_redis_times_out_and_recovers(redis_server: RedisServer) -> None:
    cache = SharedCache(redis_server.url, timeout=0.1, retry_after=0.3)
    try:
        key = SharedCache.key("m", "en", "de", "Slow.")
        cache.put({key: "Langsam."})
        await asyncio.sleep(0.2)
        # Redis stalls every client for 1.5 s: the lookup gives up after its timeout instead of waiting.
        redis_server.client().execute_command("CLIENT", "PAUSE", "1500", "ALL")
        start = time.perf_counter()
        assert await cache.get_many([key]) == [None]
        assert time.perf_counter() - start < 0.5 and not cache.up
        assert await cache.get_many([key]) == [None]  # skipped while down
        await asyncio.sleep(1.6)
        assert await cache.get_many([key]) == ["Langsam."] and cache.up
    finally:
        await cache.close()


async def test_a_sentence_cached_by_one_replica_is_a_hit_on_the_other(redis_server: RedisServer) -> None:
    env = {"TRANSLATOR_REDIS_URL": redis_server.url}
    a, b = Server("--inter-threads", "1", env=env), Server("--inter-threads", "1", env=env)
    try:
        sentence = "A boy in a yellow jacket is jumping over a puddle."
        first = await final_of(a, sentence)
        await asyncio.sleep(0.3)  # the write to Redis happens after the final is sent
        second = await final_of(b, sentence)
        assert first["cached"] is False and second["cached"] is True
        assert second["text"] == first["text"]
        assert metric(b, "translator_shared_cache_hits_total") == 1
        assert metric(b, 'translator_translations_total{kind="final"}', default=0) == 0
        # REST shares the same entries: a batch translated on A is answered on B without the model.
        texts = ["Three girls are sitting on a bench.", "A man is cooking in a small kitchen."]
        on_a = post_json(f"{a.http}/translate", {"q": texts, "source": "en", "target": "de"})
        await asyncio.sleep(0.3)
        on_b = post_json(f"{b.http}/translate", {"q": texts, "source": "en", "target": "de"})
        assert on_b == on_a
        assert metric(b, "translator_shared_cache_hits_total") == 3
        assert get_json(f"{b.http}/readyz")["shared_cache"] == "up"
        assert redis_server.client().dbsize() == 3
    finally:
        a.stop()
        b.stop()


async def test_redis_killed_mid_stream_then_back(redis_server: RedisServer) -> None:
    env = {"TRANSLATOR_REDIS_URL": redis_server.url, "TRANSLATOR_REDIS_RETRY_SECONDS": "0.5"}
    server = Server("--inter-threads", "1", env=env)
    try:
        ws, _ = await open_stream(server)
        await send(ws, "append", "Two women are walking along the beach.")
        await send(ws, "commit")
        await receive_until(ws, finals=1, timeout=30)
        redis_server.kill()
        # The stream goes on: finals arrive, each within the bounded Redis timeout of the model's time.
        for sentence in ("A dog is catching a red frisbee.", "An old man is selling fruit at a market."):
            start = time.perf_counter()
            await send(ws, "append", " " + sentence)
            await send(ws, "commit")
            messages = await receive_until(ws, finals=1, timeout=30)
            assert time.perf_counter() - start < 5
            assert messages[-1]["type"] == "final" and messages[-1]["text"]
        assert metric(server, "translator_shared_cache_up") == 0
        assert metric(server, "translator_shared_cache_errors_total") >= 1
        assert get_json(f"{server.http}/readyz") == {
            "status": "ready",
            "pairs": ["de-en", "en-de"],
            "shared_cache": "down",
        }
        # Redis returns (empty, as after a crash); after the retry interval the cache is used again.
        redis_server.start()
        await asyncio.sleep(0.7)
        await send(ws, "append", "The children are building a sandcastle.")
        await send(ws, "commit")
        await receive_until(ws, finals=1, timeout=30)
        await ws.close()
        deadline = time.monotonic() + 5
        while redis_server.client().dbsize() == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert redis_server.client().dbsize() >= 1
        assert metric(server, "translator_shared_cache_up") == 1
    finally:
        server.stop()
    assert "shared cache redis://127.0.0.1" in server.output and "is back" in server.output


def test_the_service_starts_without_its_redis_and_hides_the_password() -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    server = Server(env={"TRANSLATOR_REDIS_URL": url})
    try:
        assert get_json(f"{server.http}/readyz")["shared_cache"] == "down"
        body = post_json(f"{server.http}/translate", {"q": "A cat sleeps.", "source": "en", "target": "de"})
        assert body["translatedText"]
    finally:
        server.stop()
    assert "***@127.0.0.1" in server.output and "s3cret" not in server.output


def test_bench_spreads_load_over_replicas_and_sees_the_shared_cache(redis_server: RedisServer) -> None:
    env = {"TRANSLATOR_REDIS_URL": redis_server.url}
    a, b = Server("--inter-threads", "1", env=env), Server("--inter-threads", "1", env=env)
    try:
        args = ["--url", f"{a.http},{b.http}", "--streams", "4", "--wpm", "0", "--sentences", "2"]
        args += ["--rest", "2", "--requests", "2", "--shared-cache-check", "5", "--json"]
        proc = subprocess.run(
            [sys.executable, "-m", "translator", "bench", *args], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        check, stream, rest = json.loads(proc.stdout)
        assert stream["replicas"] == rest["replicas"] == 2
        assert stream["sentences"] == 8 and rest["requests"] == 4 and stream["errors"] == rest["errors"] == 0
        assert check["mode"] == "shared-cache" and check["sentences"] == 5
        assert check["first_replica_cached"] == 0 and check["second_replica_cached"] == 5
        # Both replicas carried streams (the check adds one more to each).
        assert metric(a, "translator_connections_total") == metric(b, "translator_connections_total") == 3
    finally:
        a.stop()
        b.stop()
    one = subprocess.run(
        [sys.executable, "-m", "translator", "bench", "--url", a.http, "--shared-cache-check", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert one.returncode == 2 and "two servers" in one.stderr


async def test_replicas_with_other_decoding_settings_do_not_share_entries(redis_server: RedisServer) -> None:
    """As in a rolling update that changes the beam size: the new replicas must not serve the old results."""
    env = {"TRANSLATOR_REDIS_URL": redis_server.url}
    a, b = Server("--beam-size", "4", env=env), Server("--beam-size", "1", env=env)
    try:
        sentence = "A street musician is playing the violin for a small crowd."
        assert (await final_of(a, sentence))["cached"] is False
        await asyncio.sleep(0.3)
        assert (await final_of(b, sentence))["cached"] is False
        assert redis_server.client().dbsize() == 2
    finally:
        a.stop()
        b.stop()
