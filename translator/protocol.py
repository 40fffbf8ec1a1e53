"""The WebSocket protocol, both directions, typed; no I/O.

Client → server: ``parse_client_message`` turns a text frame into a ``ClientMessage`` (or raises
``ProtocolError``). Server → client: one frozen dataclass per message (``Ready``, ``ViewerReady``, ``Pong``,
``Partial``, ``Final``, ``Error``, ``Detected``); ``to_dict()`` gives the message's JSON object (keys in wire order) and
``to_json()`` its text frame. This module is where the server's JSON is produced (``encode``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias

PROTOCOL_VERSION = 1
MESSAGE_TYPES = ("append", "replace", "commit", "ping", "ack")


class ProtocolError(ValueError):
    """A client message the server cannot accept. ``code`` is the ``error`` message's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ClientMessage:
    type: Literal["append", "replace", "commit", "ping", "ack"]
    text: str = ""
    # ``ack``: the client has received the finals of every segment up to this one (resume: kept until then).
    segment: int = -1

    def to_dict(self) -> dict[str, Any]:
        """The message as a client sends it (``text`` only where the type has one)."""
        if self.type in ("append", "replace"):
            return {"type": self.type, "text": self.text}
        if self.type == "ack":
            return {"type": self.type, "segment": self.segment}
        return {"type": self.type}


def parse_client_message(raw: str) -> ClientMessage:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object with a 'type' field")
    kind = data.get("type")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError(
            "unknown_type", f"unknown message type {kind!r}; expected one of {', '.join(MESSAGE_TYPES)}"
        )
    if kind in ("append", "replace"):
        text = data.get("text")
        if not isinstance(text, str):
            raise ProtocolError("invalid_text", f"'{kind}' needs a string field 'text'")
        return ClientMessage(kind, _clean(text))
    if kind == "ack":
        segment = data.get("segment")
        if not isinstance(segment, int) or isinstance(segment, bool) or segment < -1:
            raise ProtocolError("invalid_segment", "'ack' needs an integer field 'segment' (-1: none yet)")
        return ClientMessage(kind, segment=segment)
    return ClientMessage(kind)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    """Replace lone surrogates (valid JSON escapes, but not text) with U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


# Server → client ---------------------------------------------------------------------------------


def encode(message: ServerMessage | Mapping[str, Any]) -> str:
    """A server message (or a message dict relayed from a session) as its JSON text frame."""
    data = message if isinstance(message, Mapping) else message.to_dict()
    return json.dumps(data, ensure_ascii=False)


class _Message:
    """What every server message has: its ``type`` and its two wire forms."""

    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> str:
        return encode(self.to_dict())


@dataclass(frozen=True)
class ResumeInfo:
    """The ``ready`` message's resume fields: the stream's token and how long a dropped stream is kept; on a
    resumed stream also its open segment, how many client messages the server had read (the client sends
    the later ones again) and how much open text it holds."""

    token: str
    seconds: float
    resumed: bool = False
    segment: int = 0
    received: int = 0
    open_text_chars: int = 0

    def to_dict(self) -> dict[str, Any]:
        seconds = int(self.seconds) if float(self.seconds).is_integer() else self.seconds
        data: dict[str, Any] = {"resume": self.token, "resume_seconds": seconds}
        if self.resumed:
            data.update(
                resumed=True, segment=self.segment, received=self.received, open_text_chars=self.open_text_chars
            )
        return data


@dataclass(frozen=True)
class Ready(_Message):
    """The first message of a stream: what it translates and under which limits."""

    type: ClassVar[Literal["ready"]] = "ready"
    source: str
    target: str
    model: str
    max_text_chars: int
    partials: bool
    max_messages_per_second: int
    session: str | None = None
    protocol: int = PROTOCOL_VERSION
    resume: ResumeInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "source": self.source,
            "target": self.target,
            "model": self.model,
            "protocol": self.protocol,
            "max_text_chars": self.max_text_chars,
            "partials": self.partials,
            "max_messages_per_second": self.max_messages_per_second,
        }
        if self.session:
            data["session"] = self.session
        if self.resume is not None:
            data.update(self.resume.to_dict())
        return data


@dataclass(frozen=True)
class ViewerReady(_Message):
    """The first message to a session viewer."""

    type: ClassVar[Literal["ready"]] = "ready"
    session: str
    protocol: int = PROTOCOL_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "role": "viewer", "session": self.session, "protocol": self.protocol}


@dataclass(frozen=True)
class Pong(_Message):
    type: ClassVar[Literal["pong"]] = "pong"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}


@dataclass(frozen=True)
class Partial(_Message):
    """The current translation of open segment ``segment``: ``stable + unstable``."""

    type: ClassVar[Literal["partial"]] = "partial"
    segment: int
    source: str
    stable: str
    unstable: str

    @property
    def text(self) -> str:
        """What a client displays."""
        return self.stable + self.unstable

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "segment": self.segment,
            "source": self.source,
            "stable": self.stable,
            "unstable": self.unstable,
        }


@dataclass(frozen=True)
class Final(_Message):
    """The one final translation of segment ``segment``; ``failed``: the model failed, ``text`` is the
    stable text already shown."""

    type: ClassVar[Literal["final"]] = "final"
    segment: int
    source: str
    text: str
    cached: bool
    latency_ms: float
    failed: bool = False
    # Only on streams opened with ?revisions=true: the text does not start with the stable text shown.
    revised: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "segment": self.segment,
            "source": self.source,
            "text": self.text,
            "cached": self.cached,
            "latency_ms": round(self.latency_ms, 1),
        }
        if self.failed:
            data["failed"] = True
        if self.revised:
            data["revised"] = True
        return data


@dataclass(frozen=True)
class Error(_Message):
    """Bad input, a failed sentence (``segment`` set), or the reason for a server-side close."""

    type: ClassVar[Literal["error"]] = "error"
    code: str
    message: str
    segment: int | None = None
    # Why, where a code has several causes (``resume_failed``: unknown, expired, forbidden, in_use, ...).
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.segment is not None:
            data["segment"] = self.segment
        if self.reason is not None:
            data["reason"] = self.reason
        return data


@dataclass(frozen=True)
class Detected(_Message):
    """``source=auto``: the language the stream's first words are in (``confidence`` 0..1), and the model
    that translates them from now on."""

    type: ClassVar[Literal["detected"]] = "detected"
    language: str
    confidence: float
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "language": self.language,
            "confidence": round(self.confidence, 3),
            "model": self.model,
        }


ServerMessage: TypeAlias = Ready | ViewerReady | Pong | Partial | Final | Error | Detected
