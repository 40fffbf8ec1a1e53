"""A small async Python client for the streaming protocol and the REST API.

async with await StreamClient.connect("ws://127.0.0.1:8000", "en", "de") as stream:
    await stream.append("A man is riding a bicycle. ")
    await stream.commit()
    async for message in stream:
        if message["type"] == "final":
            print(message["text"])
            break

A dropped connection is resumed on its own (``resume=False`` turns that off): nothing sent is lost, and
each final arrives once, with its segment number.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake

from translator.ratelimit import TokenBucket


class StreamError(RuntimeError):
    """The server refused the stream (its ``error`` message is in ``message``)."""

    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(f"{message.get('code')}: {message.get('message')}")
        self.message = message


class StreamClient:
    """One stream. With ``resume`` (the default), a stream whose connection drops (or that a draining
    server closes) is resumed on a new connection, with bounded backoff: the messages the server had not
    read are sent again, and finals come exactly once and keep their segment numbers. If the server
    cannot resume it (its ``resume_failed`` error is handed to the reader, ``reason`` says why), the
    client goes on with the new stream the server started."""

    # Frames kept for sending again after a resume (the server says how many it had read).
    RESEND_LOG = 10_000
    # Close codes after which the stream is resumed (None: the connection was lost without one).
    RESUMABLE = (None, 1001, 1005, 1006, 1012, 1013, 1014)

    def __init__(
        self,
        ws: ClientConnection,
        ready: dict[str, Any],
        *,
        url: str | None = None,
        resume: bool = True,
        acks: bool = True,
        reconnects: int = 10,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        open_timeout: float = 30.0,
    ) -> None:
        self.ws = ws
        self.ready = ready
        # Stay under the server's advertised message rate (the server's own token bucket).
        self._pace = TokenBucket(max(0.0, float(ready.get("max_messages_per_second") or 0)))
        self.url = url  # the stream's URL, for resuming (None: no resume)
        self.resume = resume and url is not None
        self.acks = acks  # acknowledge finals as they come, so that the server can forget them
        self.reconnects, self.backoff, self.max_backoff = reconnects, backoff, max_backoff
        self.open_timeout = open_timeout
        self.last_final = -1  # the last segment whose final was received
        self.resumed = 0  # successful resumes
        self._sent = 0  # frames sent on this stream (the server counts them as ``received``)
        self._log: deque[tuple[int, str]] = deque(maxlen=self.RESEND_LOG)
        self._lock = asyncio.Lock()  # one frame at a time, and none while a resume sends frames again
        self._pending: deque[dict[str, Any]] = deque()  # for the reader before more from the socket
        self._recovering: asyncio.Task[bool] | None = None
        self._acked = -1
        self._ack_task: asyncio.Task[None] | None = None
        self._ended_by: str | None = None  # idle_timeout / session_expired: the server ended the stream
        self._closing = False

    @property
    def token(self) -> str | None:
        """The stream's resume token (None: the server keeps no streams for a resume)."""
        token = self.ready.get("resume")
        return token if isinstance(token, str) else None

    @classmethod
    async def connect(
        cls,
        url: str,
        source: str,
        target: str,
        *,
        open_timeout: float = 30.0,
        resume: bool = True,
        acks: bool = True,
        reconnects: int = 10,
        **query: str,
    ) -> StreamClient:
        """Open ``/v1/stream`` on the server at ``url`` (``ws://`` or ``http://``) and wait for ``ready``.
        ``resume=False``: a dropped connection ends the stream (ConnectionClosed), as without resume."""
        base = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        params = urlencode({"source": source, "target": target, **query})
        stream_url = f"{base}/v1/stream?{params}"
        ws = await connect(stream_url, open_timeout=open_timeout, max_size=None)
        first = json.loads(await asyncio.wait_for(ws.recv(), open_timeout))
        if first.get("type") != "ready":
            await ws.close()
            raise StreamError(first)
        return cls(
            ws,
            first,
            url=stream_url,
            resume=resume,
            acks=acks,
            reconnects=reconnects,
            open_timeout=open_timeout,
        )

    async def __aenter__(self) -> StreamClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(self, message: dict[str, Any]) -> None:
        frame = json.dumps(message, ensure_ascii=False)
        while not self._pace.take():
            await asyncio.sleep(self._pace.wait_time())
        async with self._lock:
            ws = self.ws
            self._sent += 1
            self._log.append((self._sent, frame))
            try:
                await ws.send(frame)
                return
            except ConnectionClosed as exc:
                if not self.resume:
                    raise
                closed = exc
        # The frame is logged: the resume sends it again if the server did not read it.
        if not await self._reconnect(ws, closed):
            raise closed

    async def append(self, text: str) -> None:
        await self.send({"type": "append", "text": text})

    async def replace(self, text: str) -> None:
        await self.send({"type": "replace", "text": text})

    async def commit(self) -> None:
        await self.send({"type": "commit"})

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        return await asyncio.wait_for(self._next(), timeout)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            try:
                yield await self._next()
            except ConnectionClosedOK:
                return

    async def _next(self) -> dict[str, Any]:
        while True:
            if self._pending:
                return self._pending.popleft()
            ws = self.ws
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                if not self.resume or not await self._reconnect(ws, exc):
                    raise
                continue
            message = dict(json.loads(raw))
            kind = message.get("type")
            if kind == "final":
                segment = int(message["segment"])
                if segment <= self.last_final:
                    continue  # already received (cannot happen with a server that honours ?ack=)
                self.last_final = segment
                self._acknowledge()
            elif kind == "error" and message.get("code") in ("idle_timeout", "session_expired"):
                self._ended_by = str(message["code"])
            return message

    def _acknowledge(self) -> None:
        if self.acks and self.token and (self._ack_task is None or self._ack_task.done()):
            self._ack_task = asyncio.get_running_loop().create_task(self._send_acks())

    async def _send_acks(self) -> None:
        await asyncio.sleep(0)  # the finals that arrive together get one ack
        while self._acked < self.last_final and not self._closing:
            segment = self.last_final
            try:
                await self.send({"type": "ack", "segment": segment})
            except ConnectionClosed:
                return
            self._acked = segment

    async def _reconnect(self, failed: ClientConnection, closed: ConnectionClosed) -> bool:
        """After ``failed`` closed: resume the stream on a new connection (one attempt for all callers).
        False: the stream is over."""
        if self.ws is not failed:
            return True  # another caller has resumed it already
        if self._recovering is None or self._recovering.done():
            self._recovering = asyncio.get_running_loop().create_task(self._resume(failed, closed))
        return await asyncio.shield(self._recovering)

    async def _resume(self, failed: ClientConnection, closed: ConnectionClosed) -> bool:
        code = closed.rcvd.code if closed.rcvd is not None else None
        if self._closing or self.url is None or not self.token or self._ended_by or code not in self.RESUMABLE:
            return False
        delay = 0.0
        for attempt in range(self.reconnects):
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, self.backoff), self.max_backoff)
            if self._closing:
                return False
            query = urlencode({"resume": self.token, "ack": self.last_final})
            try:
                ws = await connect(f"{self.url}&{query}", open_timeout=self.open_timeout, max_size=None)
            except (OSError, TimeoutError, InvalidHandshake):
                continue
            try:
                errors, first = [], json.loads(await asyncio.wait_for(ws.recv(), self.open_timeout))
                while first.get("type") == "error" and first.get("code") == "resume_failed":
                    errors.append(first)
                    first = json.loads(await asyncio.wait_for(ws.recv(), self.open_timeout))
            except (ConnectionClosed, TimeoutError, ValueError):
                await ws.close()
                continue
            if first.get("type") != "ready":  # draining, too many connections: another try
                await ws.close()
                continue
            if errors and errors[-1].get("reason") == "in_use" and attempt < self.reconnects - 1:
                await ws.close()  # the server has not noticed the old connection's end yet
                continue
            try:
                await self._take_over(ws, first, errors)
            except ConnectionClosed:  # lost again while sending the missing messages: resume again
                continue
            return True
        return False

    async def _take_over(self, ws: ClientConnection, ready: dict[str, Any], errors: list[dict[str, Any]]) -> None:
        async with self._lock:
            if ready.get("resumed") is True:
                received = int(ready.get("received", 0))
                if self._log and self._log[0][0] > received + 1:
                    self._pending.append(
                        {
                            "type": "error",
                            "code": "resume_incomplete",
                            "message": "some messages the server did not read are no longer kept to send again",
                        }
                    )
                for seq, frame in self._log:
                    if seq > received:
                        await ws.send(frame)
                self.resumed += 1
            else:  # a new stream: its own segment numbers, from 0
                self._pending.extend(errors)
                self._log.clear()
                self._sent = 0
                self.last_final = self._acked = -1
            self.ws, self.ready = ws, ready
            self._pace = TokenBucket(max(0.0, float(ready.get("max_messages_per_second") or 0)))

    async def close(self) -> None:
        """End the stream (close code 1000: the server forgets it)."""
        self._closing = True
        for task in (self._ack_task, self._recovering):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.ws.close()


class RestClient:
    """LibreTranslate-style ``POST /translate`` over one keep-alive HTTP/1.1 connection."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http":
            raise ValueError("RestClient speaks plain http:// only")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self._writer.write(head.encode() + payload)
        await self._writer.drain()
        status_line = await self._reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        data = await self._reader.readexactly(length)
        return status, json.loads(data) if data else None

    async def translate(self, q: str | list[str], source: str, target: str) -> str | list[str]:
        status, data = await self.request("POST", "/translate", {"q": q, "source": source, "target": target})
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {data.get('error') if isinstance(data, dict) else data}")
        translated: str | list[str] = data["translatedText"]
        return translated

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except ConnectionError:
                pass
            self._writer = self._reader = None
