"""The ``translator`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from translator import __version__
from translator.engine.engine import DEVICES, Engine, TranslationOptions
from translator.engine.registry import Registry, UnknownPairError, default_models_dir

EXIT_USAGE = 2
EXIT_INPUT = 1


class CLIError(Exception):
    def __init__(self, message: str, code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.code = code


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"TRANSLATOR_{name}", default)


def _add_engine_args(parser: argparse.ArgumentParser, *, languages: bool = True) -> None:
    if languages:
        parser.add_argument("--source", "-s", required=True, help="source language code, e.g. en")
        parser.add_argument("--target", "-t", required=True, help="target language code, e.g. de")
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="directory searched for models (env TRANSLATOR_MODELS; default: the shipped models/)",
    )
    parser.add_argument("--model", type=Path, default=None, help="use this model directory instead of searching")
    parser.add_argument("--device", choices=DEVICES, default=_env("DEVICE", "auto"))
    parser.add_argument(
        "--compute-type",
        default=_env("COMPUTE_TYPE"),
        help="CTranslate2 compute type (default: int8 on CPU, int8_float16 on CUDA)",
    )
    parser.add_argument("--inter-threads", type=int, default=int(_env("INTER_THREADS", "1") or 1))
    parser.add_argument("--intra-threads", type=int, default=int(_env("INTRA_THREADS", "1") or 1))
    parser.add_argument("--beam-size", type=int, default=TranslationOptions.beam_size)


def _options(args: argparse.Namespace) -> TranslationOptions:
    return TranslationOptions(beam_size=args.beam_size)


def _engine(args: argparse.Namespace) -> Engine:
    kwargs: dict[str, Any] = dict(
        device=args.device,
        compute_type=args.compute_type,
        inter_threads=args.inter_threads,
        intra_threads=args.intra_threads,
        options=_options(args),
    )
    try:
        if args.model is not None:
            engine = Engine(args.model, **kwargs)
            source = getattr(args, "source", None)
            target = getattr(args, "target", None)
            if source and target and (source, target) not in engine.pairs():
                available = [f"{s}->{t}" for s, t in engine.pairs()]
                raise CLIError(
                    f"{args.model} does not translate {source}->{target}; it has {', '.join(available)}", EXIT_USAGE
                )
            return engine
        registry = Registry(args.models or default_models_dir(), **kwargs)
        for problem in registry.problems:
            print(f"warning: {problem}", file=sys.stderr)
        return registry.engine(args.source, args.target)
    except UnknownPairError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from exc
    except (ValueError, RuntimeError) as exc:
        raise CLIError(f"cannot load the model: {exc}", EXIT_USAGE) from exc


def _stdin_lines(stream: BinaryIO) -> Iterator[str]:
    for number, raw in enumerate(iter(stream.readline, b""), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CLIError(
                f"line {number} of standard input is not valid UTF-8 (byte {exc.start}): translate UTF-8 text only"
            ) from exc
        yield line.rstrip("\r\n")


def _write(line: str) -> None:
    sys.stdout.buffer.write(line.encode("utf-8") + b"\n")
    sys.stdout.buffer.flush()


def cmd_translate(args: argparse.Namespace) -> int:
    engine = _engine(args)
    lines: Iterator[str] | list[str] = args.text if args.text else _stdin_lines(sys.stdin.buffer)
    for line in lines:
        text = engine.translate([line], source=args.source, target=args.target)[0].text if line.strip() else ""
        _write(text)
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    registry = Registry(args.models or default_models_dir())
    rows: list[dict[str, Any]] = []
    for entry in registry.entries:
        meta = entry.metadata
        rows.append(
            {
                "name": meta.name,
                "pairs": [f"{s}->{t}" for s, t in meta.pairs()],
                "path": str(entry.path),
                "size_mb": round(entry.size_bytes / 1e6, 1),
                "quantization": meta.quantization,
                "tags": meta.tag_style,
            }
        )
    if args.json:
        print(json.dumps({"models": rows, "problems": registry.problems}, indent=2))
        return 0
    for problem in registry.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if not rows:
        print(f"no models under {registry.root}")
        return 0
    header = ("NAME", "PAIRS", "SIZE", "QUANT", "TAGS", "PATH")
    table: list[tuple[str, ...]] = [header]
    for r in rows:
        table.append((r["name"], ",".join(r["pairs"]), f"{r['size_mb']} MB", r["quantization"], r["tags"], r["path"]))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_models_convert(args: argparse.Namespace) -> int:
    from translator.engine.convert import ConversionError, convert

    try:
        meta = convert(
            args.src,
            args.dest,
            quantization=args.quantization,
            source_languages=args.source,
            target_languages=args.target,
            name=args.name,
            force=args.force,
        )
    except ConversionError as exc:
        raise CLIError(str(exc)) from exc
    pairs = ", ".join(f"{s}->{t}" for s, t in meta.pairs())
    print(f"converted {args.src} to {args.dest} ({args.quantization}; {pairs}; tags: {meta.tag_style})")
    return 0


def _test_files(args: argparse.Namespace) -> tuple[Path, Path]:
    """--src-file and --ref-file, or else the Multi30k test2016 files of the pair."""
    from translator.engine.evaluate import multi30k_test

    if args.src_file and args.ref_file:
        return Path(args.src_file), Path(args.ref_file)
    if args.src_file or args.ref_file:
        raise CLIError("give both --src-file and --ref-file", EXIT_USAGE)
    src_path, ref_path = multi30k_test(args.source, args.target)
    if not src_path.exists() or not ref_path.exists():
        raise CLIError(
            f"no Multi30k test set for {args.source}->{args.target} at {src_path.parent}; "
            "pass --src-file and --ref-file",
            EXIT_USAGE,
        )
    return src_path, ref_path


def cmd_models_eval(args: argparse.Namespace) -> int:
    from translator.engine.evaluate import evaluate, read_lines

    src_path, ref_path = _test_files(args)
    engine = _engine(args)
    sources, refs = read_lines(src_path), read_lines(ref_path)
    if args.limit:
        sources, refs = sources[: args.limit], refs[: args.limit]
    try:
        result, hyps = evaluate(engine, sources, refs, source=args.source, target=args.target)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    if args.output:
        Path(args.output).write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    report = {
        "model": str(engine.path),
        "pair": f"{args.source}->{args.target}",
        "test": str(src_path),
        "device": engine.device,
        "compute_type": engine.compute_type,
        "beam_size": engine.options.beam_size,
        **result.__dict__,
    }
    print(json.dumps(report, indent=2))
    return 0


def cmd_models_bench(args: argparse.Namespace) -> int:
    from translator.cli.bench_engine import run_engine_bench

    return run_engine_bench(args)


def cmd_models_stability(args: argparse.Namespace) -> int:
    from translator.cli.bench_stability import run_stability_bench

    return run_stability_bench(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from translator.cli.bench import parse_urls, run_bench

    if not (args.streams or args.rest or args.baseline or args.shared_cache_check):
        raise CLIError(
            "choose what to measure: --streams N[,N...], --rest C[,C...], --shared-cache-check N and/or --baseline",
            EXIT_USAGE,
        )
    if args.shared_cache_check and len(parse_urls(args.url)) < 2:
        raise CLIError("--shared-cache-check needs two servers: --url URL1,URL2", EXIT_USAGE)
    return run_bench(args)


def cmd_stream(args: argparse.Namespace) -> int:
    from translator.cli.stream import run_stream

    return run_stream(args)


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from translator.server.settings import ServerConfig

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
    from translator.server.run import run as run_server

    run_server(config)
    return 0


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 if the server answers its readiness (or, with --live, liveness) check; for container probes."""
    import urllib.error
    import urllib.request

    url = args.url
    if url is None:
        port = os.environ.get("TRANSLATOR_PORT") or "8000"
        url = f"http://127.0.0.1:{port}"
    url = url.rstrip("/") + ("/healthz" if args.live else "/readyz")
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            print(response.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as exc:
        raise CLIError(f"{url}: {exc.code} {exc.read().decode(errors='replace')}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise CLIError(f"{url}: {getattr(exc, 'reason', exc)}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="translator", description="Real-time machine translation on CTranslate2.")
    parser.add_argument("--version", action="version", version=f"translator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("translate", help="translate arguments, or standard input line by line")
    _add_engine_args(p)
    p.add_argument("text", nargs="*", help="texts to translate (default: each line of standard input)")
    p.set_defaults(func=cmd_translate)

    models = sub.add_parser("models", help="list, convert, evaluate and benchmark models")
    msub = models.add_subparsers(dest="models_command", required=True)

    p = msub.add_parser("list", help="the models found and the pairs they translate")
    p.add_argument("--models", type=Path, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models_list)

    from translator.engine.convert import QUANTIZATIONS

    p = msub.add_parser("convert", help="convert a Hugging Face Marian/OPUS-MT or NLLB model")
    p.add_argument("src", help="Hugging Face model directory (or hub name, which needs network access)")
    p.add_argument("dest", type=Path, help="output model directory")
    p.add_argument("--quantization", choices=QUANTIZATIONS, default="int8")
    p.add_argument("--source", action="append", help="source language (repeatable; default: from the model)")
    p.add_argument("--target", action="append", help="target language (repeatable; default: from the model)")
    p.add_argument("--name", help="model name (default: the output directory's name)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty DEST")
    p.set_defaults(func=cmd_models_convert)

    p = msub.add_parser("eval", help="BLEU and chrF on a parallel test set (default: Multi30k test2016)")
    _add_engine_args(p)
    p.add_argument("--src-file", type=Path)
    p.add_argument("--ref-file", type=Path)
    p.add_argument("--limit", type=int, default=0, help="only the first N lines")
    p.add_argument("--output", type=Path, help="write the translations here")
    p.set_defaults(func=cmd_models_eval)

    p = msub.add_parser("bench", help="raw engine speed: compute types, thread settings, batch sizes")
    _add_engine_args(p)
    p.add_argument("--src-file", type=Path, help="sentences to translate (default: Multi30k test2016)")
    p.add_argument("--sentences", type=int, default=200)
    p.add_argument("--compute-types", default="int8", help="comma-separated, e.g. int8,float32")
    p.add_argument("--threads", default="1x1", help="comma-separated INTERxINTRA settings, e.g. 1x1,2x1,1x2")
    p.add_argument("--batch-sizes", default="1,8,32", help="comma-separated batch sizes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models_bench)

    p = msub.add_parser("stability", help="cost of streaming: word-by-word finals vs whole sentences, erasure")
    _add_engine_args(p)
    p.add_argument("--src-file", type=Path, help="default: Multi30k test2016")
    p.add_argument("--ref-file", type=Path)
    p.add_argument("--limit", type=int, default=0, help="only the first N sentences")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models_stability)

    from translator.cli.stream import FORMATS

    p = sub.add_parser("stream", help="caption pipeline: stdin text or JSON lines in, translations out")
    _add_engine_args(p)
    p.add_argument("--url", help="translate through this server (default: in this process)")
    p.add_argument("--format", "-f", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("--partials", action="store_true", help="also write partials (JSON lines output)")
    p.add_argument("--hold", type=float, default=2.0, help="seconds a caption stays after its final (vtt/srt)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the last finals")
    p.set_defaults(func=cmd_stream)

    from translator.cli.bench import add_arguments as add_bench_arguments

    p = sub.add_parser("bench", help="load-test a running server; raw CTranslate2 baseline")
    add_bench_arguments(p)
    p.set_defaults(func=cmd_bench)

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

    p = sub.add_parser("healthcheck", help="check a running server (exit 0 when ready), for container probes")
    p.add_argument("--url", help="the server (default http://127.0.0.1:$TRANSLATOR_PORT, port 8000)")
    p.add_argument("--live", action="store_true", help="check liveness (/healthz) instead of readiness (/readyz)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    p.set_defaults(func=cmd_healthcheck)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CLIError as exc:
        print(f"translator: error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
