"""The WebSocket protocol's client messages: parsing and validation, no I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

PROTOCOL_VERSION = 1
MESSAGE_TYPES = ("append", "replace", "commit", "ping")


class ProtocolError(ValueError):
    """A client message the server cannot accept. ``code`` is the ``error`` message's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ClientMessage:
    type: Literal["append", "replace", "commit", "ping"]
    text: str = ""


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
    return ClientMessage(kind)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    """Replace lone surrogates (valid JSON escapes, but not text) with U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def error_message(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"type": "error", "code": code, "message": message, **extra}
