"""Named sessions: viewers (e.g. a caption overlay) watch what another client's stream receives."""

from __future__ import annotations

import asyncio
from typing import Any

VIEWER_QUEUE = 256


class SessionHub:
    def __init__(self) -> None:
        self._viewers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

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
        """Hand a speaker's message to every viewer; a viewer too slow to keep up misses partials,
        and when even that is not enough its oldest message makes room."""
        for queue in self._viewers.get(name, ()):
            if queue.full():
                if message.get("type") == "partial":
                    continue
                queue.get_nowait()
            queue.put_nowait(message)
