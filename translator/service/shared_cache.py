"""The optional second-level phrase cache in Redis, shared by every replica of the service.

The in-process LRU (translator.service.cache) answers first; on a miss the service asks Redis, and every final
translation the model makes is written to Redis with a TTL. Redis is a help, never a dependency: every
call is bounded by a short timeout, and after a failure the cache is skipped for a while (``retry_after``)
so that a dead or slow Redis costs one timeout per interval, not one per sentence.

Keys carry a fingerprint of the model and its decoding options, so replicas running different model
versions (a rolling update) never serve each other's translations.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from translator.text import normalize_spaces

logger = logging.getLogger("translator.shared_cache")

KEY_PREFIX = "translator:v1"


def bounded_client(url: str, timeout: float, *, decode_responses: bool = False) -> Redis:
    """A Redis client whose every call and connection attempt gives up after ``timeout`` seconds, with
    one immediate retry (a connection left stale by a Redis restart is replaced, not reported); the bound
    on a whole call is the caller's ``asyncio.wait_for``, not a retry policy's."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        decode_responses=decode_responses,
    )


def safe_url(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=user + host).geturl()


class SharedCache:
    """Redis behind the LRU: ``get_many`` on a miss, ``put`` after the model (written in the background)."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 7 * 24 * 3600,
        timeout: float = 0.1,
        retry_after: float = 5.0,
        max_pending_writes: int = 256,
    ) -> None:
        if ttl <= 0:
            raise ValueError("the shared cache TTL must be positive")
        if timeout <= 0:
            raise ValueError("the shared cache timeout must be positive")
        self.url = url
        self.ttl = max(1, round(ttl))
        self.timeout = timeout
        self.retry_after = retry_after
        self.max_pending_writes = max_pending_writes
        self._redis = bounded_client(url, timeout, decode_responses=True)
        self._down_until = 0.0
        self._up = True
        self._writes: set[asyncio.Task[None]] = set()
        self.hits = 0
        self.misses = 0
        self.errors = 0
        self.writes_dropped = 0

    @property
    def up(self) -> bool:
        """False from a failure until the next successful call."""
        return self._up

    @staticmethod
    def key(fingerprint: str, source: str, target: str, text: str) -> str:
        digest = hashlib.blake2b(normalize_spaces(text).encode("utf-8"), digest_size=16).hexdigest()
        return f"{KEY_PREFIX}:{fingerprint}:{source}-{target}:{digest}"

    async def check(self) -> bool:
        """Ping Redis (at startup, for the log); never raises."""
        try:
            await asyncio.wait_for(self._redis.ping(), self.timeout)
        except Exception as exc:  # a cache must not take the service down, whatever the client raises
            self._failed("ping", exc)
            return False
        self._succeeded()
        return True

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """The cached values (None where missing), or all None if Redis is down or slow."""
        if not keys:
            return []
        if self._skipping():
            self.misses += len(keys)
            return [None] * len(keys)
        try:
            values = await asyncio.wait_for(self._redis.mget(list(keys)), self.timeout)
        except Exception as exc:
            self._failed("get", exc)
            self.misses += len(keys)
            return [None] * len(keys)
        self._succeeded()
        found = sum(v is not None for v in values)
        self.hits += found
        self.misses += len(keys) - found
        return [v if isinstance(v, str) else None for v in values]

    def put(self, items: dict[str, str]) -> None:
        """Write translations in the background; dropped (and counted) while Redis is down or backed up."""
        if not items:
            return
        if self._skipping() or len(self._writes) >= self.max_pending_writes:
            self.writes_dropped += len(items)
            return
        task = asyncio.get_running_loop().create_task(self._write(dict(items)))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, items: dict[str, str]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(key, value, ex=self.ttl)
            await asyncio.wait_for(pipe.execute(), self.timeout)
        except Exception as exc:
            self._failed("put", exc)
            self.writes_dropped += len(items)
        else:
            self._succeeded()

    async def close(self) -> None:
        """Let pending writes finish (bounded by their timeout), then close the connections."""
        if self._writes:
            await asyncio.wait(list(self._writes), timeout=2 * self.timeout + 0.1)
        for task in list(self._writes):
            task.cancel()
        try:
            await self._redis.aclose()
        except Exception:  # closing a broken connection can fail; nothing is lost
            logger.debug("closing the shared cache connection failed", exc_info=True)

    def _skipping(self) -> bool:
        return not self._up and time.monotonic() < self._down_until

    def _failed(self, op: str, exc: BaseException) -> None:
        self.errors += 1
        if self._up:
            logger.warning(
                "shared cache %s failed on %s (%s); serving without it, retrying every %gs",
                safe_url(self.url),
                op,
                type(exc).__name__ if isinstance(exc, TimeoutError) else exc,
                self.retry_after,
            )
        self._up = False
        self._down_until = time.monotonic() + self.retry_after

    def _succeeded(self) -> None:
        if not self._up:
            logger.warning("shared cache %s is back", safe_url(self.url))
        self._up = True
