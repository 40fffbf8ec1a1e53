"""Session viewers: ``/v1/stream?session=NAME&role=viewer`` watches what a speaker's stream receives."""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocket

from translator.protocol import Error, ViewerReady, encode
from translator.service.metrics import Metrics
from translator.service.sessions import SessionHub


async def watch_session(ws: WebSocket, hub: SessionHub, name: str, metrics: Metrics) -> None:
    """Watch the named session: every partial and final its speakers receive, until disconnect."""
    queue = hub.watch(name)
    await ws.send_text(ViewerReady(name).to_json())

    async def forward() -> None:
        while True:
            # The speakers' messages, as the session hub holds them (dicts, possibly from another replica).
            await ws.send_text(encode(await queue.get()))

    async def listen() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            metrics.errors.inc(1, "read_only")
            await ws.send_text(Error("read_only", "viewers cannot send text").to_json())

    tasks = [asyncio.create_task(forward()), asyncio.create_task(listen())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.unwatch(name, queue)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
