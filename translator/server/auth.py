"""Optional API keys: loaded from a file and/or TRANSLATOR_API_KEYS; never logged."""

from __future__ import annotations

import hmac
import logging
import re
from pathlib import Path

from translator.ratelimit import KeyedBuckets

KEY_PROTOCOL_PREFIX = "key."
# Secrets in query strings: API keys, and resume tokens (which let a connection take a stream over).
_QUERY_KEY = re.compile(r"([?&](?:api_key|resume)=)[^&\s\"]*")


class ApiKeys:
    def __init__(self, keys: set[str], per_second: float = 0.0) -> None:
        self._keys = {k for k in keys if k}
        # Per-key budget of REST requests plus stream messages (token bucket; 0 = unlimited).
        self.per_second = per_second
        self._buckets = KeyedBuckets(per_second)

    def allow(self, key: str | None) -> bool:
        """Take one request or message from ``key``'s budget; False when it is spent."""
        if not self.per_second or not key:
            return True
        return self._buckets.take(key)

    @classmethod
    def load(cls, file: Path | None, inline: tuple[str, ...] = (), per_second: float = 0.0) -> ApiKeys:
        keys = set(inline)
        if file is not None:
            for line in file.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    keys.add(line)
        return cls(keys, per_second)

    @property
    def required(self) -> bool:
        return bool(self._keys)

    def valid(self, key: str | None) -> bool:
        if not self._keys:
            return True
        if not key:
            return False
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in self._keys)


def key_from_protocols(offered: list[str] | None) -> tuple[str | None, str | None]:
    """The key carried as a ``key.<KEY>`` WebSocket subprotocol, and the subprotocol to answer with.

    ``offered`` is the ASGI scope's ``subprotocols``."""
    offered = [p.strip() for p in offered or [] if p.strip()]
    key = next((p[len(KEY_PROTOCOL_PREFIX) :] for p in offered if p.startswith(KEY_PROTOCOL_PREFIX)), None)
    if "translator" in offered:
        return key, "translator"
    return key, next((p for p in offered if p.startswith(KEY_PROTOCOL_PREFIX)), None)


class RedactKeys(logging.Filter):
    """Removes ``api_key=...`` and ``resume=...`` from log records (uvicorn's access log prints query
    strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_QUERY_KEY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _QUERY_KEY.sub(r"\1***", record.msg)
        return True
