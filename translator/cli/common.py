"""Helpers every ``translator`` command shares: engine flags, loading an engine, errors, line I/O, test
sets, latency percentiles."""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from translator.engine import DEVICES, Engine, Registry, TranslationOptions, UnknownPairError
from translator.engine.corpus import multi30k_test
from translator.engine.registry import default_models_dir
from translator.server.settings import env_value

EXIT_USAGE = 2
EXIT_INPUT = 1


class CLIError(Exception):
    def __init__(self, message: str, code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.code = code


def add_engine_args(parser: argparse.ArgumentParser, *, languages: bool = True) -> None:
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
    parser.add_argument("--device", choices=DEVICES, default=env_value("DEVICE") or "auto")
    parser.add_argument(
        "--compute-type",
        default=env_value("COMPUTE_TYPE"),
        help="CTranslate2 compute type (default: int8 on CPU, int8_float16 on CUDA)",
    )
    parser.add_argument("--inter-threads", type=int, default=int(env_value("INTER_THREADS") or 1))
    parser.add_argument("--intra-threads", type=int, default=int(env_value("INTRA_THREADS") or 1))
    parser.add_argument("--beam-size", type=int, default=TranslationOptions.beam_size)


def decoding_options(args: argparse.Namespace) -> TranslationOptions:
    return TranslationOptions(beam_size=args.beam_size)


def engine_from_args(args: argparse.Namespace) -> Engine:
    kwargs: dict[str, Any] = dict(
        device=args.device,
        compute_type=args.compute_type,
        inter_threads=args.inter_threads,
        intra_threads=args.intra_threads,
        options=decoding_options(args),
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


def stdin_lines(stream: BinaryIO) -> Iterator[str]:
    for number, raw in enumerate(iter(stream.readline, b""), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CLIError(
                f"line {number} of standard input is not valid UTF-8 (byte {exc.start}): translate UTF-8 text only"
            ) from exc
        yield line.rstrip("\r\n")


def write_line(line: str) -> None:
    sys.stdout.buffer.write(line.encode("utf-8") + b"\n")
    sys.stdout.buffer.flush()


def test_files(args: argparse.Namespace) -> tuple[Path, Path]:
    """--src-file and --ref-file, or else the Multi30k test2016 files of the pair."""
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


def percentile(values: list[float], q: float) -> float:
    """The value below which a share ``q`` of ``values`` lies (nearest rank; ``values`` not empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def percentiles(values: list[float], digits: int = 1) -> dict[str, float | None]:
    """p50 (the median), p90, p99 and max of ``values``, rounded; all None for no values."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    return {
        "p50": round(statistics.median(values), digits),
        "p90": round(percentile(values, 0.9), digits),
        "p99": round(percentile(values, 0.99), digits),
        "max": round(max(values), digits),
    }
