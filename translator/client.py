"""A small async Python client for the streaming protocol and the REST API.

async with await StreamClient.connect("ws://127.0.0.1:8000", "en", "de") as stream:
    await stream.append("A man is riding a bicycle. ")
    await stream.commit()
    async for message in stream:
        if message["type"] == "final":
            print(message["text"])
            break
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect

from translator.ratelimit import TokenBucket


class StreamError(RuntimeError):
    """The server refused the stream (its ``error`` message is in ``message``)."""

    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(f"{message.get('code')}: {message.get('message')}")
        self.message = message


class StreamClient:
    def __init__(self, ws: ClientConnection, ready: dict[str, Any]) -> None:
        self.ws = ws
        self.ready = ready
        # Stay under the server's advertised message rate (the server's own token bucket).
        self._pace = TokenBucket(max(0.0, float(ready.get("max_messages_per_second") or 0)))

    @classmethod
    async def connect(
        cls, url: str, source: str, target: str, *, open_timeout: float = 30.0, **query: str
    ) -> StreamClient:
        """Open ``/v1/stream`` on the server at ``url`` (``ws://`` or ``http://``) and wait for ``ready``."""
        base = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        params = urlencode({"source": source, "target": target, **query})
        ws = await connect(f"{base}/v1/stream?{params}", open_timeout=open_timeout, max_size=None)
        first = json.loads(await asyncio.wait_for(ws.recv(), open_timeout))
        if first.get("type") != "ready":
            await ws.close()
            raise StreamError(first)
        return cls(ws, first)

    async def __aenter__(self) -> StreamClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(self, message: dict[str, Any]) -> None:
        while not self._pace.take():
            await asyncio.sleep(self._pace.wait_time())
        await self.ws.send(json.dumps(message, ensure_ascii=False))

    async def append(self, text: str) -> None:
        await self.send({"type": "append", "text": text})

    async def replace(self, text: str) -> None:
        await self.send({"type": "replace", "text": text})

    async def commit(self) -> None:
        await self.send({"type": "commit"})

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        return dict(json.loads(raw))

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        async for raw in self.ws:
            yield dict(json.loads(raw))

    async def close(self) -> None:
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
