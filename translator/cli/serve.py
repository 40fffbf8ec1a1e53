"""``translator serve``: run the streaming WebSocket and REST server."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from translator.cli.common import EXIT_USAGE, CLIError
from translator.engine import DEVICES
from translator.server.run import run as run_server
from translator.server.settings import ServerConfig


def add_serve_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the streaming WebSocket and REST server")
    p.add_argument("--host", help="interface to listen on (env TRANSLATOR_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (env TRANSLATOR_PORT, default 8000)")
    p.add_argument("--models", type=Path, help="models directory (env TRANSLATOR_MODELS)")
    p.add_argument("--device", choices=DEVICES, help="env TRANSLATOR_DEVICE, default auto")
    p.add_argument("--compute-type", help="env TRANSLATOR_COMPUTE_TYPE, default int8 (CPU) / int8_float16 (CUDA)")
    p.add_argument("--inter-threads", type=int, help="parallel translations (env TRANSLATOR_INTER_THREADS, default 2)")
    p.add_argument(
        "--intra-threads", type=int, help="threads per translation (env TRANSLATOR_INTRA_THREADS, default 1)"
    )
    p.add_argument("--beam-size", type=int, help="env TRANSLATOR_BEAM_SIZE, default 4")
    p.add_argument("--cache-size", type=int, help="phrase cache entries (env TRANSLATOR_CACHE_SIZE, default 10000)")
    p.add_argument("--max-batch", type=int, help="texts per model call (env TRANSLATOR_MAX_BATCH, default 32)")
    p.add_argument("--batch-wait-ms", type=float, help="gathering time (env TRANSLATOR_BATCH_WAIT_MS, default 3)")
    p.add_argument("--max-queue", type=int, help="waiting texts before partials are shed (env TRANSLATOR_MAX_QUEUE)")
    p.add_argument(
        "--warm-cache", type=Path, help="phrases to translate into the cache at startup (env TRANSLATOR_WARM_CACHE)"
    )
    p.add_argument(
        "--allowed-origin",
        action="append",
        help="a web origin allowed to open streams (repeatable; env TRANSLATOR_ALLOWED_ORIGINS)",
    )
    p.add_argument("--max-text-chars", type=int, help="env TRANSLATOR_MAX_TEXT_CHARS, default 10000")
    p.add_argument(
        "--ws",
        choices=("websockets-sansio", "websockets", "wsproto"),
        help="uvicorn WebSocket implementation (env TRANSLATOR_WS, default wsproto)",
    )
    p.add_argument(
        "--api-keys-file", type=Path, help="require one of these keys (one per line; env TRANSLATOR_API_KEYS_FILE)"
    )
    p.add_argument("--max-connections", type=int, help="open streams in all (env TRANSLATOR_MAX_CONNECTIONS)")
    p.add_argument("--max-connections-per-client", type=int, help="open streams per client address")
    p.add_argument("--max-messages-per-second", type=int, help="per stream (env TRANSLATOR_MAX_MESSAGES_PER_SECOND)")
    p.add_argument("--idle-timeout", type=float, help="seconds without a message before a stream is closed")
    p.add_argument("--max-session-seconds", type=float, help="longest stream (env TRANSLATOR_MAX_SESSION_SECONDS)")
    p.add_argument("--max-backlog", type=int, help="waiting messages before a non-reading client is closed")
    p.add_argument(
        "--key-rate", type=float, help="requests + stream messages per second per API key (env TRANSLATOR_KEY_RATE)"
    )
    p.add_argument("--drain-grace", type=float, help="seconds SIGTERM waits for open streams' finals (default 10)")
    p.add_argument(
        "--redis-url", help="shared cache across replicas, e.g. redis://host:6379/0 (env TRANSLATOR_REDIS_URL)"
    )
    p.add_argument("--redis-ttl", type=float, help="seconds a shared cache entry lives (default 7 days)")
    p.add_argument("--redis-timeout-ms", type=float, help="longest wait for Redis per call (default 100)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), help="env TRANSLATOR_LOG_LEVEL")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        config = ServerConfig.from_env(
            host=args.host,
            port=args.port,
            models=args.models,
            device=args.device,
            compute_type=args.compute_type,
            inter_threads=args.inter_threads,
            intra_threads=args.intra_threads,
            beam_size=args.beam_size,
            cache_size=args.cache_size,
            max_batch=args.max_batch,
            batch_wait_ms=args.batch_wait_ms,
            max_queue=args.max_queue,
            warm_cache=args.warm_cache,
            allowed_origins=tuple(args.allowed_origin) if args.allowed_origin else None,
            max_text_chars=args.max_text_chars,
            ws=args.ws,
            log_level=args.log_level,
            drain_grace=args.drain_grace,
            api_keys_file=args.api_keys_file,
            max_connections=args.max_connections,
            max_connections_per_client=args.max_connections_per_client,
            max_messages_per_second=args.max_messages_per_second,
            idle_timeout=args.idle_timeout,
            max_session_seconds=args.max_session_seconds,
            max_backlog=args.max_backlog,
            key_rate=args.key_rate,
            redis_url=args.redis_url,
            redis_ttl=args.redis_ttl,
            redis_timeout_ms=args.redis_timeout_ms,
        )
    except ValueError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from exc
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_server(config)
    return 0
