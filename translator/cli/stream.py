"""``translator stream``: a caption pipeline in one pipe.

Reads standard input as it arrives: plain text lines (each line is appended, and a line break ends a
sentence) or JSON lines ``{"type": "append"|"replace"|"commit", "text": ...}`` from a recognizer. It
translates through a server (``--url``) or in this process, and writes finals (and, in JSON lines,
optionally partials) to standard output as text, JSON lines, WebVTT or SRT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TextIO

from translator.cli.common import engine_from_args
from translator.client import StreamClient, StreamError
from translator.engine.engine import texts_only
from translator.protocol import ClientMessage, Final, ProtocolError, encode, parse_client_message
from translator.server.settings import ServerConfig
from translator.streaming import translate_pending
from translator.subtitles import Cue, srt_cue, vtt_cue, vtt_header

FORMATS = ("text", "jsonl", "vtt", "srt")


def parse_line(line: str) -> ClientMessage:
    """One input line as a protocol message: a JSON protocol message as it is, anything else
    (plain text, even if it starts with "{") as an append of the line and its line break.
    Raises ProtocolError for a JSON object that is not a valid message."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            return parse_client_message(stripped)
        except ProtocolError:
            if _looks_like_json(stripped):
                raise
    return ClientMessage("append", line.rstrip("\r\n") + "\n")


def _looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


class Output:
    """Writes messages in the chosen format, with cue times relative to the session start."""

    def __init__(self, fmt: str, stream: TextIO, partials: bool, hold: float, t0: float) -> None:
        self.fmt, self.stream, self.partials, self.hold, self.t0 = fmt, stream, partials, hold, t0
        self.cues = 0
        if fmt == "vtt":
            self._write(vtt_header())

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def partial(self, message: Mapping[str, Any]) -> None:
        if self.fmt == "jsonl" and self.partials:
            self._write(encode(message) + "\n")

    def final(self, message: Mapping[str, Any], started: float) -> None:
        if self.fmt == "text":
            self._write(str(message["text"]) + "\n")
        elif self.fmt == "jsonl":
            self._write(encode(message) + "\n")
        else:
            now = time.monotonic()
            cue = Cue(started - self.t0, now - self.t0 + self.hold, str(message["text"]))
            self.cues += 1
            self._write(vtt_cue(cue) if self.fmt == "vtt" else srt_cue(self.cues, cue))

    def error(self, message: str) -> None:
        print(f"translator stream: {message}", file=sys.stderr, flush=True)


class _Timeline:
    """When each segment's text began to arrive (mirrors the server's segmentation)."""

    def __init__(self) -> None:
        self.mirror = ServerConfig().stream_state()
        self.started: dict[int, float] = {}

    def apply(self, message: ClientMessage, now: float) -> None:
        if not self.mirror.open_text.strip() and message.type in ("append", "replace") and message.text.strip():
            self.started.setdefault(self.mirror.next_segment, now)
        self.mirror.apply(message, now)
        self.mirror.take_finals()
        if self.mirror.open_text.strip():
            self.started.setdefault(self.mirror.next_segment, now)

    def start_of(self, segment: int, default: float) -> float:
        return self.started.pop(segment, default)


async def _read_input(on_message: Callable[[ClientMessage], Any], output: Output) -> None:
    loop = asyncio.get_running_loop()
    number = 0
    async for line in _lines_safe(loop, output):
        number += 1
        try:
            message = parse_line(line)
        except ProtocolError as exc:
            output.error(f"line {number}: {exc} (skipped)")
            continue
        await on_message(message)


async def _lines_safe(loop: asyncio.AbstractEventLoop, output: Output) -> Any:
    number = 0
    while True:
        raw = await loop.run_in_executor(None, sys.stdin.buffer.readline)
        if not raw:
            return
        number += 1
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            output.error(f"line {number} is not valid UTF-8 (skipped)")


async def run_local(args: argparse.Namespace, output: Output) -> int:
    engine = engine_from_args(args)
    state = ServerConfig().stream_state()  # segments as the server cuts them
    timeline = _Timeline()
    loop = asyncio.get_running_loop()

    translate = partial(texts_only, engine, args.source, args.target)

    def flush() -> None:
        # In a worker thread; on_message waits for it, so nothing else touches the state meanwhile.
        for message in translate_pending(state, translate, partials=args.partials, clock=time.perf_counter):
            if isinstance(message, Final):
                output.final(message.to_dict(), timeline.start_of(message.segment, time.monotonic()))
            else:
                output.partial(message.to_dict())

    async def on_message(message: ClientMessage) -> None:
        timeline.apply(message, time.monotonic())
        state.apply(message, time.perf_counter())
        await loop.run_in_executor(None, flush)

    await _read_input(on_message, output)
    await on_message(ClientMessage("commit"))
    return 0


async def run_remote(args: argparse.Namespace, output: Output) -> int:

    try:
        # A lost connection is resumed (StreamClient): no input is lost, no final is written twice.
        client = await StreamClient.connect(
            args.url,
            args.source,
            args.target,
            resume=not getattr(args, "no_resume", False),
            partials="true" if args.partials else "false",
        )
    except StreamError as exc:
        output.error(str(exc))
        return 2
    except OSError as exc:
        output.error(f"cannot connect to {args.url}: {exc}")
        return 1
    timeline = _Timeline()
    finals_seen = 0
    all_sent = asyncio.Event()
    all_done = asyncio.Event()

    async def reader() -> None:
        nonlocal finals_seen
        async for message in client:
            if message["type"] == "partial":
                output.partial(message)
            elif message["type"] == "final":
                finals_seen += 1
                output.final(message, timeline.start_of(int(message["segment"]), time.monotonic()))
                if all_sent.is_set() and finals_seen >= timeline.mirror.next_segment:
                    all_done.set()
            elif message["type"] == "error":
                output.error(f"{message.get('code')}: {message.get('message')}")

    async def on_message(message: ClientMessage) -> None:
        timeline.apply(message, time.monotonic())
        await client.send(message.to_dict())

    read_task = asyncio.create_task(reader())
    try:
        await _read_input(on_message, output)
        await on_message(ClientMessage("commit"))
        all_sent.set()
        if finals_seen >= timeline.mirror.next_segment:
            all_done.set()
        done, _ = await asyncio.wait(
            {asyncio.create_task(all_done.wait()), read_task}, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if not all_done.is_set():
            output.error("the server did not send every final in time" if not done else "the server closed the stream")
            return 1
        return 0
    finally:
        read_task.cancel()
        await asyncio.gather(read_task, return_exceptions=True)
        await client.close()


def run_stream(args: argparse.Namespace) -> int:
    output = Output(args.format, sys.stdout, args.partials, args.hold, time.monotonic())
    runner = run_remote if args.url else run_local
    return asyncio.run(runner(args, output))
