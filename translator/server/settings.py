"""Server configuration: defaults, overridden by TRANSLATOR_* environment variables, then by flags.

Every setting is declared once, as a field of :class:`ServerConfig`: its type and default, plus (through
:func:`setting`) its help text, its ``translator serve`` flag (``--name-with-dashes`` unless renamed, or
none: set by the environment only) and its choices. Its environment variable is ``TRANSLATOR_<NAME>``.
:data:`SETTINGS` describes them for :func:`add_arguments`, :meth:`ServerConfig.from_args`, the help
text and the README's tables (which a test keeps in step).
"""

from __future__ import annotations

import argparse
import os
import types
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from translator.engine.engine import DEVICES
from translator.streaming import StreamState

ENV_PREFIX = "TRANSLATOR_"
WS_IMPLEMENTATIONS = ("websockets-sansio", "websockets", "wsproto")
HTTP_IMPLEMENTATIONS = ("auto", "httptools", "h11")
LOOP_IMPLEMENTATIONS = ("auto", "uvloop", "asyncio")
LOG_LEVELS = ("debug", "info", "warning", "error")


def env_value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``$TRANSLATOR_<name>`` (from ``os.environ`` unless ``environ`` is given); unset or empty: None.

    The one reader of TRANSLATOR_* variables for the server's settings and the command line's defaults.
    """
    raw = (os.environ if environ is None else environ).get(ENV_PREFIX + name)
    return raw if raw else None


@dataclass(frozen=True)
class _Declared:
    help: str
    flag: str | bool
    choices: tuple[str, ...] | None
    shown: str | None


def setting(
    help: str,
    *,
    flag: str | bool = True,
    choices: Sequence[str] | None = None,
    shown: str | None = None,
) -> dict[str, _Declared]:
    """A :class:`ServerConfig` field's ``metadata``: ``flag`` True derives ``--name-with-dashes``, a string
    renames it, False leaves the setting to its environment variable; ``shown`` is the default as the help
    and the README put it, when the value itself does not say it (e.g. None meaning "the shipped models/")."""
    declared = _Declared(help=help, flag=flag, choices=tuple(choices) if choices is not None else None, shown=shown)
    return {"setting": declared}


@dataclass(frozen=True)
class ServerConfig:
    host: str = field(default="127.0.0.1", metadata=setting("interface to listen on"))
    port: int = field(default=8000, metadata=setting("port to listen on"))
    models: Path | None = field(
        default=None, metadata=setting("directory searched for models", shown="the shipped models/")
    )
    device: str = field(default="auto", metadata=setting("auto uses CUDA when CTranslate2 sees a GPU", choices=DEVICES))
    compute_type: str | None = field(
        default=None, metadata=setting("CTranslate2 compute type on CPU / CUDA", shown="int8 / int8_float16")
    )
    # Parallel translations: measured best on 2 cores (docs/performance.md).
    inter_threads: int = field(default=2, metadata=setting("translations run in parallel, CTranslate2 inter_threads"))
    intra_threads: int = field(default=1, metadata=setting("threads per translation"))
    beam_size: int = field(default=4, metadata=setting("beam search width"))
    cache_size: int = field(default=10_000, metadata=setting("phrase cache entries; 0 disables it"))
    # Continuous batching across connections (translator.service.batcher): at most max_batch texts per model
    # call; a request to an idle server goes at once, one to a busy server waits at most batch_wait_ms for
    # its batch to fill; beyond max_queue waiting texts the oldest partials are shed.
    max_batch: int = field(default=32, metadata=setting("most texts per model call; 1 turns batching off"))
    batch_wait_ms: float = field(
        default=3.0, metadata=setting("while busy, the longest a request waits for its batch to fill, in milliseconds")
    )
    max_queue: int = field(default=1024, metadata=setting("waiting texts beyond which the oldest partials are shed"))
    warm_cache: Path | None = field(
        default=None, metadata=setting("phrases translated into the cache in the background at startup")
    )
    echo: bool = field(
        default=False,
        metadata=setting("serve /v1/echo, a WebSocket echo on the same stack, for conformance tests", flag=False),
    )
    web: Path | None = field(
        default=None, metadata=setting("the browser client's files", flag=False, shown="the shipped web/")
    )
    max_text_chars: int = field(
        default=10_000, metadata=setting("longest open text per stream, and longest REST text, in characters")
    )
    max_message_bytes: int = field(
        default=64 * 1024, metadata=setting("largest WebSocket message, in bytes", flag=False)
    )
    # POST /translate_file: larger uploads get 413; translated files are deleted file_ttl seconds after.
    max_file_bytes: int = field(default=1024 * 1024, metadata=setting("largest file /translate_file takes, in bytes"))
    file_ttl: float = field(default=1800.0, metadata=setting("seconds a translated file can be downloaded"))
    # Streams beyond max_connections (per client address: max_connections_per_client): error + close 1013.
    max_connections: int = field(default=1000, metadata=setting("open streams in all"))
    max_connections_per_client: int = field(default=100, metadata=setting("open streams per client address"))
    # A token bucket, bursts of one second's worth: excess messages are refused with rate_limited, and a
    # stream that keeps at it is closed with 1008. The ready message advertises it and
    # translator.client paces itself to stay under it.
    max_messages_per_second: int = field(
        default=1000, metadata=setting("messages per second per stream, a flood guard")
    )
    # Segments of unpunctuated input (speech): a pause in the input ends one (a stream may set its own with
    # ?pause_ms=), and so does reaching max_segment_words words without a sentence end (text written without
    # case, a speech recognizer's, max_uncased_segment_words).
    pause_ms: float = field(
        default=1000.0, metadata=setting("milliseconds without input that end the open segment; 0: never")
    )
    max_segment_words: int = field(
        default=40, metadata=setting("words after which an open segment without a sentence end is cut; 0: never")
    )
    # 20: lowercase unpunctuated input without pauses cut at 20 words translates better than at 40 (Multi30k
    # val 21.0 / 19.5 BLEU against 11.9 / 12.5 de→en / en→de; newstest2020 dev 3.8 / 4.1 against 1.7 / 3.2):
    # these models are lost in long inputs (README, unpunctuated input). Written text keeps the longer cut: a
    # long sentence there is still being written.
    max_uncased_segment_words: int = field(
        default=20,
        metadata=setting(
            "the same for text written without capitals (or all in capitals): a speech recognizer's, when that "
            "is sooner; 0: as max-segment-words"
        ),
    )
    # Then the finals of the open text, and close 1001.
    idle_timeout: float = field(
        default=300.0, metadata=setting("seconds without a message before a stream is closed; 0: none")
    )
    max_session_seconds: float = field(default=4 * 3600.0, metadata=setting("longest stream in seconds; 0: none"))
    # Waiting partials are replaced by newer ones; past max_backlog waiting messages: close 1008.
    max_backlog: int = field(
        default=1000, metadata=setting("waiting messages before a client that does not read is closed")
    )
    # With no key configured (file or TRANSLATOR_API_KEYS), no key is needed.
    api_keys_file: Path | None = field(default=None, metadata=setting("require one of these API keys, one per line"))
    api_keys: tuple[str, ...] = field(
        default=(), metadata=setting("API keys, besides those of the keys file", flag=False)
    )
    key_rate: float = field(
        default=0.0, metadata=setting("REST requests plus stream messages per second per API key; 0: none")
    )
    # Besides the page's own and clients without Origin.
    allowed_origins: tuple[str, ...] = field(
        default=(), metadata=setting("a web origin allowed to open streams; * allows all", flag="--allowed-origin")
    )
    ws: str = field(
        default="wsproto", metadata=setting("uvicorn's WebSocket implementation", choices=WS_IMPLEMENTATIONS)
    )
    # auto: httptools and uvloop (dependencies, measured faster: docs/performance.md) where installed; h11 and
    # asyncio are the pure-Python way back.
    http: str = field(
        default="auto", metadata=setting("uvicorn's HTTP/1.1 implementation", choices=HTTP_IMPLEMENTATIONS)
    )
    loop: str = field(default="auto", metadata=setting("the event loop", choices=LOOP_IMPLEMENTATIONS))
    access_log: bool = field(
        default=False, metadata=setting("log every HTTP request and WebSocket handshake", flag=False)
    )
    # The shared second-level cache; None: the in-process LRU only. The service keeps translating
    # while Redis is down.
    redis_url: str | None = field(
        default=None, metadata=setting("the shared cache across replicas, e.g. redis://host:6379/0")
    )
    redis_ttl: float = field(default=7 * 24 * 3600.0, metadata=setting("seconds a shared cache entry lives"))
    redis_timeout_ms: float = field(
        default=100.0, metadata=setting("longest wait for Redis per lookup or write, in milliseconds")
    )
    redis_retry_seconds: float = field(
        default=5.0, metadata=setting("seconds Redis is skipped after a failure", flag=False)
    )
    drain_grace: float = field(default=10.0, metadata=setting("seconds SIGTERM waits for open streams' finals"))
    # A stream whose connection drops is kept this long for a resume (?resume=TOKEN), within these bounds
    # (the oldest dropped stream, and a stream's oldest unacknowledged final, go first); 0: no resume.
    resume_seconds: float = field(
        default=60.0, metadata=setting("seconds a dropped stream is kept for a resume; 0: no resume")
    )
    resume_max_streams: int = field(
        default=1000, metadata=setting("dropped streams kept for a resume; beyond it the oldest is dropped")
    )
    resume_max_finals: int = field(
        default=100, metadata=setting("unacknowledged finals a stream keeps for a resume; beyond it the oldest")
    )
    log_level: str = field(default="info", metadata=setting("log level", choices=LOG_LEVELS))

    def __post_init__(self) -> None:
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"the Redis URL must start with redis://, rediss:// or unix://, not {self.redis_url!r}")
        if self.redis_ttl <= 0 or self.redis_timeout_ms <= 0 or self.redis_retry_seconds < 0:
            raise ValueError("the Redis TTL and timeout must be positive, the retry interval not negative")
        if self.resume_seconds < 0 or self.resume_max_streams < 1 or self.resume_max_finals < 1:
            raise ValueError("resume seconds must not be negative, the resume bounds must be positive")

    def stream_state(self, *, revisions: bool = False) -> StreamState:
        """A stream's state, cutting segments as these settings say (the server's streams, and the caption
        pipe's mirror of them)."""
        return StreamState(
            max_words=self.max_segment_words, max_uncased_words=self.max_uncased_segment_words, revisions=revisions
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ServerConfig:
        """Defaults < ``TRANSLATOR_<FIELD>`` variables < ``overrides`` that are not None."""
        values: dict[str, object] = {}
        for s in SETTINGS:
            raw = env_value(s.name.upper(), environ)
            if raw is not None:
                values[s.name] = s.parse(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> ServerConfig:
        """Defaults < environment < the flags of :func:`add_arguments` that were given."""
        overrides: dict[str, object] = {}
        for s in SETTINGS:
            value = getattr(args, s.name, None) if s.flag else None
            overrides[s.name] = tuple(value) if isinstance(value, list) else value
        return cls.from_env(environ, **overrides)


@dataclass(frozen=True)
class Setting:
    """One :class:`ServerConfig` field as the command line, the environment and the docs see it."""

    name: str
    kind: type  # str, int, float, bool, Path, or tuple (of str: comma-separated, a repeatable flag)
    default: object
    help: str
    flag: str | None  # None: set by the environment only
    choices: tuple[str, ...] | None
    shown: str  # the default, as the help and the README show it

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def parse(self, raw: str) -> object:
        """The value of an environment variable's text; ValueError naming the variable."""
        if self.kind is tuple:
            return tuple(o.strip() for o in raw.split(",") if o.strip())
        if self.kind is Path:
            return Path(raw)
        if self.kind is bool:
            return raw.lower() in ("1", "true", "yes", "on")
        if self.kind is float:
            try:
                return float(raw)
            except ValueError as exc:
                raise ValueError(f"{self.env} must be a number, not {raw!r}") from exc
        if self.kind is int:
            try:
                return int(raw)
            except ValueError as exc:
                raise ValueError(f"{self.env} must be an integer, not {raw!r}") from exc
        return raw

    def help_text(self) -> str:
        notes = ["repeatable"] if self.kind is tuple else []
        notes.append(f"env {self.env}" + (", comma-separated" if self.kind is tuple else ""))
        notes.append(f"default {self.shown}")
        return f"{self.help} ({'; '.join(notes)})".replace("%", "%%")


def _kind(annotation: Any) -> type:
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is tuple:
        return tuple
    if annotation not in (str, int, float, bool, Path):
        raise TypeError(f"a setting of type {annotation!r} has no command-line or environment form")
    return annotation  # type: ignore[no-any-return]


def _shown(default: object) -> str:
    if default is None or default == ():
        return "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def _settings() -> tuple[Setting, ...]:
    hints = get_type_hints(ServerConfig)
    out = []
    for f in fields(ServerConfig):
        declared = f.metadata.get("setting")
        if not isinstance(declared, _Declared) or f.default is MISSING:
            raise TypeError(f"ServerConfig.{f.name} is not declared with setting()")
        if isinstance(declared.flag, str):
            flag: str | None = declared.flag
        else:
            flag = "--" + f.name.replace("_", "-") if declared.flag else None
        out.append(
            Setting(
                name=f.name,
                kind=_kind(hints[f.name]),
                default=f.default,
                help=declared.help,
                flag=flag,
                choices=declared.choices,
                shown=declared.shown if declared.shown is not None else _shown(f.default),
            )
        )
    return tuple(out)


SETTINGS: tuple[Setting, ...] = _settings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """A flag for each setting that has one; a flag left out is None, so the environment applies."""
    for s in SETTINGS:
        if s.flag is None:
            continue
        kwargs: dict[str, Any] = {"dest": s.name, "default": None, "help": s.help_text()}
        if s.kind is tuple:
            kwargs["action"] = "append"
        elif s.kind is bool:
            kwargs.update(action="store_const", const=True)
        elif s.kind is not str:
            kwargs["type"] = s.kind
        if s.choices is not None:
            kwargs["choices"] = s.choices
        elif s.kind is not bool:
            kwargs["metavar"] = s.flag.removeprefix("--").replace("-", "_").upper()
        parser.add_argument(s.flag, **kwargs)
