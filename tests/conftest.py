from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from translator.engine.engine import Engine
from translator.engine.registry import Registry
from translator.text import keep_prefix

if TYPE_CHECKING:
    import redis

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry(MODELS, device="cpu")


@pytest.fixture(scope="session")
def en_de(registry: Registry) -> Engine:
    return registry.engine("en", "de")


@pytest.fixture(scope="session")
def de_en(registry: Registry) -> Engine:
    return registry.engine("de", "en")


def wait_until(
    ready: Callable[[], object],
    what: str,
    *,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    errors: tuple[type[Exception], ...] = (OSError,),
) -> None:
    """Poll ``ready`` (raising one of ``errors`` counts as not yet) until it returns true; a
    RuntimeError if ``timeout`` seconds pass or ``process`` exits first."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except errors:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout:g} s")
        time.sleep(0.05)


class Server:
    """A real `translator serve` process on a free loopback port."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
        command: list[str] | None = None,
        inherit_env: bool = True,
    ) -> None:
        """``translator serve`` with ``args``, or ``command`` as given (then ``port`` must be set and used)."""
        import os
        import socket
        import subprocess
        import sys
        import tempfile

        if port is None:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        self.port = port
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        # Output goes to a file, not a pipe: a chatty server must never block on a full pipe.
        self._log = tempfile.TemporaryFile()
        if command is None:
            command = [sys.executable, "-m", "translator", "serve", "--port", str(self.port)]
            command += ["--log-level", "warning", *args]
        self.process = subprocess.Popen(
            command,
            env={**(os.environ if inherit_env else {}), **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120.0) -> None:
        import urllib.request

        def ready() -> bool:
            with urllib.request.urlopen(f"{self.http}/readyz", timeout=2) as response:
                return bool(response.status == 200)

        try:
            wait_until(ready, "the server", timeout=timeout, process=self.process)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc} (exit status {self.process.returncode}):\n{self.output}") from None

    output = ""

    def stop(self) -> None:
        """Stop the server (once); what it printed is kept in ``output``."""
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.seek(0)
            self.output = self._log.read().decode(errors="replace")
            self._log.close()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A real ``redis-server`` on a free loopback port (by default without persistence, or with the
    given arguments); it can be killed and restarted."""

    def __init__(self, args: Sequence[str] = ("--save", "", "--appendonly", "no")) -> None:
        self.args = list(args)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", *self.args, "--port", str(self.port), "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait(self.port)

    @staticmethod
    def wait(port: int, timeout: float = 10.0) -> None:
        """Until a Redis on ``port`` answers PING."""
        import redis

        client = redis.Redis(port=port, socket_timeout=1)
        try:
            wait_until(client.ping, f"a Redis on port {port}", timeout=timeout, errors=(redis.ConnectionError,))
        finally:
            client.close()

    def client(self) -> redis.Redis:
        import redis

        return redis.Redis(port=self.port, socket_timeout=5, decode_responses=True)

    def kill(self) -> None:
        """SIGKILL: gone without a word, as a crashed Redis is."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self.kill()


def tool_available(command: str, required_by: str) -> bool:
    """Whether ``command`` is installed; a test run that sets ``required_by``=1 (CI) fails without it."""
    import os
    import shutil

    if shutil.which(command):
        return True
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{command} is required ({required_by}=1) but not installed")
    return False


def redis_available() -> bool:
    return tool_available("redis-server", "TRANSLATOR_REQUIRE_REDIS")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if not redis_available():
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    srv = RedisServer()
    yield srv
    srv.stop()


# Helpers shared by the test modules ------------------------------------------------------------


async def open_stream(server: Server, query: str = "source=en&target=de") -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(f"{server.ws}/v1/stream?{query}", open_timeout=30)
    ready = json.loads(await asyncio.wait_for(ws.recv(), 30))
    return ws, ready


async def send(ws: ClientConnection, kind: str, text: str | None = None) -> None:
    message: dict[str, Any] = {"type": kind}
    if text is not None:
        message["text"] = text
    await ws.send(json.dumps(message))


