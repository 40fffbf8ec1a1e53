"""The streaming WebSocket endpoint ``/v1/stream``: admission (origin, key, pair, limits), then a Connection."""

from __future__ import annotations

import asyncio
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from translator.engine import UnknownPairError
from translator.protocol import Error, ProtocolError, Ready
from translator.server.auth import key_from_protocols
from translator.server.autosource import AutoSource
from translator.server.connection import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_POLICY,
    CLOSE_SERVICE_RESTART,
    CLOSE_TRY_AGAIN_LATER,
    Connection,
)
from translator.server.resume import failure_message
from translator.server.state import AppState, app_state
from translator.server.viewer import watch_session

log = logging.getLogger("translator.ws")


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
    state = app_state(ws.app)
    service = state.started()
    config = state.config
    if not origin_allowed(ws, config.allowed_origins):
        service.metrics.errors.inc(1, "origin_refused")
        await ws.close(CLOSE_POLICY)  # before accept(): the handshake is answered with HTTP 403
        return
    protocol_key, subprotocol = key_from_protocols(ws.scope.get("subprotocols"))
    if not state.api_keys.valid(ws.query_params.get("api_key") or protocol_key):
        service.metrics.errors.inc(1, "unauthorized")
        await ws.close(CLOSE_POLICY)  # checked before accept(): HTTP 403, nothing else is revealed
        return
    session = ws.query_params.get("session", "").strip()[:100] or None
    if ws.query_params.get("role", "speaker") == "viewer":
        await ws.accept(subprotocol)
        if session is None:
            await ws.send_text(Error("missing_session", "a viewer needs ?session=NAME").to_json())
            await ws.close(CLOSE_POLICY)
            return
        await watch_session(ws, state.sessions, session, service.metrics)
        return
    source = ws.query_params.get("source", "").strip().lower()
    target = ws.query_params.get("target", "").strip().lower()
    await ws.accept(subprotocol)
    token = ws.query_params.get("resume", "").strip()  # resume a dropped stream (translator.server.resume)
    if token and not (source or target):  # ?resume=TOKEN alone: the stream's own pair
        source, target = await state.resumes.pair_of(token) or (source, target)
    try:
        if not source or not target:
            raise ProtocolError("missing_language", "connect to /v1/stream?source=LANG&target=LANG")
        auto = AutoSource.admit(service, source, target)  # source=auto: detected from the first words
        model_name = service.model(source, target).name if auto is None else ""
        pause_ms = _pause_ms(ws.query_params.get("pause_ms"))
    except (ProtocolError, UnknownPairError) as exc:
        code = exc.code if isinstance(exc, ProtocolError) else "unknown_pair"
        service.metrics.errors.inc(1, code)
        await ws.send_text(Error(code, str(exc)).to_json())
        await ws.close(CLOSE_POLICY)
        return
    partials = ws.query_params.get("partials", "true").strip().lower() not in ("false", "0", "no", "off")
    revisions = ws.query_params.get("revisions", "false").strip().lower() in ("true", "1", "yes", "on")
    if service.draining:
        service.metrics.errors.inc(1, "draining")
        await ws.send_text(Error("draining", "the server is shutting down; reconnect later").to_json())
        await ws.close(CLOSE_SERVICE_RESTART)
        return
    connections = state.connections
    client = ws.client.host if ws.client else ""
    if len(connections) >= config.max_connections or (
        sum(c.client == client for c in connections) >= config.max_connections_per_client
    ):
        service.metrics.errors.inc(1, "too_many_connections")
        await ws.send_text(Error("too_many_connections", "too many open streams; try again later").to_json())
        await ws.close(CLOSE_TRY_AGAIN_LATER)
        return
    key = ws.query_params.get("api_key") or protocol_key
    claimed = await state.resumes.claim(token, key, source, target) if token else None
    if isinstance(claimed, str):  # a normal new stream, after saying why
        service.metrics.errors.inc(1, "resume_failed")
        await ws.send_text(Error("resume_failed", failure_message(claimed), reason=claimed).to_json())
        claimed = None
    conn = Connection(
        ws,
        state,
        source,
        target,
        partials=partials,
        session=session,
        client=client,
        key=key,
        pause_ms=pause_ms,
        revisions=revisions,
    )
    conn.auto = auto
    state.resumes.open(conn, key, claimed)
    connections.add(conn)
    service.metrics.connections_total.inc()
    service.metrics.connections_active.inc()
    await conn.send(
        Ready(
            source=source,
            target=target,
            model=model_name,
            max_text_chars=config.max_text_chars,
            partials=partials,
            max_messages_per_second=conn.rate,
            session=session,
            resume=state.resumes.ready_info(conn, resumed=claimed is not None),
        )
    )
    if claimed is not None:  # what the client missed, then on with the stream's own segment numbers
        conn.resend(conn.kept.replay(_ack(ws.query_params.get("ack")), conn.state.next_segment))
        conn._changed()
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
        failed = worker.done() and not worker.cancelled() and worker.exception() is not None
        # A dropped stream is kept for a resume: its finals in flight are translated first (park).
        parking = state.resumes.keeps(conn, failed=failed)
        tasks = [receiver, sender] if parking else [receiver, worker, sender, *conn.partial_tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if parking:
            await state.resumes.park(conn, worker)


def _ack(raw: str | None) -> int:
    """``?ack=N``: the last segment whose final the resuming client has (-1, absent or bad: none)."""
    try:
        return max(-1, int(raw)) if raw else -1
    except ValueError:
        return -1


def _pause_ms(raw: str | None) -> float | None:
    """``?pause_ms=``: milliseconds without input that end the open segment (0: never); None: the server's."""
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ProtocolError("invalid_message", "pause_ms must be a number of milliseconds (0: no pause cuts)")
    return value


async def drain_streams(state: AppState) -> None:
    """Stop taking streams (readiness turns 503) and let every open stream finish (see Connection.drain)."""
    state.started().draining = True
    state.resumes.draining = True  # streams are handed over to the resume store, if there is one
    results = await asyncio.gather(
        *(conn.drain(handover=True) for conn in list(state.connections)), state.resumes.drain(), return_exceptions=True
    )
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, (WebSocketDisconnect, RuntimeError)):
            log.warning("a stream failed while draining: %r", result)
