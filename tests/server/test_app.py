"""Server start-up options, each against a real server process."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from tests.conftest import MODELS, Server, metric
from translator.client import StreamClient
from translator.server.app import create_app
from translator.server.settings import ServerConfig
from translator.server.state import app_state


@contextlib.contextmanager
def in_process_server(**config: object) -> Iterator[tuple[Starlette, uvicorn.Server, int]]:
    """The app under a real uvicorn in a thread of this process, for tests that reach into it."""
    app = create_app(ServerConfig(models=MODELS, port=0, log_level="warning", **config))  # type: ignore[arg-type]
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", ws="wsproto"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not (uv.started and (service := app_state(app).service) is not None and service.ready):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield app, uv, uv.servers[0].sockets[0].getsockname()[1]
    finally:
        uv.should_exit = True
        thread.join(30)


def test_warm_cache_answers_the_first_user_from_the_cache(tmp_path: Path) -> None:
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("Good morning, everyone.\nen-de\tThank you for watching.\nde-en\tVielen Dank.\n\n")
    server = Server("--warm-cache", str(phrases))
    try:
        deadline = time.monotonic() + 120
        entries = 0.0
        while time.monotonic() < deadline and entries < 4:  # 2 phrases x 2 pairs, minus "Vielen Dank." en-de
            with urllib.request.urlopen(f"{server.http}/metrics", timeout=10) as response:
                entries = metric(response.read().decode(), "translator_cache_entries")
            time.sleep(0.2)
        assert entries == 4

        async def first_user() -> dict[str, object]:
            async with await StreamClient.connect(server.http, "en", "de") as stream:
                await stream.append("Thank you for watching.")
                await stream.commit()
                message = await stream.recv(timeout=60)
                while message["type"] != "final":
                    message = await stream.recv(timeout=60)
                return message

        final = asyncio.run(first_user())
        assert final["cached"] is True
    finally:
        server.stop()


def test_batching_off_still_serves(tmp_path: Path) -> None:
    server = Server("--max-batch", "1", "--batch-wait-ms", "0", "--cache-size", "0")
    try:

        async def two_streams() -> list[dict[str, object]]:
            async def one(text: str) -> dict[str, object]:
                async with await StreamClient.connect(server.http, "en", "de") as stream:
                    await stream.append(text)
                    await stream.commit()
                    message = await stream.recv(timeout=60)
                    while message["type"] != "final":
                        message = await stream.recv(timeout=60)
                    return message

            return await asyncio.gather(one("A man sings."), one("A man sings."))

        finals = asyncio.run(two_streams())
        assert all(f["cached"] is False for f in finals)
        assert finals[0]["text"] == finals[1]["text"]
    finally:
        server.stop()


def test_sigterm_drains_open_streams_and_exits_0() -> None:
    import json
    import signal

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    server = Server()
    try:

        async def scenario() -> tuple[list[dict[str, object]], int | None]:
            # No pause ends the segment (pause_ms=0): on a loaded machine the first partial may take longer
            # than the default pause, and the sentence must still be open when the signal comes.
            ws = await connect(f"{server.ws}/v1/stream?source=en&target=de&pause_ms=0")
            assert json.loads(await ws.recv())["type"] == "ready"
            await ws.send(json.dumps({"type": "append", "text": "A man is riding a bicycle down the"}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 60))  # the sentence is open, not final
            assert first["type"] == "partial"
            server.process.send_signal(signal.SIGTERM)
            messages = []
            try:
                async with asyncio.timeout(60):
                    while True:
                        messages.append(json.loads(await ws.recv()))
            except ConnectionClosed:
                pass
            return messages, ws.close_code

        messages, code = asyncio.run(scenario())
        finals = [m for m in messages if m["type"] == "final"]
        assert [f["source"] for f in finals] == ["A man is riding a bicycle down the"]  # nothing lost
        assert code == 1001
        assert server.process.wait(timeout=60) == 0
    finally:
        server.stop()


def test_readiness_and_new_streams_while_draining() -> None:
    import json

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from translator.server.stream import drain_streams

    # The app in-process under a real uvicorn, so the drain can be started without a signal.

    with in_process_server() as (app, uv, port):
        asyncio.run_coroutine_threadsafe(drain_streams(app_state(app)), uv.servers[0].get_loop()).result(30)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10)
            raise AssertionError("readyz should be 503 while draining")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503

        async def new_stream() -> tuple[dict[str, object], int | None]:
            ws = await connect(f"ws://127.0.0.1:{port}/v1/stream?source=en&target=de")
            message = json.loads(await ws.recv())
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return message, ws.close_code

        message, code = asyncio.run(new_stream())
        assert message["code"] == "draining" and code == 1012


def test_model_error_mid_batch_reaches_only_the_affected_streams() -> None:
    """The real model, made to fail on one sentence: that stream gets an error and a final marked
    failed (keeping its stable text), the batch's other requests get the error too, and every
    other stream and later request carries on."""
    import json

    from websockets.asyncio.client import connect

    from translator.engine.engine import Engine

    with in_process_server(batch_wait_ms=0) as (app, _, port):
        engine: Engine = app_state(app).started().registry.engine("en", "de")
        real = engine.translate

        def failing(texts, **kwargs):  # type: ignore[no-untyped-def]
            if any("explodes" in t for t in texts):
                raise RuntimeError("simulated model failure")
            return real(texts, **kwargs)

        engine.translate = failing  # type: ignore[method-assign]

        async def stream(text: str) -> list[dict[str, object]]:
            ws = await connect(f"ws://127.0.0.1:{port}/v1/stream?source=en&target=de&partials=false")
            await ws.recv()
            await ws.send(json.dumps({"type": "append", "text": text}))
            await ws.send(json.dumps({"type": "commit"}))
            messages: list[dict[str, object]] = []
            async with asyncio.timeout(60):
                while not messages or messages[-1]["type"] != "final":
                    messages.append(json.loads(await ws.recv()))
            await ws.close()
            return messages

        async def scenario() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
            bad = await stream("The bomb explodes.")
            good = await stream("A child is laughing.")
            return bad, good

        bad, good = asyncio.run(scenario())
        assert [m["type"] for m in bad] == ["error", "final"]
        assert bad[0]["code"] == "translation_failed" and bad[0]["segment"] == 0
        assert bad[1]["failed"] is True and bad[1]["source"] == "The bomb explodes."
        assert good[-1]["type"] == "final" and good[-1]["text"] and "failed" not in good[-1]
