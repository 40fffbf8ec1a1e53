"""``translator bench``: a load generator for a running server, and the raw-engine baseline.

Streams: N concurrent WebSocket clients replay real sentences word by word at a given rate (words per
minute; 0 = as fast as possible), committing after each sentence. Final latency runs from the commit
that completed a sentence to its (last) final; first-partial latency from a sentence's first word to
its first partial. REST: C concurrent keep-alive clients posting batches of k sentences to /translate.
Baseline: raw CTranslate2 ``translate_batch`` on the same model and sentences, in this process, with the
server's thread settings; each server figure is then printed as a ratio of it (translator.cli.bench_engine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sacrebleu

import translator.cli.bench_engine as raw_bench
from translator.cli.bench_live_stability import print_row as print_stability_row
from translator.cli.bench_live_stability import run_stability
from translator.cli.common import percentiles
from translator.client import RestClient, StreamClient
from translator.engine.corpus import benchmark_pairs, read_lines
from translator.engine.registry import Registry, default_models_dir
from translator.text import erased

T = TypeVar("T")


@dataclass
class _Sentence:
    index: int
    words: list[str]
    started: float = 0.0
    committed: float = 0.0
    first_partial: float | None = None
    finished: float | None = None
    finals: list[dict[str, Any]] = field(default_factory=list)


async def _connect(url: str, source: str, target: str, partials: bool) -> StreamClient:
    if partials:
        return await StreamClient.connect(url, source, target)
    return await StreamClient.connect(url, source, target, partials="false")


async def _stream(
    client: StreamClient,
    sentences: list[tuple[int, str]],
    wpm: float,
    timeout: float,
    stats: dict[str, Any],
) -> list[_Sentence]:
    """Replay ``sentences`` on a connected stream; the client is closed at the end."""
    items = [_Sentence(i, s.split()) for i, s in sentences]
    delay = 60.0 / wpm if wpm > 0 else 0.0
    shown: dict[int, str] = {}
    done = asyncio.Event()

    async def reader() -> None:
        current = 0
        async for message in client:
            now = time.perf_counter()
            stats["received"] += 1
            kind = message["type"]
            if kind == "error":
                stats["errors"] += 1
                continue
            if kind not in ("partial", "final") or current >= len(items):
                continue
            item = items[current]
            segment = message["segment"]
            if kind == "partial":
                stats["partials"] += 1
                if item.first_partial is None:
                    item.first_partial = now
                text = message["stable"] + message["unstable"]
                stats["erased"] += erased(shown.get(segment, ""), text)
                shown[segment] = text
                continue
            stats["erased"] += erased(shown.pop(segment, ""), message["text"])
            item.finals.append(message)
            got = " ".join(f["source"] for f in item.finals).split()
            if got == item.words:
                item.finished = now
                current += 1
                if current == len(items):
                    done.set()
                    return

    read_task = asyncio.create_task(reader())
    try:
        for item in items:
            item.started = time.perf_counter()
            for word in item.words:
                await client.append(word + " ")
                stats["sent"] += 1
                if delay:
                    await asyncio.sleep(delay)
            item.committed = time.perf_counter()
            await client.commit()
            stats["sent"] += 1
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        stats["errors"] += sum(1 for item in items if item.finished is None)
    finally:
        read_task.cancel()
        await asyncio.gather(read_task, return_exceptions=True)
        await client.close()
    return items


@dataclass(frozen=True)
class _Timing:
    seconds: float  # wall time of the load
    server_cpu_s: float | None  # the servers' CPU seconds during the load (None where one does not say)
    client_cpu_s: float  # this process's CPU seconds during the load: the bench's own clients

    def server_ms_per(self, count: int) -> float | None:
        return raw_bench.cpu_ms_per(0.0, self.server_cpu_s, count)

    def client_ms_per(self, count: int) -> float | None:
        return raw_bench.cpu_ms_per(0.0, self.client_cpu_s, count)


async def _timed(urls: list[str], load: Callable[[], Awaitable[T]]) -> tuple[T, _Timing]:
    """``load()``, started once the servers' CPU time is read: its result and how long it took, in wall time,
    in the servers' CPU time and in the bench's own."""
    cpu_before = await asyncio.to_thread(raw_bench.server_cpu_seconds, urls)
    client_before = raw_bench.process_cpu_seconds()
    start = time.perf_counter()
    result = await load()
    seconds = time.perf_counter() - start
    client = raw_bench.process_cpu_seconds() - client_before
    cpu_after = await asyncio.to_thread(raw_bench.server_cpu_seconds, urls)
    server = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return result, _Timing(seconds, server, client)


def _row(mode: str, urls: list[str], run: dict[str, Any], seconds: float, measured: dict[str, Any]) -> dict[str, Any]:
    """A stream or REST row: mode and replicas, what was run, its seconds, then what was measured (ending with
    the servers' CPU ms per sentence and the errors)."""
    return {"mode": mode, "replicas": len(urls), **run, "seconds": round(seconds, 2), **measured}


async def run_streams(
    url: str | list[str],
    source: str,
    target: str,
    corpus: list[tuple[str, str | None]],
    streams: int,
    per_stream: int,
    wpm: float,
    timeout: float,
    offset: int = 0,
    partials: bool = True,
) -> dict[str, Any]:
    """``streams`` clients, spread round-robin over the servers in ``url``, each replaying its own
    ``per_stream`` sentences of the corpus (from ``offset`` on); ``partials=False`` asks for finals only.
    All streams connect before the clock starts (a caption pipeline connects once: not translation work)."""
    urls = [url] if isinstance(url, str) else url
    stats: dict[str, Any] = {"sent": 0, "received": 0, "errors": 0, "erased": 0, "partials": 0}
    indexes = [[(offset + k * per_stream + j) % len(corpus) for j in range(per_stream)] for k in range(streams)]
    plan = [[(i, corpus[i][0]) for i in stream] for stream in indexes]
    clients = await asyncio.gather(
        *(_connect(urls[k % len(urls)], source, target, partials) for k in range(streams)), return_exceptions=True
    )
    connected = [(c, p) for c, p in zip(clients, plan, strict=True) if isinstance(c, StreamClient)]
    jobs = [_stream(c, p, wpm, timeout, stats) for c, p in connected]
    results, timing = await _timed(urls, lambda: asyncio.gather(*jobs, return_exceptions=True))
    elapsed = timing.seconds
    items: list[_Sentence] = []
    for result in [*results, *(c for c in clients if isinstance(c, BaseException))]:  # + streams not connected
        if isinstance(result, BaseException):
            stats["errors"] += per_stream
        else:
            items.extend(result)
    finished = [i for i in items if i.finished is not None]
    hyps = [" ".join(f["text"] for f in i.finals) for i in finished]
    refs = [corpus[i.index][1] for i in finished]
    bleu = None
    if finished and all(r is not None for r in refs):
        bleu = round(sacrebleu.corpus_bleu(hyps, [[r or "" for r in refs]]).score, 2)
    final_words = max(1, sum(len(h.split()) for h in hyps))
    measured = {
        "sentences_per_s": round(len(finished) / elapsed, 1),
        "messages_sent_per_s": round(stats["sent"] / elapsed, 1),
        "messages_received_per_s": round(stats["received"] / elapsed, 1),
        "first_partial_ms": percentiles(
            [(i.first_partial - i.started) * 1000 for i in finished if i.first_partial is not None]
        ),
        "final_ms": percentiles([(i.finished - i.committed) * 1000 for i in finished if i.finished]),
        "cached_finals": sum(f["cached"] for i in finished for f in i.finals),
        # The server's own measure (latency_ms of each final), for cache hits and for model translations.
        "server_final_ms_cached": percentiles([f["latency_ms"] for i in finished for f in i.finals if f["cached"]]),
        "server_final_ms_model": percentiles([f["latency_ms"] for i in finished for f in i.finals if not f["cached"]]),
        "normalized_erasure": round(stats["erased"] / final_words, 3),
        "bleu": bleu,
        "partials": partials,
        "partials_received": stats["partials"],
        "server_cpu_s": round(timing.server_cpu_s, 3) if timing.server_cpu_s is not None else None,
        "server_cpu_ms_per_sentence": timing.server_ms_per(len(finished)),
        "client_cpu_ms_per_sentence": timing.client_ms_per(len(finished)),
        "errors": stats["errors"],
    }
    return _row("stream", urls, {"streams": streams, "wpm": wpm, "sentences": len(finished)}, elapsed, measured)


async def run_rest(
    url: str | list[str],
    source: str,
    target: str,
    corpus: list[tuple[str, str | None]],
    concurrency: int,
    batch: int,
    requests_per_client: int,
    offset: int = 0,
) -> dict[str, Any]:
    urls = [url] if isinstance(url, str) else url
    latencies: list[float] = []
    errors = 0
    done = 0

    async def worker(k: int) -> None:
        nonlocal errors, done
        async with RestClient(urls[k % len(urls)]) as client:
            for r in range(requests_per_client):
                first = offset + (k * requests_per_client + r) * batch
                texts = [corpus[(first + j) % len(corpus)][0] for j in range(batch)]
                t0 = time.perf_counter()
                try:
                    await client.translate(texts if batch > 1 else texts[0], source, target)
                except (RuntimeError, ConnectionError, OSError):
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                done += len(texts)

    _, timing = await _timed(urls, lambda: asyncio.gather(*(worker(k) for k in range(concurrency))))
    elapsed = timing.seconds
    measured = {
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "sentences_per_s": round(done / elapsed, 1),
        "latency_ms": percentiles(latencies),
        "server_cpu_ms_per_sentence": timing.server_ms_per(done),
        "client_cpu_ms_per_sentence": timing.client_ms_per(done),
        "errors": errors,
    }
    return _row(
        "rest", urls, {"concurrency": concurrency, "batch": batch, "requests": len(latencies)}, elapsed, measured
    )


async def run_shared_cache_check(
    urls: list[str], source: str, target: str, corpus: list[tuple[str, str | None]], count: int, offset: int = 0
) -> dict[str, Any]:
    """The same ``count`` sentences through the first replica, then through the second: with a shared
    cache, the second answers them as cache hits (``cached`` finals) without its model."""
    if len(urls) < 2:
        raise ValueError("the shared cache check needs two servers: --url URL1,URL2")
    first = await run_streams(urls[0], source, target, corpus, 1, count, 0.0, 60.0, offset)
    await asyncio.sleep(0.5)  # the first replica writes to the shared cache after sending each final
    second = await run_streams(urls[1], source, target, corpus, 1, count, 0.0, 60.0, offset)
    return {
        "mode": "shared-cache",
        "sentences": count,
        "first_replica_cached": first["cached_finals"],
        "second_replica_cached": second["cached_finals"],
        "first_replica_server_ms": first["server_final_ms_model"],
        "second_replica_server_ms": second["server_final_ms_cached"],
        "errors": first["errors"] + second["errors"],
    }


def load_corpus(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    if args.file:
        sources = [s for s in read_lines(args.file)]
        refs: list[str | None] = list(read_lines(args.refs)) if args.refs else [None] * len(sources)
        return [(s, r) for s, r in zip(sources, refs, strict=True) if s.strip()]
    return benchmark_pairs(args.source, args.target)


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def _replicas(row: dict[str, Any]) -> str:
    return f"replicas {row['replicas']}  " if row.get("replicas", 1) > 1 else ""


def print_table(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if row["mode"] == "stream":
            print(
                f"{_replicas(row)}streams {row['streams']:>3}  wpm {row['wpm']:>5}  "
                f"sentences/s {row['sentences_per_s']:>7}  "
                f"msgs in/s {row['messages_received_per_s']:>7}  final ms p50 {_fmt(row['final_ms']['p50']):>7} "
                f"p90 {_fmt(row['final_ms']['p90']):>7} p99 {_fmt(row['final_ms']['p99']):>7} "
                f"max {_fmt(row['final_ms']['max']):>7}  first-partial p50 {_fmt(row['first_partial_ms']['p50']):>6}"
                f"  erasure {row['normalized_erasure']:>5}  BLEU {_fmt(row['bleu']):>6}  errors {row['errors']}"
            )
        elif row["mode"] == "shared-cache":
            print(
                f"shared cache: {row['sentences']} sentences, cached on the first replica "
                f"{row['first_replica_cached']}, on the second {row['second_replica_cached']}  "
                f"server ms p50 {_fmt(row['first_replica_server_ms']['p50'])} (model, first) vs "
                f"{_fmt(row['second_replica_server_ms']['p50'])} (cache, second)  errors {row['errors']}"
            )
        elif row["mode"] == "rest":
            print(
                f"{_replicas(row)}REST c={row['concurrency']:>3} batch {row['batch']:>3}  "
                f"requests/s {row['requests_per_s']:>7}  "
                f"sentences/s {row['sentences_per_s']:>7}  latency ms p50 {_fmt(row['latency_ms']['p50']):>7} "
                f"p99 {_fmt(row['latency_ms']['p99']):>7}  errors {row['errors']}"
            )
        else:
            print(
                f"raw CTranslate2 batch {row['batch']:>3} inter {row['inter_threads']} intra {row['intra_threads']}"
                f"  sentences/s {row['sentences_per_s']:>7}"
            )


def parse_urls(text: str) -> list[str]:
    """``--url``: one server, or comma-separated replicas."""
    return [u.strip() for u in text.split(",") if u.strip()]


def run_bench(args: argparse.Namespace) -> int:
    corpus = load_corpus(args)
    urls = parse_urls(args.url)
    rows: list[dict[str, Any]] = []
    if args.shared_cache_check:
        # First, while the sentences are new to both replicas (on a fresh pair, none is cached on the first).
        rows.append(
            asyncio.run(
                run_shared_cache_check(urls, args.source, args.target, corpus, args.shared_cache_check, args.offset)
            )
        )
        if not args.json:
            print_table(rows[-1:])
    for streams in (int(n) for n in args.streams.split(",")) if args.streams else ():
        plan = (urls, args.source, args.target, corpus, streams, args.sentences, args.wpm, args.timeout, args.offset)
        rows.append(asyncio.run(run_streams(*plan)))
        if not args.json:
            print_table(rows[-1:])
        if args.partials_cost and args.wpm:
            # The same streams asking for finals only: what partial updates cost the server, and whether they
            # slow the finals.
            without = asyncio.run(run_streams(*plan, partials=False))
            rows += [without, raw_bench.partials_cost(rows[-1], without)]
            if not args.json:
                print_table(rows[-2:-1])
                raw_bench.print_raw_row(rows[-1])
    for streams in (int(n) for n in args.stability.split(",")) if args.stability else ():
        # Word by word, waiting for each partial: the stability policy as a client sees it.
        row = asyncio.run(
            run_stability(urls[0], args.source, args.target, corpus, streams, args.sentences, args.timeout, args.offset)
        )
        rows.append(row)
        if not args.json:
            print_stability_row(row)
    for concurrency in (int(n) for n in args.rest.split(",")) if args.rest else ():
        rows.append(
            asyncio.run(
                run_rest(urls, args.source, args.target, corpus, concurrency, args.batch, args.requests, args.offset)
            )
        )
        if not args.json:
            print_table(rows[-1:])
    if args.baseline:
        model = args.model or Registry(args.models or default_models_dir()).find(args.source, args.target).path
        sentences = [s for s, _ in corpus][: max(args.baseline_sentences, 1)]
        batches = [int(b) for b in args.baseline_batches.split(",")]
        threads = raw_bench.server_settings(args)
        counts = [int(n) for n in args.rest.split(",")] if args.rest else []
        raw = raw_bench.raw_ctranslate2(model, sentences, batches, **threads, in_flight=[n for n in counts if n > 1])
        if 1 in counts:
            pair = (args.source, args.target)
            raw.append(raw_bench.paired_latency(urls[0], model, sentences[: args.requests], *pair, **threads))
        rows.extend(raw)
        raw_bench.add_vs_raw(rows)
        if not args.json:
            for row in raw:
                raw_bench.print_raw_row(row)
            raw_bench.print_vs_raw(rows)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 1 if any(row.get("errors") for row in rows) else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default="http://127.0.0.1:8000",
        help="the server, or comma-separated replicas that streams and REST clients are spread over "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--offset", type=int, default=0, help="start at this corpus line (fresh sentences for a warm server)"
    )
    parser.add_argument(
        "--shared-cache-check",
        type=int,
        default=0,
        metavar="N",
        help="send N sentences through the first --url, then the second: hits show a shared cache at work",
    )
    parser.add_argument("--source", "-s", default="en")
    parser.add_argument("--target", "-t", default="de")
    parser.add_argument("--file", type=Path, help="sentences, one per line (default: Multi30k test2016)")
    parser.add_argument("--refs", type=Path, help="reference translations of --file, for BLEU")
    parser.add_argument("--streams", default="", help="comma-separated numbers of concurrent streams, e.g. 1,4,16")
    parser.add_argument("--sentences", type=int, default=10, help="sentences per stream")
    parser.add_argument("--wpm", type=float, default=150.0, help="words per minute per stream; 0 = flat out")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a stream's finals")
    parser.add_argument(
        "--stability",
        default="",
        help="comma-separated numbers of streams that feed --sentences each word by word, waiting for every "
        "partial: erasure, lag (AL/LAAL/DAL) and finals vs offline translations (run the server with --cache-size 0)",
    )
    parser.add_argument("--rest", default="", help="comma-separated REST concurrencies, e.g. 1,16")
    parser.add_argument("--batch", type=int, default=1, help="sentences per REST request")
    parser.add_argument("--requests", type=int, default=50, help="REST requests per client")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also measure raw CTranslate2 in this process, after the server runs, and print each server figure "
        "as a ratio of it",
    )
    parser.add_argument(
        "--baseline-batches", default="1,8,16,32", help="raw batch sizes; the best one is the reference"
    )
    parser.add_argument(
        "--partials-cost",
        action="store_true",
        help="run each speech-rate --streams again with finals only: the server's CPU ms per partial update "
        "and the final latency with and without partials",
    )
    parser.add_argument("--baseline-sentences", type=int, default=500)
    parser.add_argument("--models", type=Path)
    parser.add_argument("--model", type=Path)
    raw_bench.add_server_settings(parser)
    parser.add_argument("--json", action="store_true")
