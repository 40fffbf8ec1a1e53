"""Sessions across replicas: speakers' messages relayed through Redis pub/sub.

Every replica publishes its speakers' session messages on ``translator:v1:session:<name>`` and listens
to all session channels, handing what other replicas sent to its own viewers of that session. So a
speaker and its viewers may be connected to different replicas. Messages of one replica keep their order
(one sender task, one connection). A backed-up outbox follows translator.newest: a newer partial of a
segment replaces the waiting one, and a full outbox drops partials first. Redis down: each replica still
serves its own viewers; messages for other replicas' viewers are dropped (counted) until Redis is back,
and the listener reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from translator.service.sessions import Mailbox, SessionHub, partial_key
from translator.service.shared_cache import bounded_client, safe_url

logger = logging.getLogger("translator.session_relay")

CHANNEL_PREFIX = "translator:v1:session:"
OUTBOX = 1024


class SessionRelay:
    def __init__(self, url: str, hub: SessionHub, *, timeout: float = 0.1, retry_after: float = 1.0) -> None:
        self.url = url
        self.hub = hub
        self.timeout = timeout
        self.retry_after = retry_after
        self.origin = uuid.uuid4().hex  # this process: its own messages come back and are skipped
        self._publisher = bounded_client(url, timeout)
        # The listener waits for messages indefinitely; only its connection attempts are bounded.
        self._listener = Redis.from_url(url, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
        self._outbox: Mailbox[tuple[str, str]] = Mailbox(OUTBOX)
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = False
        self.sent = 0
        self.received = 0
        self.failed = 0  # publish calls that failed or timed out

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._send_loop()), asyncio.create_task(self._listen_loop())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in (self._publisher, self._listener):
            try:
                await client.aclose()
            except Exception:  # a broken connection may fail to close; nothing is lost
                logger.debug("closing a relay connection failed", exc_info=True)

    @property
    def dropped(self) -> int:
        """Session messages not published: the outbox was full, or publishing failed."""
        return self._outbox.queue.dropped + self.failed

    def send(self, name: str, message: dict[str, Any], stream: int | None = None) -> None:
        """Queue a speaker's message for the other replicas (never waits; full queue: partials dropped first).

        ``stream`` tells this replica's speakers apart (see SessionHub.publish); it travels along."""
        envelope: dict[str, Any] = {"origin": self.origin, "message": message}
        if stream is not None:
            envelope["stream"] = stream
        payload = json.dumps(envelope, ensure_ascii=False)
        self._outbox.put((CHANNEL_PREFIX + name, payload), partial_key(stream, message))

    async def _send_loop(self) -> None:
        down = False
        while True:
            channel, payload = await self._outbox.get()
            try:
                await asyncio.wait_for(self._publisher.publish(channel, payload), self.timeout)
                self.sent += 1
                if down:
                    logger.warning("session relay %s: publishing again", safe_url(self.url))
                    down = False
            except Exception as exc:  # Redis trouble must never stop the speakers
                self.failed += 1
                if not down:
                    logger.warning("session relay %s: publish failed (%s); local viewers only", safe_url(self.url), exc)
                    down = True

    async def _listen_loop(self) -> None:
        while True:
            pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
            try:
                await asyncio.wait_for(pubsub.psubscribe(CHANNEL_PREFIX + "*"), self.timeout * 10)
                if not self.listening:
                    logger.info("session relay %s: listening", safe_url(self.url))
                self.listening = True
                while True:
                    item = await pubsub.get_message(timeout=1.0)
                    if item is not None:
                        self._deliver(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.listening:
                    logger.warning("session relay %s: listening failed (%s); retrying", safe_url(self.url), exc)
                self.listening = False
                await asyncio.sleep(self.retry_after)
            finally:
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
                except Exception:
                    logger.debug("closing the relay subscription failed", exc_info=True)

    def _deliver(self, item: dict[str, Any]) -> None:
        try:
            channel = item["channel"].decode() if isinstance(item["channel"], bytes) else str(item["channel"])
            data = json.loads(item["data"])
        except (KeyError, ValueError, TypeError):
            return
        if not isinstance(data, dict) or data.get("origin") == self.origin or not channel.startswith(CHANNEL_PREFIX):
            return
        message, stream = data.get("message"), data.get("stream")
        if not isinstance(message, dict):
            return
        self.received += 1
        # Another replica's speaker: its stream number is unique together with that replica's origin.
        key = (str(data.get("origin")), stream) if isinstance(stream, int) else None
        self.hub.deliver(channel[len(CHANNEL_PREFIX) :], message, key)
