"""One open stream on ``/v1/stream``: its receive, work and send loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.websockets import WebSocket

from translator.newest import NewestQueue
from translator.protocol import Error, Final, Partial, Pong, ProtocolError, ServerMessage, parse_client_message
from translator.ratelimit import TokenBucket
from translator.server.autosource import AutoSource
from translator.server.resume_state import Kept
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
        pause_ms: float | None = None,
        revisions: bool = False,
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
        self.state = state.config.stream_state(revisions=revisions)
        # No input for this long ends the open segment (the stream's ?pause_ms=, else the server's); 0: never.
        self.pause = max(0.0, state.config.pause_ms if pause_ms is None else pause_ms) / 1000
        self.wake = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.outbox: NewestQueue[ServerMessage] = NewestQueue()
        self.outbox_ready = asyncio.Event()
        self.backlog_exceeded = False
        self.max_backlog = state.config.max_backlog
        # Set while no final is in flight: every final cut so far has been queued for the client.
        # Partials wait for it (finals of earlier segments go first), and so does drain.
        self.finals_settled = asyncio.Event()
        self.finals_settled.set()
        self.partial_tasks: set[asyncio.Task[None]] = set()
        self.metrics = self.service.metrics
        self.draining = False
        self.rate = max(1, state.config.max_messages_per_second)
        self._bucket = TokenBucket(self.rate)
        self._refused = 0
        # For a resume (translator.server.resume): the finals the client has not acknowledged, the newest
        # partial, the messages read; set up by the endpoint. How the connection ended decides whether the
        # stream is kept: the client's close code (None: none came), or the server closed it.
        self.kept = Kept.off(source, target, partials, session)
        self.end_code: int | None = None
        self.server_closed = False
        # source=auto: the language is detected before anything is translated (set by the endpoint).
        self.auto: AutoSource | None = None

    async def send(self, message: ServerMessage) -> None:
        """Queue a message for the client; the sender task writes it.

        A slow reader never blocks translation: a waiting partial is replaced by a newer one of the same
        segment, finals and errors wait in order, and a client whose backlog passes ``max_backlog``
        messages is closed with 1008.
        """
        self.kept.keep(message)
        self.outbox.put(message, message.segment if isinstance(message, Partial) else None)
        self.metrics.messages_sent.inc(1, message.type)
        if self.session and isinstance(message, (Partial, Final)):
            self.hub.publish(self.session, message.to_dict(), id(self))
        if len(self.outbox) > self.max_backlog:
            self.backlog_exceeded = True
        self.outbox_ready.set()

    def resend(self, messages: list[Final | Partial]) -> None:
        """Queue what a resuming client missed (kept already, and already shown to session viewers)."""
        for message in messages:
            self.outbox.put(message, message.segment if isinstance(message, Partial) else None)
            self.metrics.messages_sent.inc(1, message.type)
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
                self.server_closed = True
                async with self.send_lock:
                    await self.ws.close(CLOSE_POLICY)
                return
            message = self.outbox.peek()
            async with self.send_lock:
                await self.ws.send_text(message.to_json())
            self.outbox.pop_sent(message)  # unless a newer partial replaced it meanwhile: that one is next

    async def close(self, code: int, flush_timeout: float = 5.0) -> None:
        """Close after what is queued has been sent (or after ``flush_timeout``)."""
        self.server_closed = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_timeout):
                while self.outbox and not self.backlog_exceeded:
                    await asyncio.sleep(0.005)
        async with self.send_lock:
            await self.ws.close(code)

    async def error(self, code: str, message: str, *, segment: int | None = None) -> None:
        self.metrics.errors.inc(1, code)
        await self.send(Error(code, message, segment))

    def _allow_message(self) -> bool:
        """Token bucket: ``rate`` messages per second, bursts of one second's worth."""
        if self._bucket.take():
            self._refused = 0
            return True
        self._refused += 1
        return False

    async def receive_loop(self) -> None:
        config = self.config
        started = last_message = time.monotonic()
        # The pause timer counts from this connection's own last message (a resumed stream's time away
        # is no pause in the input).
        listening = time.perf_counter()
        while True:
            idle_left = max(config.idle_timeout - (time.monotonic() - last_message), 0.0)
            limits = [(idle_left, "idle_timeout", "no message for too long")] if config.idle_timeout else []
            if config.max_session_seconds:
                left = config.max_session_seconds - (time.monotonic() - started)
                limits.append((max(left, 0.0), "session_expired", "the session reached its maximum duration"))
            timeout, code, reason = min(limits) if limits else (None, "", "")
            deadline = self.state.pause_deadline(self.pause)
            pause_left = None
            if deadline is not None:
                pause_left = max(0.0, max(deadline, listening + self.pause) - time.perf_counter())
            pausing = pause_left is not None and (timeout is None or pause_left < timeout)
            try:
                # asyncio.timeout rather than wait_for: no task per message (measured: docs/performance.md).
                async with asyncio.timeout(pause_left if pausing else timeout):
                    message = await self.ws.receive()
            except TimeoutError:
                if pausing:  # a pause in the input: the open text is a segment
                    self.state.pause(time.perf_counter())
                    self._changed()
                    continue
                await self.error(code, f"{reason}; the open text is finalized and the stream closed")
                await self.drain()
                return
            if message["type"] == "websocket.disconnect":
                self.end_code = message.get("code")
                return
            last_message = time.monotonic()
            if not self.draining:  # what a draining server refuses, the client sends again after a resume
                self.kept.received += 1
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
            if self.draining and parsed.type not in ("ping", "ack"):
                await self.error("draining", "the server is shutting down; this message was not accepted")
                continue
            if parsed.type == "ping":
                await self.send(Pong())
                continue
            if parsed.type == "ack":
                self.kept.ack(parsed.segment)
                continue
            if parsed.type == "append" and len(self.state.open_text) + len(parsed.text) > self.max_chars:
                await self.error(
                    "text_too_long",
                    f"open text would exceed {self.max_chars} characters; "
                    "this append was not accepted: commit, or send sentence ends",
                )
                continue
            if parsed.type == "replace" and len(parsed.text) > self.max_chars:
                await self.error("text_too_long", f"text exceeds {self.max_chars} characters; not accepted")
                continue
            self.state.apply(parsed, now)
            self._changed()

    def _changed(self) -> None:
        """The state took input: wake the work loop; finals it cut are in flight until they are queued."""
        if self.state.has_work(partials=False):
            self.finals_settled.clear()
        self.wake.set()

    async def work_loop(self) -> None:
        """Finals in order, one after the other; partials as tasks of their own, so that a newer partial
        can supersede one still waiting in the batcher."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.auto is not None and not await self.auto.resolve(self):
                continue  # source=auto: the language is not known yet (translator.server.autosource)
            # Input that arrives while finals are translated is picked up by the next round.
            while self.state.has_work(self.partials):
                finals = self.state.take_finals()
                if finals:
                    try:
                        await self._finals(finals)
                    finally:
                        if not self.state.has_work(partials=False):
                            self.finals_settled.set()
                job = self.state.next_partial() if self.partials else None
                if job is not None:
                    task = asyncio.create_task(self._partial(job))
                    self.partial_tasks.add(task)
                    task.add_done_callback(self.partial_tasks.discard)

    async def drain(self, *, handover: bool = False) -> None:
        """Finalize all open text, send those finals, then close with 1001 (server going away). ``handover``
        (the server drains): before the close, the stream goes to the resume store, if there is one."""
        self.draining = True
        self.state.commit(time.perf_counter())
        self._changed()
        await self.finals_settled.wait()
        if handover:
            await self.app.resumes.hand_over(self)
        await self.close(CLOSE_GOING_AWAY, flush_timeout=3600)

    async def _partial(self, job: PartialJob) -> None:
        try:
            [text] = await self.service.translate_uncached(
                self.source,
                self.target,
                [job.input],
                prefixes=[job.prefix],  # a decoding request (translator.decoding.Prefix), even when empty
                kind="partial",
                coalesce_key=id(self),
            )
        except (Superseded, Shed):
            return
        except Exception:  # a failed partial is not fatal: the final follows
            log.exception("partial translation failed")
            return
        # Finals of earlier segments in flight go first (a result for a segment they finish is dropped).
        await self.finals_settled.wait()
        message = self.state.partial_result(job, text)
        if message is not None:
            await self.send(message)

    async def _finals(self, jobs: list[FinalJob]) -> None:
        results = await asyncio.gather(
            *(self.service.translate_final(self.source, self.target, job.input, job.decoding or "") for job in jobs),
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
            await self.send(
                StreamState.final_result(job, text, cached=cached, latency_ms=latency * 1000, failed=failed)
            )
            self.metrics.final_latency.observe(latency)
