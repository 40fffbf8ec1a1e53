"""API keys: WebSocket (query parameter or subprotocol, checked before accept), REST, and logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import Server, post_json
from translator.server.auth import ApiKeys, RedactKeys, key_from_protocols

KEY = "s3cret-key-123"


def test_keys_file_and_inline(tmp_path: Path) -> None:
    file = tmp_path / "keys.txt"
    file.write_text("# team keys\nalpha  # the first\n\nbeta\n")
    keys = ApiKeys.load(file, ("gamma",))
    assert keys.required and keys.valid("alpha") and keys.valid("beta") and keys.valid("gamma")
    assert not keys.valid("delta") and not keys.valid("") and not keys.valid(None)
    assert ApiKeys.load(None).valid(None)  # no keys configured: open


def test_key_from_protocols() -> None:
    assert key_from_protocols(["translator", "key.abc"]) == ("abc", "translator")
    assert key_from_protocols(["key.abc"]) == ("abc", "key.abc")
    assert key_from_protocols(None) == (None, None)


def test_redaction() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s "%s"', ("1.2.3.4", "GET /v1/stream?a=1&api_key=xyz&b=2"), None
    )
    RedactKeys().filter(record)
    assert "xyz" not in record.getMessage() and "api_key=***" in record.getMessage()
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, "%s", ("GET /v1/stream?source=en&resume=T0k3n-_x&ack=2",), None
    )
    RedactKeys().filter(record)
    assert "T0k3n" not in record.getMessage() and "resume=***&ack=2" in record.getMessage()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    keys = tmp_path_factory.mktemp("keys") / "keys.txt"
    keys.write_text(KEY + "\n")
    server = Server("--api-keys-file", str(keys), "--log-level", "info")
    yield server
    server.stop()


async def test_websocket_needs_a_key(keyed: Server) -> None:
    with pytest.raises(InvalidStatus) as info:
        await connect(f"{keyed.ws}/v1/stream?source=en&target=de")
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        await connect(f"{keyed.ws}/v1/stream?source=en&target=de&api_key=wrong")
    ws = await connect(f"{keyed.ws}/v1/stream?source=en&target=de&api_key={KEY}")
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.close()
    ws = await connect(f"{keyed.ws}/v1/stream?source=en&target=de", subprotocols=["translator", f"key.{KEY}"])
    assert ws.subprotocol == "translator"
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.close()


def test_rest_needs_the_libretranslate_api_key(keyed: Server) -> None:
    status, body = post_json(keyed, {"q": "Hello.", "source": "en", "target": "de"})
    assert status == 403 and body["error"] == "Invalid API key"
    status, body = post_json(keyed, {"q": "Hello.", "source": "en", "target": "de", "api_key": KEY})
    assert status == 200 and body["translatedText"]


def test_keys_never_reach_the_log(keyed: Server) -> None:
    keyed.stop()
    log = keyed.output
    assert "/v1/stream" in log  # the access log was on
    assert KEY not in log


def test_per_key_rate_limit(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("k1\nk2\n")
    server = Server("--api-keys-file", str(keys), "--key-rate", "3")
    try:
        statuses = [
            post_json(server, {"q": "Hi.", "source": "en", "target": "de", "api_key": "k1"})[0] for _ in range(6)
        ]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
        # Another key has its own budget.
        assert post_json(server, {"q": "Hi.", "source": "en", "target": "de", "api_key": "k2"})[0] == 200
    finally:
        server.stop()


def test_api_keys_allow_with_a_budget() -> None:
    keys = ApiKeys({"a"}, per_second=2)
    assert [keys.allow("a") for _ in range(3)] == [True, True, False]
    assert ApiKeys({"a"}).allow("a")  # no budget configured: unlimited
