"""One open stream on ``/v1/stream``: its receive, work and send loops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any

from starlette.websockets import WebSocket

from translator.protocol import ProtocolError, error_message, parse_client_message
from translator.server.state import AppState
from translator.service.batcher import Shed, Superseded
from translator.streaming import FinalJob, PartialJob, StreamState

log = logging.getLogger("translator.ws")

CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013


class Connection:
    """One client's stream: receives its messages, translates, and sends partials and finals in order."""

    def __init__(
        self,
        ws: WebSocket,
        state: AppState,
        source: str,
        target: str,
        *,
        partials: bool,
        session: str | None,
        client: str,
        key: str | None,
    ) -> None:
        self.ws, self.app, self.source, self.target = ws, state, source, target
        self.service = state.started()
        self.config = state.config
        self.max_chars = state.config.max_text_chars
        self.partials = partials
        self.session = session
        self.client = client
        self.key = key
        self.hub = state.sessions
        self.state = StreamState()
        self.wake = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.outbox: deque[dict[str, Any]] = deque()
        self.outbox_ready = asyncio.Event()
        self.backlog_exceeded = False
        self.max_backlog = state.config.max_backlog
        self.finals_lock = asyncio.Lock()
        self.partial_tasks: set[asyncio.Task[None]] = set()
        self.metrics = self.service.metrics
        self.draining = False
        self.rate = max(1, state.config.max_messages_per_second)
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
        config = self.config
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
            if not self._allow_message() or not self.app.api_keys.allow(self.key):
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
