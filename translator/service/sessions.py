"""Named sessions: viewers (e.g. a caption overlay) watch what another client's stream receives.

Within one process the hub hands a speaker's messages to its viewers; with a relay
(translator.service.session_relay) they also reach viewers connected to other replicas.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any, Generic, Protocol, TypeVar

from translator.newest import NewestQueue

VIEWER_QUEUE = 256

T = TypeVar("T")


class Relay(Protocol):
    def send(self, name: str, message: dict[str, Any], stream: int | None = None) -> None: ...


def partial_key(stream: Hashable | None, message: dict[str, Any]) -> Hashable | None:
    """The key under which a newer partial replaces a waiting one: the same stream's same segment.

    Not a partial: None (never replaced). A partial of an unknown stream gets a key of its own: it is
    dropped first when a queue is full, but never replaced (it may be another speaker's)."""
    if message.get("type") != "partial":
        return None
    return (stream, message.get("segment")) if stream is not None else object()


class Mailbox(Generic[T]):
    """A NewestQueue (translator.newest) that one task awaits: ``put`` never waits, ``get`` does."""

    def __init__(self, maxlen: int | None = None) -> None:
        self.queue: NewestQueue[T] = NewestQueue(maxlen)
        self._ready = asyncio.Event()

    def put(self, item: T, key: Hashable | None = None) -> bool:
        """Queue ``item`` (see NewestQueue.put); False when the bound dropped it."""
        queued = self.queue.put(item, key)
        self._ready.set()
        return queued

    async def get(self) -> T:
        while not self.queue:
            self._ready.clear()
            await self._ready.wait()
        return self.queue.popleft()

    def __len__(self) -> int:
        return len(self.queue)


class SessionHub:
    def __init__(self) -> None:
        self._viewers: dict[str, set[Mailbox[dict[str, Any]]]] = {}
        self.relay: Relay | None = None

    def watch(self, name: str) -> Mailbox[dict[str, Any]]:
        mailbox: Mailbox[dict[str, Any]] = Mailbox(VIEWER_QUEUE)
        self._viewers.setdefault(name, set()).add(mailbox)
        return mailbox

    def unwatch(self, name: str, mailbox: Mailbox[dict[str, Any]]) -> None:
        viewers = self._viewers.get(name)
        if viewers is not None:
            viewers.discard(mailbox)
            if not viewers:
                del self._viewers[name]

    def publish(self, name: str, message: dict[str, Any], stream: int | None = None) -> None:
        """A speaker's message: to this process's viewers, and through the relay to other replicas'.

        ``stream`` tells the speaker's messages apart from other speakers' in the same session (so that
        only its own newer partial replaces its waiting one)."""
        self.deliver(name, message, stream)
        if self.relay is not None:
            self.relay.send(name, message, stream)

    def deliver(self, name: str, message: dict[str, Any], stream: Hashable | None = None) -> None:
        """Hand a message to every local viewer. A viewer that is behind gets the newest partial of a
        segment in place of the one still waiting; a full queue drops its oldest partial first."""
        key = partial_key(stream, message)
        for mailbox in self._viewers.get(name, ()):
            mailbox.put(message, key)
