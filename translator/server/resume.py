"""Resuming a stream after its connection drops: what a stream keeps, and the replica's dropped streams.

Every stream gets a resume token (``ready``'s ``resume``: ``secrets.token_urlsafe``, bound to the
stream's API key when keys are on). While it is connected, a stream keeps, besides its ``StreamState``,
a ``Kept`` record: its finals until the client acknowledges them (``ack``, or ``?ack=N`` when resuming),
within ``resume-max-finals`` finals and ``max-text-chars`` characters (the oldest go first), its newest
partial, and how many client messages it has read. When the connection ends without the client saying
it is done (no close frame, or any close code but 1000), the stream's finals in flight are translated and
the live ``StreamState`` and ``Kept`` are *parked* on this replica for ``resume-seconds``, within
``resume-max-streams`` parked streams (the oldest is dropped first). A connection with
``?resume=TOKEN&ack=N`` takes them over: the finals after N are sent again, then the current partial, and
the stream goes on with its own segment numbers.

With a resume store (Redis) configured, a parked stream is also written to it under its token (a
placeholder while its last finals are translated, so that a resume elsewhere waits with ``in_use``), and
a draining replica (SIGTERM), which finalizes its streams as before, writes each of them there before
closing with 1001: whichever replica the client reconnects to takes the stream (``GETDEL``: exactly one
connection gets it; the replica that parked it checks the store the same way before it resumes it
itself). The state travels as JSON (``translator.server.resume_state``).

The connection (``translator.server.connection``) keeps its ``Kept`` as it sends and reads, and the
endpoint (``translator.server.stream``) calls the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from translator.protocol import ResumeInfo
from translator.server.resume_state import Kept, key_digest, restore, snapshot
from translator.service.metrics import CounterFunc, CounterTable, Gauge, Metrics
from translator.service.resume_store import ResumeStore, StoreError
from translator.streaming import StreamState

log = logging.getLogger("translator.resume")

CLOSE_NORMAL = 1000
# How long a resuming connection waits for the dropped connection's finals in flight (then: in_use), and
# how long those finals may take before the stream is parked without them.
CLAIM_WAIT_SECONDS = 10.0
# A token still connected: how long the server may take to see that connection's end (a client that
# reconnects at once can be faster than that) before the answer is in_use; with a resume store, how long
# a token this replica does not know is looked for there (the replica that had it may not have written it).
IN_USE_GRACE_SECONDS = 1.0
SETTLE_SECONDS = 60.0
# Tokens of streams that expired or were evicted, remembered (as digests) to say so: at most this many.
GONE_MEMORY = 4096
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# In the store while a dropped stream's last finals are translated: the state follows.
PENDING = "pending"

# resume_failed reasons, with what the error message says.
REASONS = {
    "unknown": "no stream has this resume token (it ended, or never existed)",
    "expired": "the stream was dropped longer ago than the server keeps streams",
    "evicted": "the stream was dropped to make room for others",
    "forbidden": "the stream belongs to another API key",
    "in_use": "another connection is using this stream",
    "mismatch": "the stream translates another language pair",
    "unavailable": "the stream's state could not be fetched (the resume store is down)",
    "incompatible": "the stream's state was written by an incompatible server version",
    "disabled": "this server does not keep streams for a resume",
}


def failure_message(reason: str) -> str:
    return f"cannot resume: {REASONS.get(reason, reason)}; this is a new stream"


def _same_key(a: str | None, b: str | None) -> bool:
    return hmac.compare_digest(a or "", b or "")


@dataclass
class Claimed:
    """A stream taken over by a resuming connection."""

    state: StreamState
    kept: Kept


class Resumable(Protocol):
    """What the registry needs of a connection (translator.server.connection.Connection)."""

    source: str
    target: str
    partials: bool
    session: str | None
    state: StreamState
    kept: Kept
    draining: bool
    server_closed: bool
    end_code: int | None
    finals_settled: asyncio.Event
    partial_tasks: set[asyncio.Task[None]]


@dataclass
class _Parked:
    state: StreamState
    kept: Kept
    expiry: asyncio.TimerHandle
    expires_at: float  # time.time()
    stored: bool  # also in the resume store (another replica may take it from there)

    def chars(self) -> int:
        return len(self.state.open_text) + self.kept.chars


class ResumeRegistry:
    """This replica's resume tokens: connected streams, streams finishing their finals, parked streams."""

    def __init__(self, seconds: float, *, max_streams: int, max_finals: int, max_chars: int) -> None:
        if seconds < 0 or max_streams < 1 or max_finals < 1 or max_chars < 1:
            raise ValueError("resume seconds must not be negative; the stream and final bounds must be positive")
        self.seconds = seconds
        self.max_streams = max_streams
        self.max_finals = max_finals
        self.max_chars = max_chars
        self.store: ResumeStore | None = None
        self.draining = False
        self._live: dict[str, Kept] = {}
        self._settling: dict[str, asyncio.Event] = {}
        self._parked: OrderedDict[str, _Parked] = OrderedDict()
        self._gone: OrderedDict[str, str] = OrderedDict()
        self.attempts: dict[str, int] = {}
        self.evicted = {"stream": 0, "final": 0}
        self.expired = 0
        self.handovers = {"written": 0, "failed": 0}

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def start(self, metrics: Metrics, store: ResumeStore | None) -> None:
        """Once the service runs: the metrics, and the store of a replica with Redis."""
        self.store = store if self.enabled else None
        metrics.add(
            Gauge("translator_resume_streams_kept", "Dropped streams kept for a resume.", lambda: len(self._parked)),
            Gauge(
                "translator_resume_finals_kept",
                "Finals kept for a resume in dropped streams.",
                lambda: sum(len(p.kept.finals) for p in self._parked.values()),
            ),
            Gauge(
                "translator_resume_kept_chars",
                "Characters (open text and finals) kept for a resume in dropped streams.",
                lambda: sum(p.chars() for p in self._parked.values()),
            ),
            CounterTable(
                "translator_resume_attempts_total",
                "Resume attempts, by result: resumed, or why not.",
                ("result",),
                lambda: {(k,): float(v) for k, v in self.attempts.items()},
            ),
            CounterTable(
                "translator_resume_evicted_total",
                "Kept for a resume, then dropped for the memory bound: dropped streams, unacknowledged finals.",
                ("what",),
                lambda: {(k,): float(v) for k, v in self.evicted.items()},
            ),
            CounterFunc(
                "translator_resume_expired_total", "Dropped streams not resumed in time.", lambda: self.expired
            ),
            CounterTable(
                "translator_resume_store_writes_total",
                "Streams written to the resume store (dropped or drained), by result.",
                ("result",),
                lambda: {(k,): float(v) for k, v in self.handovers.items()},
            ),
        )

    def close(self) -> None:
        for parked in self._parked.values():
            parked.expiry.cancel()
        self._parked.clear()

    # A connection's record ------------------------------------------------------------------

    def open(self, conn: Resumable, key: str | None, claimed: Claimed | None) -> None:
        """Give a new connection its record: a fresh token, or the state of the stream it resumes."""
        if not self.enabled:
            return
        if claimed is None:
            kept = Kept(conn.source, conn.target, conn.partials, conn.session, key_digest(key), 0, 0)
            kept.token = secrets.token_urlsafe(24)
            self._live[kept.token] = kept
        else:
            conn.state, kept = claimed.state, claimed.kept
            kept.partials, kept.session = conn.partials, conn.session
            # The time away was no pause in the input (the pause timer starts again).
            conn.state.last_input_at = time.perf_counter()
        kept.max_finals, kept.max_chars = self.max_finals, self.max_chars
        kept.on_evict = self._final_evicted
        conn.kept = kept

    def ready_info(self, conn: Resumable, resumed: bool) -> ResumeInfo | None:
        """The ``ready`` message's resume fields."""
        if conn.kept.token is None:
            return None
        return ResumeInfo(
            conn.kept.token,
            self.seconds,
            resumed=resumed,
            segment=conn.state.next_segment,
            received=conn.kept.received,
            open_text_chars=len(conn.state.open_text),
        )

    def _final_evicted(self) -> None:
        self.evicted["final"] += 1

    # Resuming --------------------------------------------------------------------------------

    async def pair_of(self, token: str) -> tuple[str, str] | None:
        """The language pair of the stream of ``token`` (for a resume URL without source and target)."""
        kept: Kept | None = self._live.get(token)
        if kept is None and token in self._parked:
            kept = self._parked[token].kept
        if kept is None and self.store is not None and _TOKEN.fullmatch(token):
            raw = await self.store.peek(token)
            with contextlib.suppress(ValueError, TypeError, KeyError):
                kept = restore(raw)[1] if raw is not None else None
        return (kept.source, kept.target) if kept is not None else None

    async def claim(self, token: str, key: str | None, source: str, target: str) -> Claimed | str:
        """The stream of ``token`` for a new connection, or why not (a ``resume_failed`` reason)."""
        result = await self._claim(token, key, source, target)
        reason = "resumed" if isinstance(result, Claimed) else result
        self.attempts[reason] = self.attempts.get(reason, 0) + 1
        return result

    async def _claim(self, token: str, key: str | None, source: str, target: str) -> Claimed | str:
        if not self.enabled:
            return "disabled"
        if not _TOKEN.fullmatch(token):
            return "unknown"
        deadline = time.monotonic() + IN_USE_GRACE_SECONDS
        while token in self._live and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        settling = self._settling.get(token)
        if settling is not None:  # the dropped connection's last finals are being translated
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settling.wait(), CLAIM_WAIT_SECONDS)
        if token in self._live or token in self._settling:
            return "in_use"
        digest = key_digest(key)
        parked = self._parked.get(token)
        if parked is not None:
            refused = _refusal(parked.kept, digest, source, target)
            if refused:
                return refused
            if not parked.stored or self.store is None:
                self._unpark(token, parked)
                return self._attach(token, parked.state, parked.kept)
            try:  # in the store too: unless another replica has taken it meanwhile
                raw = await self.store.take(token)
            except StoreError:  # Redis is down: this replica's copy is the stream
                raw = PENDING
            if raw is None:
                self._unpark(token, parked)
                return "in_use"
            if self._parked.get(token) is parked:
                self._unpark(token, parked)
                return self._attach(token, parked.state, parked.kept)
            if raw == PENDING:  # expired or evicted here while the store answered
                return self._gone.get(_token_digest(token), "unknown")
            return await self._claim_stored(token, raw, digest, source, target)
        if self.store is None:
            return self._gone.get(_token_digest(token), "unknown")
        deadline = time.monotonic() + IN_USE_GRACE_SECONDS
        while True:  # the replica that had it may not have seen its connection end yet
            try:
                raw = await self.store.take(token)
            except StoreError:
                return "unavailable"
            if raw is not None or time.monotonic() >= deadline or _token_digest(token) in self._gone:
                break
            await asyncio.sleep(0.1)
        if raw is None:
            return self._gone.get(_token_digest(token), "unknown")
        if raw == PENDING:  # another replica is translating the stream's last finals: try again soon
            await self.store.put(token, PENDING, CLAIM_WAIT_SECONDS, only_if_absent=True)
            return "in_use"
        return await self._claim_stored(token, raw, digest, source, target)

    async def _claim_stored(self, token: str, raw: str, digest: str | None, source: str, target: str) -> Claimed | str:
        """A stream taken from the store."""
        try:
            state, kept, expires_at = restore(raw)
        except (ValueError, TypeError, KeyError, AttributeError, ImportError) as exc:
            log.warning("a stream from the resume store could not be read (%s)", type(exc).__name__)
            return "incompatible"
        refused = _refusal(kept, digest, source, target)
        if refused:  # not this client's: left for its own
            if self.store is not None:
                await self.store.put(token, raw, expires_at - time.time())
            return refused
        if token in self._live:
            return "in_use"
        return self._attach(token, state, kept)

    def _unpark(self, token: str, parked: _Parked) -> None:
        if self._parked.get(token) is parked:
            del self._parked[token]
            parked.expiry.cancel()

    def _attach(self, token: str, state: StreamState, kept: Kept) -> Claimed:
        kept.token = token
        self._live[token] = kept
        return Claimed(state, kept)

    # When a connection ends ----------------------------------------------------------------

    def keeps(self, conn: Resumable, *, failed: bool) -> bool:
        """Whether the stream of a connection that ended is kept for a resume (then ``park`` it); else its
        token is forgotten now. Kept: the connection dropped, or closed with any code but 1000, and the
        server did not end the stream itself, except by a drain whose stream the store did not take."""
        kept = conn.kept
        token = kept.token
        if token is None or self._live.get(token) is not kept:
            return False
        del self._live[token]
        if kept.handed_over:
            return False
        if conn.end_code == CLOSE_NORMAL or failed:
            return False
        if conn.server_closed and not (self.draining and conn.draining):
            return False
        self._settling[token] = asyncio.Event()
        return True

    async def park(self, conn: Resumable, worker: asyncio.Task[None]) -> None:
        """Let the stream's finals in flight be translated (kept for the client), then park the stream, or,
        while the replica drains, hand it to the store."""
        kept = conn.kept
        token = kept.token
        assert token is not None
        try:
            if self.store is not None and not self.draining:
                await self.store.put(token, PENDING, self.seconds)
            try:
                async with asyncio.timeout(SETTLE_SECONDS):
                    await conn.finals_settled.wait()
            except TimeoutError:
                log.warning("a dropped stream's finals took over %.0f s; parked without them", SETTLE_SECONDS)
            tasks = [worker, *conn.partial_tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            stored = await self._write(token, conn.state, kept, self.seconds)
            if not (self.draining and stored):  # a draining replica keeps nothing it could hand over
                self._park(token, conn.state, kept, stored)
        finally:
            event = self._settling.pop(token, None)
            if event is not None:
                event.set()

    def _park(self, token: str, state: StreamState, kept: Kept, stored: bool) -> None:
        while len(self._parked) >= self.max_streams:
            old, parked = self._parked.popitem(last=False)
            parked.expiry.cancel()
            self._forget(old, "evicted")
            self.evicted["stream"] += 1
        expiry = asyncio.get_running_loop().call_later(self.seconds, self._expire, token)
        self._parked[token] = _Parked(state, kept, expiry, time.time() + self.seconds, stored)

    def _expire(self, token: str) -> None:
        if self._parked.pop(token, None) is not None:
            self._forget(token, "expired")
            self.expired += 1

    def _forget(self, token: str, reason: str) -> None:
        self._gone[_token_digest(token)] = reason
        while len(self._gone) > GONE_MEMORY:
            self._gone.popitem(last=False)

    # Draining --------------------------------------------------------------------------------

    async def hand_over(self, conn: Resumable) -> None:
        """A draining connection's stream, its finals all cut and translated: to the store, if there is one."""
        kept = conn.kept
        if kept.token is not None and self.store is not None:
            kept.handed_over = await self._write(kept.token, conn.state, kept, self.seconds)

    async def drain(self) -> None:
        """The replica drains: its parked streams are left to the store (streams still finishing their
        finals go there once they are parked, see ``park``)."""
        self.draining = True
        if self.store is None:
            return
        for token, parked in list(self._parked.items()):
            if parked.stored or await self._write(token, parked.state, parked.kept, parked.expires_at - time.time()):
                self._unpark(token, parked)

    async def _write(self, token: str, state: StreamState, kept: Kept, ttl: float) -> bool:
        if self.store is None:
            return False
        try:
            text = snapshot(state, kept, time.time() + ttl)
        except TypeError as exc:
            log.error("a stream cannot be handed over: %s", exc)
            ok = False
        else:
            ok = await self.store.put(token, text, ttl)
        self.handovers["written" if ok else "failed"] += 1
        return ok


def _refusal(kept: Kept, digest: str | None, source: str, target: str) -> str | None:
    if not _same_key(kept.key, digest):
        return "forbidden"
    if (kept.source, kept.target) != (source, target):
        return "mismatch"
    return None


def _token_digest(token: str) -> str:
    return hashlib.blake2b(token.encode("utf-8"), digest_size=16).hexdigest()
