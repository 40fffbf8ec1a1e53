"""Running the app under uvicorn, with a graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from translator.server.app import create_app
from translator.server.auth import RedactKeys
from translator.server.settings import ServerConfig
from translator.server.state import app_state
from translator.server.stream import drain_streams

log = logging.getLogger("translator")


class DrainingServer(uvicorn.Server):
    """SIGTERM (or a first Ctrl-C) drains before exiting: /readyz turns 503 at once, new streams are
    refused, open streams get the finals of all their text and a close with 1001, within the grace
    period; then uvicorn shuts down and the process exits 0. A second signal exits at once."""

    def __init__(self, config: uvicorn.Config, app: Starlette, grace: float) -> None:
        super().__init__(config)
        self.app = app
        self.grace = grace
        self._drain_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_task is not None or self._loop is None or app_state(self.app).service is None:
            if sig == signal.SIGINT:
                self.force_exit = self.should_exit
            self.should_exit = True
            return
        log.info("received %s: draining (grace %.0f s)", signal.Signals(sig).name, self.grace)
        self._drain_task = self._loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            await asyncio.wait_for(drain_streams(app_state(self.app)), self.grace)
        except TimeoutError:
            log.warning("drain grace period of %.0f s over; closing the remaining streams", self.grace)
        finally:
            self.should_exit = True


def run(config: ServerConfig) -> None:
    app = create_app(config)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        ws=config.ws,
        ws_max_size=config.max_message_bytes,
        ws_per_message_deflate=False,
        http=config.http,
        loop=config.loop,
        log_level=config.log_level,
        # Off by default: a log line per request was a measurable part of a request's cost.
        access_log=config.access_log,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    # After uvicorn.Config, which (re)configures its loggers: keys in query strings are never logged.
    for name in ("uvicorn.access", "uvicorn.error", "translator"):
        logging.getLogger(name).addFilter(RedactKeys())
    DrainingServer(uv_config, app, config.drain_grace).run()
