"""`translator stream`: the caption pipe, in-process and through a real server."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import Server
from translator.cli.stream import parse_line
from translator.protocol import ClientMessage, ProtocolError

INPUT = (
    "A man is riding a bicycle. Two dogs are playing in the snow.\n"
    '{"type": "append", "text": "Where is the "}\n'
    '{"type": "append", "text": "train station?"}\n'
    '{"type": "commit"}\n'
    "\n"
    "The children are eating ice cream\n"
)
SOURCES = [
    "A man is riding a bicycle.",
    "Two dogs are playing in the snow.",
    "Where is the train station?",
    "The children are eating ice cream",
]


def stream(*args: str, stdin: str | bytes = INPUT) -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "translator", "stream", "-s", "en", "-t", "de", *args],
        input=data,
        capture_output=True,
        timeout=300,
    )
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def test_parse_line() -> None:
    assert parse_line("Hello there\n") == ClientMessage("append", "Hello there\n")
    assert parse_line('{"type": "replace", "text": "hi"}') == ClientMessage("replace", "hi")
    assert parse_line("{not json, just text}") == ClientMessage("append", "{not json, just text}\n")
    with pytest.raises(ProtocolError):
        parse_line('{"type": "bogus"}')


def test_text_output_one_line_per_sentence() -> None:
    proc = stream()
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(SOURCES) and all(lines)


def test_jsonl_output_has_the_finals_in_order() -> None:
    proc = stream("--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    finals = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [f["segment"] for f in finals] == [0, 1, 2, 3]
    assert [f["source"] for f in finals] == SOURCES


def test_vtt_and_srt_outputs() -> None:
    vtt = stream("--format", "vtt")
    assert vtt.returncode == 0, vtt.stderr
    assert vtt.stdout.startswith("WEBVTT\n\n")
    times = re.findall(r"^(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)$", vtt.stdout, re.M)
    assert len(times) == 4 and all(start < end for start, end in times)
    srt = stream("--format", "srt")
    assert srt.returncode == 0, srt.stderr
    assert re.findall(r"^(\d+)$", srt.stdout, re.M) == ["1", "2", "3", "4"]
    assert len(re.findall(r"^\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d$", srt.stdout, re.M)) == 4


def test_bad_lines_are_reported_and_skipped() -> None:
    proc = stream(stdin=b'A dog sleeps.\n{"type": "shout"}\n\xff\xfe\nA cat sleeps.\n')
    assert proc.returncode == 0
    assert "line 2" in proc.stderr and "line 3" in proc.stderr and "UTF-8" in proc.stderr
    assert len(proc.stdout.splitlines()) == 2


def test_partials_in_jsonl() -> None:
    words = "".join(json.dumps({"type": "append", "text": w + " "}) + "\n" for w in SOURCES[2].split())
    proc = stream("--format", "jsonl", "--partials", stdin=words)
    assert proc.returncode == 0, proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert messages[-1]["type"] == "final" and messages[-1]["source"] == SOURCES[2]
    assert any(m["type"] == "partial" for m in messages)


def test_server_and_in_process_give_the_same_finals(server: Server) -> None:
    local = stream("--format", "jsonl")
    remote = stream("--format", "jsonl", "--url", server.http)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    local_finals = [(f["segment"], f["source"], f["text"]) for f in map(json.loads, local.stdout.splitlines())]
    remote_finals = [(f["segment"], f["source"], f["text"]) for f in map(json.loads, remote.stdout.splitlines())]
    assert remote_finals == local_finals


def test_unreachable_server_and_unknown_pair(server: Server) -> None:
    proc = stream("--url", "http://127.0.0.1:9", stdin="Hello.\n")
    assert proc.returncode == 1 and "cannot connect" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "translator", "stream", "-s", "en", "-t", "xx", "--url", server.http],
        input=b"Hello.\n",
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 2 and b"unknown_pair" in proc.stderr


def test_a_lost_connection_to_the_server_is_resumed(server: Server) -> None:
    import time

    from tests.conftest import TcpProxy

    proxy = TcpProxy(server.port)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "translator", "stream", "-s", "en", "-t", "de", "-f", "jsonl", "--url", proxy.http],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("A man is riding a bicycle.\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # through the server: connected
        proc.stdin.write('{"type": "append", "text": "Where is the "}\n')
        proc.stdin.flush()
        time.sleep(0.5)
        proxy.drop()  # in the middle of a sentence
        proc.stdin.write('{"type": "append", "text": "train station?"}\n')
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        finals = [first, *map(json.loads, out.splitlines())]
        assert [(f["segment"], f["source"]) for f in finals] == [
            (0, "A man is riding a bicycle."),
            (1, "Where is the train station?"),
        ]
        assert proxy.connections == 2
    finally:
        proxy.stop()
