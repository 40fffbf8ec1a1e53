"""Resumable streams in Redis, so that a stream a draining replica closed can be resumed on another one.

The draining replica writes each stream's state (an opaque text, see ``translator.server.resume``) under
its resume token with the time it has left; whichever replica the client reconnects to takes it with one
``GETDEL``, so that exactly one connection gets it. The key holds a digest of the token, never the token.
Like the shared cache, Redis is a help, never a dependency: every call is bounded by a timeout, and a
failure is reported to the caller (the stream then stays on this replica, or the resume fails with
``unavailable``), never raised into a connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from translator.service.shared_cache import bounded_client, safe_url

logger = logging.getLogger("translator.resume_store")

KEY_PREFIX = "translator:v1:resume:"


class StoreError(Exception):
    """Redis did not answer (down, slow or refusing); the message says why, without the URL's password."""


class ResumeStore:
    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        if timeout <= 0:
            raise ValueError("the resume store timeout must be positive")
        self.url = url
        self.timeout = timeout
        self._redis = bounded_client(url, timeout, decode_responses=True)
        self.up = True
        self.errors = 0

    @staticmethod
    def key(token: str) -> str:
        return KEY_PREFIX + hashlib.blake2b(token.encode("utf-8"), digest_size=16).hexdigest()

    async def put(self, token: str, value: str, ttl: float, *, only_if_absent: bool = False) -> bool:
        """Keep ``value`` under ``token`` for ``ttl`` seconds (``only_if_absent``: unless there is a value);
        False if it was not written (Redis failed: logged)."""
        millis = int(ttl * 1000)
        if millis <= 0:
            return False
        try:
            done = await asyncio.wait_for(
                self._redis.set(self.key(token), value, px=millis, nx=only_if_absent), self.timeout
            )
        except Exception as exc:  # Redis trouble must never break a stream
            self._failed("write", exc)
            return False
        self._succeeded()
        return bool(done)

    async def take(self, token: str) -> str | None:
        """The value under ``token``, removed in the same step (None: there is none); StoreError if Redis
        failed."""
        try:
            value = await asyncio.wait_for(self._redis.getdel(self.key(token)), self.timeout)
        except Exception as exc:
            self._failed("take", exc)
            raise StoreError(f"resume store {safe_url(self.url)}: {type(exc).__name__}") from None
        self._succeeded()
        return value if isinstance(value, str) else None

    async def peek(self, token: str) -> str | None:
        """The value under ``token`` without taking it; None if there is none or Redis failed."""
        try:
            value = await asyncio.wait_for(self._redis.get(self.key(token)), self.timeout)
        except Exception as exc:
            self._failed("peek", exc)
            return None
        self._succeeded()
        return value if isinstance(value, str) else None

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except Exception:  # closing a broken connection can fail; nothing is lost
            logger.debug("closing the resume store connection failed", exc_info=True)

    def _failed(self, op: str, exc: BaseException) -> None:
        self.errors += 1
        if self.up:
            logger.warning(
                "resume store %s failed on %s (%s); streams stay on this replica",
                safe_url(self.url),
                op,
                type(exc).__name__ if isinstance(exc, TimeoutError) else exc,
            )
        self.up = False

    def _succeeded(self) -> None:
        if not self.up:
            logger.warning("resume store %s is back", safe_url(self.url))
        self.up = True
