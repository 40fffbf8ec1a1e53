"""Named sessions: viewers (e.g. a caption overlay) watch what another client's stream receives.

Within one process the hub hands a speaker's messages to its viewers; with a relay
(translator.service.session_relay) they also reach viewers connected to other replicas.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

VIEWER_QUEUE = 256


class Relay(Protocol):
    def send(self, name: str, message: dict[str, Any]) -> None: ...


class SessionHub:
    def __init__(self) -> None:
        self._viewers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self.relay: Relay | None = None

    def watch(self, name: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(VIEWER_QUEUE)
        self._viewers.setdefault(name, set()).add(queue)
        return queue

    def unwatch(self, name: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        viewers = self._viewers.get(name)
        if viewers is not None:
            viewers.discard(queue)
            if not viewers:
                del self._viewers[name]

    def viewers(self, name: str) -> int:
        return len(self._viewers.get(name, ()))

    def publish(self, name: str, message: dict[str, Any]) -> None:
        """A speaker's message: to this process's viewers, and through the relay to other replicas'."""
        self.deliver(name, message)
        if self.relay is not None:
            self.relay.send(name, message)

    def deliver(self, name: str, message: dict[str, Any]) -> None:
        """Hand a message to every local viewer; a viewer too slow to keep up misses partials,
        and when even that is not enough its oldest message makes room."""
        for queue in self._viewers.get(name, ()):
            if queue.full():
                if message.get("type") == "partial":
                    continue
                queue.get_nowait()
            queue.put_nowait(message)
