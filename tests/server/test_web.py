"""The browser client and the caption overlay in a real headless Chromium (Debian's), driven by
playwright-core; plus the static files and session viewers over plain HTTP/WebSocket."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import urllib.request
import zlib
from pathlib import Path

import pytest

from tests.conftest import ROOT, Server, TcpProxy
from translator.client import StreamClient

BROWSER_DIR = ROOT / "tests" / "browser"
HAVE_BROWSER = Path("/usr/bin/chromium").exists() and (BROWSER_DIR / "node_modules" / "playwright-core").is_dir()
# CI installs both and sets this, so that a missing browser fails there instead of skipping.
REQUIRE_BROWSER = os.environ.get("TRANSLATOR_REQUIRE_BROWSER") == "1"


def get(server: Server, path: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"{server.http}{path}", timeout=30) as response:
        return response.status, response.headers.get("content-type", ""), response.read().decode()


def test_static_page_and_overlay_are_served(server: Server) -> None:
    status, ctype, body = get(server, "/")
    assert status == 200 and ctype.startswith("text/html") and 'id="transcript"' in body
    status, _, body = get(server, "/overlay")
    assert status == 200 and 'id="captions"' in body
    status, ctype, _ = get(server, "/static/app.js")
    assert status == 200 and "javascript" in ctype


async def test_viewer_sees_the_speakers_messages(server: Server) -> None:
    from websockets.asyncio.client import connect

    viewer = await connect(f"{server.ws}/v1/stream?session=room-1&role=viewer")
    ready = json.loads(await viewer.recv())
    assert ready == {"type": "ready", "role": "viewer", "session": "room-1", "protocol": 1}
    async with await StreamClient.connect(server.http, "en", "de", session="room-1") as speaker:
        assert speaker.ready["session"] == "room-1"
        await speaker.append("A girl is painting a picture.")
        await speaker.commit()
        spoken = []
        while not spoken or spoken[-1]["type"] != "final":
            spoken.append(await speaker.recv(timeout=60))
    seen = []
    while not seen or seen[-1]["type"] != "final":
        seen.append(json.loads(await viewer.recv()))
    assert seen == spoken
    await viewer.send(json.dumps({"type": "append", "text": "x"}))
    assert json.loads(await viewer.recv())["code"] == "read_only"
    await viewer.close()
    refused = await connect(f"{server.ws}/v1/stream?role=viewer")
    assert json.loads(await refused.recv())["code"] == "missing_session"
    await refused.close()
    assert refused.close_code == 1008


def png_corner_alpha(path: Path) -> int | None:
    """Alpha of the top-left pixel of an 8-bit RGBA PNG (None if the PNG has no alpha channel)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    bit_depth, color_type = header[8], header[9]
    if color_type != 6 or bit_depth != 8:
        return None
    raw = zlib.decompress(idat)
    return raw[1 + 3]  # the first pixel of the first row is stored unfiltered for every filter type


@pytest.mark.skipif(
    not HAVE_BROWSER, reason="needs /usr/bin/chromium and npm's playwright-core (.ci/run installs them)"
)
def test_page_in_a_real_browser(tmp_path: Path) -> None:
    server = Server()
    port = server.port
    proxy = TcpProxy(port)  # the page's connections go through it, so that the test can reset them
    steps: dict[str, dict[str, object]] = {}
    with subprocess.Popen(
        ["node", str(BROWSER_DIR / "page.mjs"), proxy.http, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=BROWSER_DIR,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
        try:
            for line in proc.stdout:
                step = json.loads(line)
                steps[step["step"]] = step
                if step["step"] == "drop":
                    proxy.drop()
                    proc.stdin.write("dropped\n")
                    proc.stdin.flush()
                elif step["step"] == "restart":
                    server.stop()
                    proc.stdin.write("stopped\n")
                    proc.stdin.flush()
                elif step["step"] == "restart-wait":
                    server = Server(port=port)
                    proc.stdin.write("started\n")
                    proc.stdin.flush()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            server.stop()
            proxy.stop()
        errors = proc.stderr.read()
    assert proc.returncode == 0, errors

    assert "connected" in str(steps["loaded"]["status"]) and "en" in steps["loaded"]["sources"]  # type: ignore[operator]
    typed = steps["typed"]
    assert 0 < float(typed["unstable_opacity"]) < 1  # type: ignore[arg-type]
    assert typed["final"] and "ms" in str(typed["latency"])
    assert typed["finals_before_enter"] == 0  # a pause in typing ends no sentence (the page's pause_ms=0)
    assert steps["pasted"]["finals"] == [
        "A man is riding a bicycle down the street",
        "Two dogs are playing in the snow.",
        "A woman is reading a book.",
        "Where is the train station?",
    ]
    resumed = steps["resumed"]
    assert resumed["finals"][-1] == "A cat is sleeping on the sofa" and len(resumed["finals"]) == 5  # type: ignore[index, arg-type]
    assert resumed["same_token"] and resumed["same_epoch"]  # the same stream, with its segment numbers
    assert "reconnecting" in str(steps["restart-wait"]["status"])
    finals = steps["reconnected"]["finals"]
    assert finals[-1] == "The children are eating ice cream" and len(finals) == 6  # type: ignore[index, arg-type]
    assert steps["reconnected"]["open_entries"] == 0
    vtt = str(steps["vtt"]["text"])
    assert steps["vtt"]["name"] == "captions.vtt" and vtt.startswith("WEBVTT\n\n")
    assert vtt.count(" --> ") == 6
    overlay = steps["overlay"]
    assert overlay["text"] and overlay["background"] == "rgba(0, 0, 0, 0)" and overlay["font_size"] == "44px"
    assert png_corner_alpha(tmp_path / "overlay.png") == 0  # transparent for OBS
    keep = os.environ.get("TRANSLATOR_SCREENSHOTS")
    if keep:
        for name in ("page.png", "overlay.png"):
            shutil.copy(tmp_path / name, Path(keep) / name)
