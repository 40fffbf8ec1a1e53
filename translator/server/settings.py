"""Server configuration: defaults, overridden by TRANSLATOR_* environment variables, then by flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    models: Path | None = None  # None: $TRANSLATOR_MODELS or the shipped models/
    device: str = "auto"
    compute_type: str | None = None
    inter_threads: int = 2  # parallel translations: measured best on 2 cores (README, Performance)
    intra_threads: int = 1
    beam_size: int = 4
    cache_size: int = 10_000
    # Micro-batching across connections: at most max_batch texts per model call, gathered for at most
    # batch_wait_ms; beyond max_queue waiting texts the oldest partials are shed.
    max_batch: int = 32
    batch_wait_ms: float = 3.0
    max_queue: int = 1024
    # Phrases translated into the cache in the background at startup (one per line).
    warm_cache: Path | None = None
    # Serve /v1/echo (a WebSocket echo on the same stack) for conformance testing.
    echo: bool = False
    # The browser client's files (default: web/ beside the package).
    web: Path | None = None
    # Longest open (not yet final) text per WebSocket connection, and longest REST text, in characters.
    max_text_chars: int = 10_000
    # Largest WebSocket message accepted, in bytes.
    max_message_bytes: int = 64 * 1024
    # Streams: at most this many open at once, and per client address (beyond: error + close 1013).
    max_connections: int = 1000
    max_connections_per_client: int = 100
    # Messages a stream may send per second (token bucket, bursts of one second's worth): a flood guard.
    # Excess messages are refused with rate_limited, and a stream that keeps at it is closed with 1008.
    # The ready message advertises it and translator.client paces itself to stay under it.
    max_messages_per_second: int = 1000
    # A stream with no message for idle_timeout seconds, or open for max_session_seconds, gets the finals
    # of its open text and is closed with 1001 (0 = no limit).
    idle_timeout: float = 300.0
    max_session_seconds: float = 4 * 3600.0
    # A stream whose client does not read: beyond this many waiting messages (finals and errors; waiting
    # partials are replaced by newer ones) it is closed with 1008.
    max_backlog: int = 1000
    # API keys: a file with one key per line, and/or keys in TRANSLATOR_API_KEYS (comma-separated).
    # With none configured, no key is needed.
    api_keys_file: Path | None = None
    api_keys: tuple[str, ...] = ()
    # Requests (REST) plus messages (streams) per second allowed to each key, over all its connections.
    key_rate: float = 0.0
    # Origins allowed to open WebSocket streams besides the page's own and clients without Origin
    # (comma-separated in TRANSLATOR_ALLOWED_ORIGINS; "*" allows every origin).
    allowed_origins: tuple[str, ...] = ()
    ws: str = "wsproto"
    # The shared second-level cache (Redis), e.g. redis://redis:6379/0; None: the in-process LRU only.
    # Entries live redis_ttl seconds; each call waits at most redis_timeout_ms, and after a failure Redis
    # is skipped for redis_retry_seconds (the service keeps translating without it).
    redis_url: str | None = None
    redis_ttl: float = 7 * 24 * 3600.0
    redis_timeout_ms: float = 100.0
    redis_retry_seconds: float = 5.0
    # On SIGTERM: seconds to wait for open streams to receive their finals before closing them.
    drain_grace: float = 10.0
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"the Redis URL must start with redis://, rediss:// or unix://, not {self.redis_url!r}")
        if self.redis_ttl <= 0 or self.redis_timeout_ms <= 0 or self.redis_retry_seconds < 0:
            raise ValueError("the Redis TTL and timeout must be positive, the retry interval not negative")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> ServerConfig:
        """Defaults < ``TRANSLATOR_<FIELD>`` variables < ``overrides`` that are not None."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = environ.get(f"TRANSLATOR_{field.name.upper()}")
            if raw is not None and raw != "":
                values[field.name] = _convert(field.name, raw, cls.__dataclass_fields__[field.name].default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _convert(name: str, raw: str, default: object) -> object:
    if name in ("allowed_origins", "api_keys"):
        return tuple(o.strip() for o in raw.split(",") if o.strip())
    if name in ("models", "warm_cache", "web", "api_keys_file"):
        return Path(raw)
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError as exc:
            raise ValueError(f"TRANSLATOR_{name.upper()} must be a number, not {raw!r}") from exc
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"TRANSLATOR_{name.upper()} must be an integer, not {raw!r}") from exc
    return raw
