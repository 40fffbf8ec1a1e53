from __future__ import annotations

import pytest

from tests.conftest import Server
from translator.client import RestClient, StreamClient, StreamError


async def test_stream_client_round_trip(server: Server) -> None:
    async with await StreamClient.connect(server.http, "en", "de") as stream:
        assert stream.ready["model"] == "en-de"
        await stream.append("A horse is running ")
        await stream.append("across the field.")
        await stream.commit()
        finals = []
        async for message in stream:
            if message["type"] == "final":
                finals.append(message)
                break
        assert finals[0]["source"] == "A horse is running across the field." and finals[0]["text"]


async def test_stream_client_replace_and_refusal(server: Server) -> None:
    async with await StreamClient.connect(server.ws, "de", "en") as stream:
        await stream.replace("ein Hund")
        await stream.replace("Ein Hund schläft.")
        await stream.commit()
        message = await stream.recv(timeout=60)
        while message["type"] != "final":
            message = await stream.recv(timeout=60)
        assert message["source"] == "Ein Hund schläft."
    with pytest.raises(StreamError) as info:
        await StreamClient.connect(server.http, "en", "xx")
    assert info.value.message["code"] == "unknown_pair"


async def test_rest_client(server: Server) -> None:
    async with RestClient(server.http) as client:
        one = await client.translate("A cat sleeps on the sofa.", "en", "de")
        many = await client.translate(["A cat sleeps on the sofa.", "Hello."], "en", "de")
        assert isinstance(one, str) and isinstance(many, list) and many[0] == one
        with pytest.raises(RuntimeError, match="HTTP 400"):
            await client.translate("x", "en", "xx")
        status, languages = await client.request("GET", "/languages")
        assert status == 200 and {lang["code"] for lang in languages} == {"en", "de"}
