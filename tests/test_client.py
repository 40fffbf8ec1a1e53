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


async def finals_sent(server: Server) -> float:
    import asyncio
    import urllib.request

    from tests.conftest import metric

    def read() -> str:
        with urllib.request.urlopen(f"{server.http}/metrics", timeout=10) as response:
            return response.read().decode()

    return metric(await asyncio.to_thread(read), 'translator_messages_sent_total{type="final"}')


async def test_stream_client_resumes_lost_connections_by_itself(server: Server) -> None:
    import asyncio

    from tests.conftest import TcpProxy

    proxy = TcpProxy(server.port)
    try:
        async with await StreamClient.connect(proxy.http, "en", "de", pause_ms="0") as stream:
            assert stream.token and stream.resume
            await stream.append("A man is riding ")
            assert (await stream.recv(timeout=60))["type"] == "partial"
            proxy.drop()  # in the middle of a sentence
            await stream.append("a bicycle. Two dogs are playing.")
            finals = []
            while not finals:
                message = await stream.recv(timeout=60)
                if message["type"] == "final":
                    finals.append(message)
            sent = await finals_sent(server)
            proxy.lose_replies = True
            await stream.commit()  # its final is sent, and lost on the way
            async with asyncio.timeout(30):
                while await finals_sent(server) < sent + 1:
                    await asyncio.sleep(0.05)
            proxy.drop()
            proxy.lose_replies = False
            while len(finals) < 2:
                message = await stream.recv(timeout=60)
                if message["type"] == "final":
                    finals.append(message)
            assert [(f["segment"], f["source"]) for f in finals] == [
                (0, "A man is riding a bicycle."),
                (1, "Two dogs are playing."),
            ]
            assert stream.resumed == 2 and proxy.connections == 3
    finally:
        proxy.stop()


async def test_stream_client_without_resume_ends_with_its_connection(server: Server) -> None:
    from websockets.exceptions import ConnectionClosed

    from tests.conftest import TcpProxy

    proxy = TcpProxy(server.port)
    try:
        stream = await StreamClient.connect(proxy.http, "en", "de", resume=False)
        proxy.drop()
        with pytest.raises(ConnectionClosed):
            await stream.recv(timeout=30)
        await stream.close()
        assert proxy.connections == 1
    finally:
        proxy.stop()