async def receive_until(ws: ClientConnection, finals: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Messages until ``finals`` final messages have arrived (bounded in time)."""
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while sum(m["type"] == "final" for m in messages) < finals:
            messages.append(json.loads(await ws.recv()))
    return messages


def check_stream_guarantees(messages: list[dict[str, Any]], sources: list[str], first_segment: int = 0) -> None:
    """Segments in order from first_segment, one final each, no partial after it, stable only grows."""
    finals = [m for m in messages if m["type"] == "final"]
    assert [m["segment"] for m in finals] == list(range(first_segment, first_segment + len(sources)))
    assert [m["source"] for m in finals] == sources
    stable: dict[int, str] = {}
    done: set[int] = set()
    for m in messages:
        if m["type"] not in ("partial", "final"):
            continue
        seg = m["segment"]
        assert seg not in done, f"{m['type']} for segment {seg} after its final"
        if m["type"] == "partial":
            assert m["stable"].startswith(stable.get(seg, "")), (stable.get(seg), m)
            assert keeps_words(m["stable"], stable.get(seg, "")), (stable.get(seg), m)
            assert set(m) == {"type", "segment", "source", "stable", "unstable"}
            stable[seg] = m["stable"]
        else:
            assert m["text"].startswith(stable.get(seg, "")), (stable.get(seg), m)
            assert keeps_words(m["text"], stable.get(seg, "")), (stable.get(seg), m)
            assert m["text"]
            assert isinstance(m["cached"], bool) and m["latency_ms"] >= 0
            done.add(seg)


def request(
    server: Server, path: str, body: bytes | None = None, content_type: str | None = None, method: str | None = None
) -> tuple[int, Any, str]:
    req = urllib.request.Request(f"{server.http}{path}", data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            raw = response.read().decode()
            status, ctype = response.status, response.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        raw, status, ctype = exc.read().decode(), exc.code, exc.headers.get("content-type", "")
    return status, (json.loads(raw) if "json" in ctype else raw), ctype


def post_json(server: Server, data: Any) -> tuple[int, Any]:
    status, body, _ = request(server, "/translate", json.dumps(data).encode(), "application/json")
    return status, body


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def keeps_words(text: str, stable: str) -> bool:
    """The stability promise at word level: the words of ``text`` start with every word of ``stable``,
    none of them extended or changed (``Land`` -> ``Lande`` breaks it)."""
    words = stable.split()
    return text.split()[: len(words)] == words


def fake_translate(source: str, prefix: str) -> str:
    """Word-by-word 'translation' that revises its last word, like a real model on a growing input."""
    words = [w.upper() for w in source.split()]
    if words:
        words[-1] = words[-1] + "?"  # the tail is unsure
    return keep_prefix(prefix, " ".join(words))


def check_state_guarantees(messages: list[dict[str, object]], expected_sources: list[str]) -> None:
    finals = [m for m in messages if m["type"] == "final"]
    assert [m["segment"] for m in finals] == list(range(len(expected_sources)))
    assert [m["source"] for m in finals] == expected_sources
    stable: dict[object, str] = {}
    finished: set[object] = set()
    for m in messages:
        seg = m["segment"]
        assert seg not in finished, f"message for segment {seg} after its final"
        if m["type"] == "partial":
            assert str(m["stable"]).startswith(stable.get(seg, ""))
            assert keeps_words(str(m["stable"]), stable.get(seg, ""))
            stable[seg] = str(m["stable"])
        else:
            assert str(m["text"]).startswith(stable.get(seg, ""))
            assert keeps_words(str(m["text"]), stable.get(seg, ""))
            finished.add(seg)


def server_metric(server: Server, name: str, default: float | None = None) -> float:
    """One sample of /metrics (``name`` with its labels, as printed)."""
    with urllib.request.urlopen(f"{server.http}/metrics", timeout=30) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
    if default is None:
        raise AssertionError(f"{name} not in /metrics")
    return default


def post_json_url(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


class TcpProxy:
    """A TCP proxy on a free loopback port to ``upstream`` (a port; it may be changed for new
    connections), in a thread of its own, for tests of lost connections: ``lose_replies`` (``lose_requests``)
    makes what the server (the client) sends vanish on the way, as on a dying network; ``drop()`` resets
    every connection (RST both ways, no close frame), as a failing network or a killed proxy does."""

    def __init__(self, upstream: int) -> None:
        import threading

        self.upstream = upstream
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.lose_replies = False
        self.lose_requests = False
        self.connections = 0  # accepted so far
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the proxy did not start")

    def _run(self, started: Any) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> asyncio.Server:
            return await asyncio.start_server(self._handle, "127.0.0.1", self.port)

        self._server = self._loop.run_until_complete(serve())
        started.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, replies: bool) -> None:
            while data := await src.read(65536):
                if self.lose_replies if replies else self.lose_requests:
                    continue
                dst.write(data)
                await dst.drain()
            dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))
        except (ConnectionError, OSError):
            pass
        finally:
            self._pairs.discard(pair)
            for w in pair:
                w.close()

    def drop(self) -> None:
        """Reset every open connection, both ways."""
        import socket
        import struct

        async def reset() -> None:
            for pair in list(self._pairs):
                for w in pair:
                    sock = w.get_extra_info("socket")
                    if sock is not None and sock.fileno() >= 0:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    w.transport.abort()
            self._pairs.clear()

        asyncio.run_coroutine_threadsafe(reset(), self._loop).result(10)

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        self.drop()

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


class _Signature(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.events: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(self.get_starttag_text() or tag)

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self.events.append(f"</{tag}>")

    def handle_comment(self, data: str) -> None:
        self.events.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.events.append(f"<!{decl}>")


def html_signature(html: str) -> list[str]:
    """Everything in an HTML text but its translatable text: the tags as written (attributes and their
    entities included), comments and declarations, in order."""
    parser = _Signature()
    parser.feed(html)
    parser.close()
    return parser.events


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type: ``files`` maps a field to (file name, content)."""
    boundary = "----translator-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    for name, (filename, content) in files.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
