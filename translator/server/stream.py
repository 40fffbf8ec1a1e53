"""The streaming WebSocket endpoint ``/v1/stream``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from translator.server.auth import key_from_protocols
from translator.service.batcher import Shed, Superseded
from translator.protocol import PROTOCOL_VERSION, ProtocolError, error_message, parse_client_message
from translator.engine.registry import UnknownPairError
from translator.service.service import TranslationService
from translator.service.sessions import SessionHub
from translator.streaming import FinalJob, PartialJob, StreamState

log = logging.getLogger("translator.ws")

CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013


class _Connection:
    def __init__(
        self, ws: WebSocket, service: TranslationService, source: str, target: str, max_chars: int, partials: bool
    ) -> None:
        self.ws, self.service, self.source, self.target = ws, service, source, target
        self.max_chars = max_chars
        self.partials = partials
        self.session: str | None = None
        self.client = ""
        self.key: str | None = None
        self.hub: SessionHub = ws.app.state.sessions
        self.state = StreamState()
        self.wake = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.outbox: deque[dict[str, Any]] = deque()
        self.outbox_ready = asyncio.Event()
        self.backlog_exceeded = False
        self.max_backlog = ws.app.state.config.max_backlog
        self.finals_lock = asyncio.Lock()
        self.partial_tasks: set[asyncio.Task[None]] = set()
        self.metrics = service.metrics
        self.draining = False
        self.rate = max(1, ws.app.state.config.max_messages_per_second)
        self._tokens = float(self.rate)
        self._refilled = time.monotonic()
        self._refused = 0

    async def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the client; the sender task writes it.

        A slow reader never blocks translation: a waiting partial is replaced by a newer one of the same
        segment, finals and errors wait in order, and a client whose backlog passes ``max_backlog``
        messages is closed with 1008.
        """
        if message["type"] == "partial":
            for i in range(len(self.outbox) - 1, -1, -1):
                waiting = self.outbox[i]
                if waiting["type"] == "partial" and waiting["segment"] == message["segment"]:
                    self.outbox[i] = message
                    break
            else:
                self.outbox.append(message)
        else:
            self.outbox.append(message)
        self.metrics.messages_sent.inc(1, str(message["type"]))
        if self.session and message["type"] in ("partial", "final"):
            self.hub.publish(self.session, message)
        if len(self.outbox) > self.max_backlog:
            self.backlog_exceeded = True
        self.outbox_ready.set()

    async def sender(self) -> None:
        while True:
            while not self.outbox:
                self.outbox_ready.clear()
                await self.outbox_ready.wait()
            if self.backlog_exceeded:
                log.warning("closing a stream whose client does not read (%d messages waiting)", len(self.outbox))
                self.metrics.errors.inc(1, "backlog")
                self.outbox.clear()
                async with self.send_lock:
                    await self.ws.close(CLOSE_POLICY)
                return
            message = self.outbox[0]
            async with self.send_lock:
                await self.ws.send_text(json.dumps(message, ensure_ascii=False))
            if self.outbox and self.outbox[0] is message:
                self.outbox.popleft()

    async def close(self, code: int, flush_timeout: float = 5.0) -> None:
        """Close after what is queued has been sent (or after ``flush_timeout``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_timeout):
                while self.outbox and not self.backlog_exceeded:
                    await asyncio.sleep(0.005)
        async with self.send_lock:
            await self.ws.close(code)

    async def error(self, code: str, message: str, **extra: object) -> None:
        self.metrics.errors.inc(1, code)
        await self.send(error_message(code, message, **extra))

    def _allow_message(self) -> bool:
        """Token bucket: ``rate`` messages per second, bursts of one second's worth."""
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            self._refused = 0
            return True
        self._refused += 1
        return False

    async def receive_loop(self) -> None:
        config = self.ws.app.state.config
        started = time.monotonic()
        while True:
            limits = [(config.idle_timeout, "idle_timeout", "no message for too long")] if config.idle_timeout else []
            if config.max_session_seconds:
                left = config.max_session_seconds - (time.monotonic() - started)
                limits.append((max(left, 0.0), "session_expired", "the session reached its maximum duration"))
            timeout, code, reason = min(limits) if limits else (None, "", "")
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout)
            except TimeoutError:
                await self.error(code, f"{reason}; the open text is finalized and the stream closed")
                await self.drain()
                return
            if message["type"] == "websocket.disconnect":
                return
            if not self._allow_message() or not self.ws.app.state.api_keys.allow(self.key):
                if self._refused > self.rate:
                    await self.error("rate_limited", "too many messages; closing")
                    await self.close(CLOSE_POLICY)
                    return
                await self.error(
                    "rate_limited", f"more than {self.rate} messages per second; this one was not accepted"
                )
                continue
            raw = message.get("text")
            if raw is None:
                await self.error("invalid_message", "send JSON text frames, not binary frames")
                continue
            try:
                parsed = parse_client_message(raw)
            except ProtocolError as exc:
                self.metrics.messages_received.inc(1, "invalid")
                await self.error(exc.code, str(exc))
                continue
            self.metrics.messages_received.inc(1, parsed.type)
            now = time.perf_counter()
            if self.draining and parsed.type != "ping":
                await self.error("draining", "the server is shutting down; this message was not accepted")
                continue
            if parsed.type == "ping":
                await self.send({"type": "pong"})
                continue
            if parsed.type == "append":
                if len(self.state.open_text) + len(parsed.text) > self.max_chars:
                    await self.error(
                        "text_too_long",
                        f"open text would exceed {self.max_chars} characters; "
                        "this append was not accepted: commit, or send sentence ends",
                    )
                    continue
                self.state.append(parsed.text, now)
            elif parsed.type == "replace":
                if len(parsed.text) > self.max_chars:
                    await self.error("text_too_long", f"text exceeds {self.max_chars} characters; not accepted")
                    continue
                self.state.replace(parsed.text, now)
            else:
                self.state.commit(now)
            self.wake.set()

    async def work_loop(self) -> None:
        """Finals in order, one after the other; partials as tasks of their own, so that a newer partial
        can supersede one still waiting in the batcher."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            finals = self.state.take_finals()
            if finals:
                async with self.finals_lock:
                    await self._finals(finals)
            job = self.state.partial_job() if self.partials else None
            if job is not None:
                task = asyncio.create_task(self._partial(job))
                self.partial_tasks.add(task)
                task.add_done_callback(self.partial_tasks.discard)
            if self.state.take_finals_pending() or (self.partials and self.state.partial_job(peek=True)):
                self.wake.set()

    async def drain(self) -> None:
        """Finalize all open text, send those finals, then close with 1001 (server going away)."""
        self.draining = True
        self.state.commit(time.perf_counter())
        self.wake.set()
        while self.state.take_finals_pending() or self.finals_lock.locked():
            await asyncio.sleep(0.01)
        await self.close(CLOSE_GOING_AWAY, flush_timeout=3600)

    async def _partial(self, job: PartialJob) -> None:
        try:
            [text] = await self.service.translate(
                self.source,
                self.target,
                [job.source],
                prefixes=[job.prefix or None],
                kind="partial",
                coalesce_key=id(self),
            )
        except (Superseded, Shed):
            return
        except Exception:  # a failed partial is not fatal: the final follows
            log.exception("partial translation failed")
            return
        # Finals of earlier segments in flight go first.
        async with self.finals_lock:
            message = self.state.partial_result(job, text)
            if message is not None:
                await self.send(message)

    async def _finals(self, jobs: list[FinalJob]) -> None:
        results = await asyncio.gather(
            *(self.service.translate_final(self.source, self.target, job.source, job.prefix) for job in jobs),
            return_exceptions=True,
        )
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                log.error("final translation failed: %r", result)
                await self.error("translation_failed", "the model failed on this sentence", segment=job.segment)
                text, cached, failed = job.prefix, False, True
            else:
                (text, cached), failed = result, False
            latency = time.perf_counter() - job.received_at
            message = StreamState.final_message(job, text, cached=cached, latency_ms=latency * 1000)
            if failed:
                message["failed"] = True
            await self.send(message)
            self.metrics.final_latency.observe(latency)


async def _viewer(ws: WebSocket, name: str, metrics: Any) -> None:
    """Watch the named session: every partial and final its speakers receive, until disconnect."""
    hub: SessionHub = ws.app.state.sessions
    queue = hub.watch(name)
    await ws.send_text(json.dumps({"type": "ready", "role": "viewer", "session": name, "protocol": PROTOCOL_VERSION}))

    async def forward() -> None:
        while True:
            await ws.send_text(json.dumps(await queue.get(), ensure_ascii=False))

    async def listen() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            metrics.errors.inc(1, "read_only")
            await ws.send_text(json.dumps(error_message("read_only", "viewers cannot send text")))

    tasks = [asyncio.create_task(forward()), asyncio.create_task(listen())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.unwatch(name, queue)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def origin_allowed(ws: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin on WebSocket handshakes and do not apply CORS to them: allow clients that
    send none (programs), the page's own origin, and the configured ones ("*" allows all)."""
    origin = ws.headers.get("origin")
    if origin is None or "*" in allowed:
        return True
    origin = origin.rstrip("/").lower()
    if origin in (a.rstrip("/").lower() for a in allowed):
        return True
    host = ws.headers.get("host", "").lower()
    return origin in (f"http://{host}", f"https://{host}")


