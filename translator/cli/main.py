"""The ``translator`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from translator.cli.bench import add_arguments as add_bench_arguments
from translator.cli.bench import parse_urls, run_bench
from translator.cli.bench_engine import run_engine_bench
from translator.cli.bench_finals import run_finals_bench
from translator.cli.bench_stability import add_arguments as add_stability_arguments
from translator.cli.bench_stability import run_stability_bench
from translator.cli.common import (
    EXIT_USAGE,
    CLIError,
    add_engine_args,
    engine_from_args,
    stdin_lines,
    test_files,
    write_line,
)
from translator.cli.serve import add_serve_parser
from translator.cli.stream import FORMATS, run_stream
from translator.engine.convert import QUANTIZATIONS, ConversionError, convert
from translator.engine.corpus import read_lines
from translator.engine.evaluate import evaluate
from translator.engine.registry import Registry, default_models_dir
from translator.version import __version__


def cmd_translate(args: argparse.Namespace) -> int:
    engine = engine_from_args(args)
    lines: Iterator[str] | list[str] = args.text if args.text else stdin_lines(sys.stdin.buffer)
    for line in lines:
        text = engine.translate([line], source=args.source, target=args.target)[0].text if line.strip() else ""
        write_line(text)
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


def cmd_models_eval(args: argparse.Namespace) -> int:
    src_path, ref_path = test_files(args)
    engine = engine_from_args(args)
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
        "length_penalty": engine.length_penalty(),
        **result.__dict__,
    }
    print(json.dumps(report, indent=2))
    return 0


def cmd_models_bench(args: argparse.Namespace) -> int:
    return run_finals_bench(args) if args.finals else run_engine_bench(args)


def cmd_models_stability(args: argparse.Namespace) -> int:
    return run_stability_bench(args)


def cmd_bench(args: argparse.Namespace) -> int:
    if not (args.streams or args.stability or args.rest or args.baseline or args.shared_cache_check):
        raise CLIError(
            "choose what to measure: --streams N[,N...], --stability N[,N...], --rest C[,C...], "
            "--shared-cache-check N and/or --baseline",
            EXIT_USAGE,
        )
    if args.shared_cache_check and len(parse_urls(args.url)) < 2:
        raise CLIError("--shared-cache-check needs two servers: --url URL1,URL2", EXIT_USAGE)
    return run_bench(args)


def cmd_stream(args: argparse.Namespace) -> int:
    return run_stream(args)


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 if the server answers its readiness (or, with --live, liveness) check; for container probes."""
    import urllib.error
    import urllib.request

    from translator.server.settings import ServerConfig, env_value

    url = args.url
    if url is None:
        port = env_value("PORT") or str(ServerConfig.port)
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
    add_engine_args(p)
    p.add_argument("text", nargs="*", help="texts to translate (default: each line of standard input)")
    p.set_defaults(func=cmd_translate)

    models = sub.add_parser("models", help="list, convert, evaluate and benchmark models")
    msub = models.add_subparsers(dest="models_command", required=True)

    p = msub.add_parser("list", help="the models found and the pairs they translate")
    p.add_argument("--models", type=Path, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models_list)

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
    add_engine_args(p)
    p.add_argument("--src-file", type=Path)
    p.add_argument("--ref-file", type=Path)
    p.add_argument("--limit", type=int, default=0, help="only the first N lines")
    p.add_argument("--output", type=Path, help="write the translations here")
    p.set_defaults(func=cmd_models_eval)

    p = msub.add_parser("bench", help="raw engine speed: compute types, thread settings, batch sizes")
    add_engine_args(p)
    p.add_argument("--src-file", type=Path, help="sentences to translate (default: Multi30k test2016)")
    p.add_argument("--sentences", type=int, default=200)
    p.add_argument("--compute-types", default="int8", help="comma-separated, e.g. int8,float32")
    p.add_argument("--threads", default="1x1", help="comma-separated INTERxINTRA settings, e.g. 1x1,2x1,1x2")
    p.add_argument("--batch-sizes", default="1,8,32", help="comma-separated batch sizes")
    p.add_argument(
        "--finals",
        action="store_true",
        help="instead: a stream's final decodings one at a time, forced fallback beside or after the free one",
    )
    p.add_argument("--final-gap-ms", type=float, default=40.0, help="--finals: pause before each final")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models_bench)

    p = msub.add_parser("stability", help="streaming policies: erasure, lag and final quality vs offline, word by word")
    add_engine_args(p)
    add_stability_arguments(p)
    p.set_defaults(func=cmd_models_stability)

    p = sub.add_parser("stream", help="caption pipeline: stdin text or JSON lines in, translations out")
    add_engine_args(p)
    p.add_argument("--url", help="translate through this server (default: in this process)")
    p.add_argument("--format", "-f", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("--partials", action="store_true", help="also write partials (JSON lines output)")
    p.add_argument("--hold", type=float, default=2.0, help="seconds a caption stays after its final (vtt/srt)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the last finals")
    p.add_argument(
        "--no-resume", action="store_true", help="with --url: a lost connection ends the stream (default: resume it)"
    )
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("bench", help="load-test a running server; raw CTranslate2 baseline")
    add_bench_arguments(p)
    p.set_defaults(func=cmd_bench)

    add_serve_parser(sub)

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
