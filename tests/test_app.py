"""Server start-up options, each against a real server process."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path

from translator.client import StreamClient

from .conftest import Server
from .test_rest import metric


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