async def stream_endpoint(ws: WebSocket) -> None:
    service: TranslationService = ws.app.state.service
    if not origin_allowed(ws, ws.app.state.config.allowed_origins):
        service.metrics.errors.inc(1, "origin_refused")
        await ws.close(CLOSE_POLICY)  # before accept(): the handshake is answered with HTTP 403
        return
    protocol_key, subprotocol = key_from_protocols(ws.scope.get("subprotocols"))
    if not ws.app.state.api_keys.valid(ws.query_params.get("api_key") or protocol_key):
        service.metrics.errors.inc(1, "unauthorized")
        await ws.close(CLOSE_POLICY)  # checked before accept(): HTTP 403, nothing else is revealed
        return
    session = ws.query_params.get("session", "").strip()[:100] or None
    if ws.query_params.get("role", "speaker") == "viewer":
        await ws.accept(subprotocol)
        if session is None:
            await ws.send_text(json.dumps(error_message("missing_session", "a viewer needs ?session=NAME")))
            await ws.close(CLOSE_POLICY)
            return
        await _viewer(ws, session, service.metrics)
        return
    max_chars: int = ws.app.state.config.max_text_chars
    source = ws.query_params.get("source", "").strip().lower()
    target = ws.query_params.get("target", "").strip().lower()
    await ws.accept(subprotocol)
    try:
        if not source or not target:
            raise ProtocolError("missing_language", "connect to /v1/stream?source=LANG&target=LANG")
        model = service.model(source, target)
    except (ProtocolError, UnknownPairError) as exc:
        code = exc.code if isinstance(exc, ProtocolError) else "unknown_pair"
        service.metrics.errors.inc(1, code)
        await ws.send_text(json.dumps(error_message(code, str(exc))))
        await ws.close(CLOSE_POLICY)
        return
    partials = ws.query_params.get("partials", "true").strip().lower() not in ("false", "0", "no", "off")
    if service.draining:
        service.metrics.errors.inc(1, "draining")
        await ws.send_text(json.dumps(error_message("draining", "the server is shutting down; reconnect later")))
        await ws.close(CLOSE_SERVICE_RESTART)
        return
    connections: set[_Connection] = ws.app.state.connections
    config = ws.app.state.config
    client = ws.client.host if ws.client else ""
    if len(connections) >= config.max_connections or (
        sum(c.client == client for c in connections) >= config.max_connections_per_client
    ):
        service.metrics.errors.inc(1, "too_many_connections")
        await ws.send_text(json.dumps(error_message("too_many_connections", "too many open streams; try again later")))
        await ws.close(CLOSE_TRY_AGAIN_LATER)
        return
    conn = _Connection(ws, service, source, target, max_chars, partials)
    conn.session = session
    conn.client = client
    conn.key = ws.query_params.get("api_key") or protocol_key
    connections.add(conn)
    service.metrics.connections_total.inc()
    service.metrics.connections_active.inc()
    await conn.send(
        {
            "type": "ready",
            "source": source,
            "target": target,
            "model": model.name,
            "protocol": PROTOCOL_VERSION,
            "max_text_chars": max_chars,
            "partials": partials,
            "max_messages_per_second": conn.rate,
            **({"session": session} if session else {}),
        }
    )
    worker = asyncio.create_task(conn.work_loop())
    receiver = asyncio.create_task(conn.receive_loop())
    sender = asyncio.create_task(conn.sender())
    try:
        await asyncio.wait({worker, receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if worker.done() and not worker.cancelled() and worker.exception() is not None:
            # Not a client's fault: say so and close, rather than keep accepting text nobody translates.
            log.error("stream worker failed", exc_info=worker.exception())
            try:
                await conn.error("internal_error", "the server failed on this stream")
                await conn.close(CLOSE_INTERNAL_ERROR)
            except (WebSocketDisconnect, RuntimeError):
                pass
    finally:
        connections.discard(conn)
        service.metrics.connections_active.dec()
        tasks = [receiver, worker, sender, *conn.partial_tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def drain_streams(app: Any) -> None:
    """Stop taking streams (readiness turns 503) and let every open stream finish (see _Connection.drain)."""
    service: TranslationService = app.state.service
    service.draining = True
    connections: set[_Connection] = app.state.connections
    results = await asyncio.gather(*(conn.drain() for conn in list(connections)), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, (WebSocketDisconnect, RuntimeError)):
            log.warning("a stream failed while draining: %r", result)
