"""``translator models bench``: raw engine speed across compute types, thread settings and batch sizes;
and for ``translator bench``, raw CTranslate2 on the server's model and thread settings, and each server
figure as a ratio of it."""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from translator.cli.common import engine_from_args, percentiles
from translator.engine.corpus import benchmark_pairs, cycled, read_lines
from translator.engine.engine import DEVICES, Engine, TranslationOptions, resolve_compute_type, resolve_device
from translator.engine.metadata import ModelMetadata
from translator.server.settings import ServerConfig


@dataclass(frozen=True)
class BenchRow:
    compute_type: str
    inter_threads: int
    intra_threads: int
    batch_size: int
    sentences: int
    sentences_per_second: float
    # Latency of one sentence translated alone (batch size 1, one at a time).
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None


def _parse_threads(spec: str) -> list[tuple[int, int]]:
    pairs = [item.strip().lower().partition("x") for item in spec.split(",")]
    return [(int(inter), int(intra or 1)) for inter, _, intra in pairs]


def run_engine_bench(args: argparse.Namespace) -> int:

    if args.src_file:
        sentences = [s for s in read_lines(args.src_file) if s.strip()][: args.sentences]
    else:
        sentences = cycled([s for s, _ in benchmark_pairs(args.source, args.target)], args.sentences)
    rows: list[BenchRow] = []
    for compute_type in args.compute_types.split(","):
        for inter, intra in _parse_threads(args.threads):
            setting = argparse.Namespace(
                **{**vars(args), "compute_type": compute_type, "inter_threads": inter, "intra_threads": intra}
            )
            engine: Engine = engine_from_args(setting)
            engine.translate(sentences[:8], source=args.source, target=args.target)  # warm-up
            for batch_size in (int(b) for b in args.batch_sizes.split(",")):
                options = replace(engine.options, max_batch_size=batch_size)
                start = time.perf_counter()
                engine.translate(sentences, source=args.source, target=args.target, options=options)
                rate = len(sentences) / (time.perf_counter() - start)
                p50 = p90 = None
                if batch_size == 1:
                    latencies = []
                    for sentence in sentences[:100]:
                        t0 = time.perf_counter()
                        engine.translate([sentence], source=args.source, target=args.target)
                        latencies.append((time.perf_counter() - t0) * 1000)
                    latency = percentiles(latencies, digits=2)
                    p50, p90 = latency["p50"], latency["p90"]
                rows.append(
                    BenchRow(engine.compute_type, inter, intra, batch_size, len(sentences), round(rate, 1), p50, p90)
                )
                if not args.json:
                    _print_row(rows[-1], header=len(rows) == 1)
            del engine
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


def _print_row(row: BenchRow, header: bool) -> None:
    if header:
        print(f"{'compute':<10} {'inter':>5} {'intra':>5} {'batch':>5} {'sent/s':>8} {'p50 ms':>7} {'p90 ms':>7}")
    p50 = f"{row.latency_p50_ms:.1f}" if row.latency_p50_ms is not None else "-"
    p90 = f"{row.latency_p90_ms:.1f}" if row.latency_p90_ms is not None else "-"
    print(
        f"{row.compute_type:<10} {row.inter_threads:>5} {row.intra_threads:>5} {row.batch_size:>5} "
        f"{row.sentences_per_second:>8.1f} {p50:>7} {p90:>7}",
        flush=True,
    )


def add_server_settings(parser: argparse.ArgumentParser) -> None:
    """``translator bench``'s raw baseline runs with the server's settings: its defaults unless told otherwise."""
    defaults = ServerConfig()
    parser.add_argument("--inter-threads", type=int, default=defaults.inter_threads, help="as the server's")
    parser.add_argument("--intra-threads", type=int, default=defaults.intra_threads, help="as the server's")
    parser.add_argument("--beam-size", type=int, default=defaults.beam_size, help="as the server's")
    parser.add_argument("--device", choices=DEVICES, default=defaults.device, help="as the server's")
    parser.add_argument(
        "--compute-type", default=defaults.compute_type, help="as the server's (default: the device's default)"
    )


def server_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of raw_ctranslate2 and paired_latency that add_server_settings parsed."""
    return {
        "inter": args.inter_threads,
        "intra": args.intra_threads,
        "beam": args.beam_size,
        "device": args.device,
        "compute_type": args.compute_type,
    }


def raw_ctranslate2(
    model_dir: Path,
    sentences: list[str],
    batches: list[int],
    *,
    inter: int,
    intra: int,
    beam: int,
    latency_sentences: int = 200,
    in_flight: Sequence[int] = (),
    device: str = "cpu",
    compute_type: str | None = None,
) -> list[dict[str, Any]]:
    """Raw CTranslate2 ``translate_batch`` on pre-tokenized input, no server and no Python per sentence, with
    the given threads: single-sentence latency (one sentence at a time, as a lone request is translated),
    then throughput at each batch size (length-sorted batches, CTranslate2's own ``max_batch_size``
    splitting, the chunks spread over the ``inter`` threads), and for each ``in_flight`` count N the most a
    server with N requests in flight could get from the same threads: the sentences in arrival order, N at a
    time, each wave shared out over the threads and finished before the next. One ``baseline-latency`` row,
    one ``baseline`` row per batch size, one ``baseline-inflight`` row per count. All decode with the engine's
    repetition guard, as the server does, on ``device`` with ``compute_type`` (None: the device's default)."""
    translator, tokens, decoding = _raw_translator(model_dir, sentences, inter, intra, beam, device, compute_type)
    latencies = []
    cpu = process_cpu_seconds()
    for sentence in tokens[: max(1, latency_sentences)]:
        t0 = time.perf_counter()
        _raw_one(translator, sentence, beam, decoding)
        latencies.append((time.perf_counter() - t0) * 1000)
    rows: list[dict[str, Any]] = [
        {
            "mode": "baseline-latency",
            "device": translator.device,
            "compute_type": translator.compute_type,
            "inter_threads": inter,
            "intra_threads": intra,
            "sentences": len(latencies),
            "latency_ms": percentiles(latencies, digits=2),
            "cpu_ms_per_sentence": cpu_ms_per(cpu, process_cpu_seconds(), len(latencies)),
        }
    ]
    bound = TranslationOptions().output_bound(max(len(t) for t in tokens))  # the engine's length bound
    for batch in batches:
        cpu = process_cpu_seconds()
        start = time.perf_counter()
        translator.translate_batch(tokens, max_batch_size=batch, beam_size=beam, max_decoding_length=bound, **decoding)
        elapsed = time.perf_counter() - start
        rows.append(
            {
                "mode": "baseline",
                "batch": batch,
                "inter_threads": inter,
                "intra_threads": intra,
                "sentences": len(tokens),
                "sentences_per_s": round(len(tokens) / elapsed, 1),
                "cpu_ms_per_sentence": cpu_ms_per(cpu, process_cpu_seconds(), len(tokens)),
            }
        )
    for count in in_flight:
        start = time.perf_counter()
        for first in range(0, len(tokens), count):
            wave = tokens[first : first + count]
            share = -(-len(wave) // inter)
            futures = [
                translator.translate_batch(
                    wave[i : i + share], beam_size=beam, max_decoding_length=bound, **decoding,
                    asynchronous=True,
                )
                for i in range(0, len(wave), share)
            ]  # fmt: skip
            for batch_futures in futures:
                for future in batch_futures:
                    future.result()
        rate = round(len(tokens) / (time.perf_counter() - start), 1)
        rows.append({"mode": "baseline-inflight", "in_flight": count, "sentences_per_s": rate})
    return rows


def _raw_translator(
    model_dir: Path,
    sentences: list[str],
    inter: int,
    intra: int,
    beam: int,
    device: str = "cpu",
    compute_type: str | None = None,
) -> tuple[Any, list[list[str]], dict[str, Any]]:
    """A CTranslate2 translator on ``model_dir`` (warmed up; device and compute type as the engine resolves them),
    ``sentences`` tokenized for it, and the engine's decoding settings for the model (repetition guard, the
    model's length penalty) as ``translate_batch`` arguments."""
    import ctranslate2
    import sentencepiece as spm

    meta = ModelMetadata.load(model_dir)
    sp = spm.SentencePieceProcessor(model_file=str(model_dir / meta.source_spm))
    tokens = [[*sp.encode(s, out_type=str), "</s>"] for s in sentences]
    device = resolve_device(device)
    compute = resolve_compute_type(device, compute_type)
    translator = ctranslate2.Translator(
        str(model_dir), device, compute_type=compute, inter_threads=inter, intra_threads=intra
    )
    translator.translate_batch(tokens[:8], beam_size=beam)  # warm-up
    guard = TranslationOptions().no_repeat_ngram_size
    decoding: dict[str, Any] = {"no_repeat_ngram_size": guard, "length_penalty": meta.length_penalty}
    return translator, tokens, decoding


def _raw_one(translator: Any, tokens: list[str], beam: int, decoding: dict[str, Any]) -> None:
    # The engine's bound for one sentence (TranslationOptions' defaults) and its decoding settings.
    bound = TranslationOptions().output_bound(len(tokens))
    translator.translate_batch([tokens], beam_size=beam, max_decoding_length=bound, **decoding)


def paired_latency(
    url: str,
    model_dir: Path,
    sentences: list[str],
    source: str,
    target: str,
    *,
    inter: int,
    intra: int,
    beam: int,
    device: str = "cpu",
    compute_type: str | None = None,
) -> dict[str, Any]:
    """A lone REST request and raw CTranslate2 on the same sentence, one after the other, sentence by
    sentence (the order alternating), so that both see the same machine at the same moment: on a shared
    machine whose speed drifts from one minute to the next this is the fair way to tell what the server
    adds to a translation. The client is a plain keep-alive HTTP connection (no event loop)."""
    import http.client
    from urllib.parse import urlsplit

    translator, tokens, decoding = _raw_translator(model_dir, sentences, inter, intra, beam, device, compute_type)
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
    headers = {"Content-Type": "application/json"}

    def rest(text: str) -> None:
        connection.request("POST", "/translate", json.dumps({"q": text, "source": source, "target": target}), headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /translate answered {response.status}: {body[:200]!r}")

    rest(sentences[0])  # warm-up (and a check that the server answers)
    raw_ms: list[float] = []
    rest_ms: list[float] = []
    for i, (text, tokenized) in enumerate(zip(sentences, tokens, strict=True)):
        for raw_turn in (True, False) if i % 2 else (False, True):
            t0 = time.perf_counter()
            if raw_turn:
                _raw_one(translator, tokenized, beam, decoding)
            else:
                rest(text)
            (raw_ms if raw_turn else rest_ms).append((time.perf_counter() - t0) * 1000)
    connection.close()
    differences = [b - a for a, b in zip(raw_ms, rest_ms, strict=True)]
    return {
        "mode": "rest-paired",
        "sentences": len(sentences),
        "inter_threads": inter,
        "intra_threads": intra,
        "raw_latency_ms": percentiles(raw_ms, digits=2),
        "rest_latency_ms": percentiles(rest_ms, digits=2),
        "over_raw_ms": percentiles(differences, digits=2),
    }


def process_cpu_seconds() -> float:
    """This process's CPU time, all its threads (CTranslate2's included), at the clock's full resolution (os.times
    counts in ticks of 10 ms)."""
    return time.process_time()


def cpu_ms_per(before: float | None, after: float | None, count: int) -> float | None:
    """CPU milliseconds per item between two CPU-time readings (None if either is missing or no items).
    On a shared machine CPU time is inflated too (caches, frequency): compare within one run."""
    if before is None or after is None or not count:
        return None
    return round((after - before) * 1000 / count, 3)


def server_cpu_seconds(urls: list[str]) -> float | None:
    """The servers' CPU time so far (``translator_process_cpu_seconds_total`` on /metrics), summed; None
    when a server does not say."""
    total = 0.0
    for url in urls:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10) as response:
                text = response.read().decode()
        except OSError:
            return None
        values = [line.split()[-1] for line in text.splitlines() if line.startswith("translator_process_cpu_seconds")]
        if not values:
            return None
        total += float(values[0])
    return total


def _ratio(value: float | None, raw: float | None, digits: int = 2) -> float | None:
    return round(value / raw, digits) if value is not None and raw else None


def add_vs_raw(rows: list[dict[str, Any]]) -> None:
    """Each server row of this run as a ratio of the raw rows of this run (in place, under ``vs_raw``):
    REST at concurrency 1 against raw single-sentence latency; REST at higher concurrency and streams flat
    out against raw best batched throughput; streams at speech rate, their final p99 against raw
    single-sentence p99."""
    single = next((r["latency_ms"] for r in rows if r["mode"] == "baseline-latency"), None)
    best_row = max((r for r in rows if r["mode"] == "baseline"), key=lambda r: r["sentences_per_s"], default=None)
    best = best_row["sentences_per_s"] if best_row else None
    in_flight = {r["in_flight"]: r["sentences_per_s"] for r in rows if r["mode"] == "baseline-inflight"}
    for row in rows:
        vs: dict[str, Any] = {}
        if row["mode"] == "rest" and row["concurrency"] == 1 and single:
            p50 = row["latency_ms"]["p50"]
            vs = {"raw_p50_ms": single["p50"], "p50_ratio": _ratio(p50, single["p50"])}
            vs["p50_over_raw_ms"] = round(p50 - single["p50"], 2) if p50 is not None else None
        elif (row["mode"] == "rest" or (row["mode"] == "stream" and not row["wpm"])) and best_row:
            vs = {"raw_best_sentences_per_s": best, "raw_best_batch": best_row["batch"]}
            vs["throughput_ratio"] = _ratio(row["sentences_per_s"], best)
            # CPU per sentence, raw best's against the server's: how much more the server's way costs the machine,
            # whatever the bench's own clients take from it (client_cpu_ms_per_sentence).
            cpu = _ratio(best_row.get("cpu_ms_per_sentence"), row.get("server_cpu_ms_per_sentence"))
            if cpu is not None:
                vs |= {"raw_best_cpu_ms_per_sentence": best_row["cpu_ms_per_sentence"], "cpu_ratio": cpu}
            same = in_flight.get(row.get("concurrency"))
            if same:  # what raw CTranslate2 itself reaches with as many sentences in flight
                vs |= {"raw_in_flight_sentences_per_s": same, "in_flight_ratio": _ratio(row["sentences_per_s"], same)}
        elif row["mode"] == "stream" and single:
            vs = {"raw_p99_ms": single["p99"], "final_p99_ratio": _ratio(row["final_ms"]["p99"], single["p99"])}
        if vs:
            row["vs_raw"] = vs


def partials_cost(with_partials: dict[str, Any], finals_only: dict[str, Any]) -> dict[str, Any]:
    """Two runs of the same streams, with partial updates and with finals only: the server CPU that the
    partial updates cost, per update the clients received, and the final latency both ways."""
    cpu_on, cpu_off = with_partials["server_cpu_s"], finals_only["server_cpu_s"]
    updates = with_partials["partials_received"]
    per_update = None
    if cpu_on is not None and cpu_off is not None and updates:
        per_update = round((cpu_on - cpu_off) * 1000 / updates, 3)
    return {
        "mode": "partials-cost",
        "streams": with_partials["streams"],
        "wpm": with_partials["wpm"],
        "partial_updates": updates,
        "server_cpu_s": {"with_partials": cpu_on, "finals_only": cpu_off},
        "cpu_ms_per_update": per_update,
        "final_ms": {"with_partials": with_partials["final_ms"], "finals_only": finals_only["final_ms"]},
    }


def print_raw_row(row: dict[str, Any]) -> None:
    """A raw CTranslate2 row, or a partials-cost row."""
    if row["mode"] == "rest-paired":
        raw, rest, over = row["raw_latency_ms"], row["rest_latency_ms"], row["over_raw_ms"]
        print(
            f"paired, one sentence at a time, REST then raw or raw then REST ({row['sentences']} sentences): "
            f"REST p50 {rest['p50']} ms, raw p50 {raw['p50']} ms; REST minus raw per sentence p50 "
            f"{over['p50']:+} ms p90 {over['p90']:+} ms",
            flush=True,
        )
    elif row["mode"] == "partials-cost":
        on, off = row["final_ms"]["with_partials"], row["final_ms"]["finals_only"]
        print(
            f"partial updates, streams {row['streams']} wpm {row['wpm']:g}: {row['partial_updates']} updates, "
            f"server CPU {row['server_cpu_s']['with_partials']} s vs {row['server_cpu_s']['finals_only']} s "
            f"finals only = {row['cpu_ms_per_update']} ms per update; final ms p50/p99 {on['p50']}/{on['p99']} "
            f"with partials, {off['p50']}/{off['p99']} finals only",
            flush=True,
        )
    elif row["mode"] == "baseline-latency":
        lat = row["latency_ms"]
        print(
            f"raw CTranslate2 one sentence at a time, {row.get('device', 'cpu')} {row.get('compute_type', 'int8')}, "
            f"inter {row['inter_threads']} intra {row['intra_threads']}  latency ms p50 {lat['p50']} p99 {lat['p99']}",
            flush=True,
        )
    elif row["mode"] == "baseline-inflight":
        print(
            f"raw CTranslate2 {row['in_flight']:>3} in flight, arrival order, shared over the threads"
            f"  sentences/s {row['sentences_per_s']:>7}",
            flush=True,
        )
    else:
        print(
            f"raw CTranslate2 batch {row['batch']:>3} inter {row['inter_threads']} intra {row['intra_threads']}"
            f"  sentences/s {row['sentences_per_s']:>7}",
            flush=True,
        )


def print_vs_raw(rows: list[dict[str, Any]]) -> None:
    """One line per server row that has a ratio to raw CTranslate2 (after add_vs_raw)."""
    for row in rows:
        vs = row.get("vs_raw")
        if not vs:
            continue
        if row["mode"] == "rest":
            what = f"REST c={row['concurrency']} batch {row['batch']}"
        else:
            what = f"streams {row['streams']} " + (f"wpm {row['wpm']:g}" if row["wpm"] else "flat out")
        if "p50_ratio" in vs:
            detail = (
                f"p50 {row['latency_ms']['p50']} ms = {vs['p50_ratio']} x raw {vs['raw_p50_ms']} ms "
                f"({vs['p50_over_raw_ms']:+} ms)"
            )
        elif "throughput_ratio" in vs:
            detail = (
                f"{row['sentences_per_s']} sentences/s = {vs['throughput_ratio']} x raw best "
                f"{vs['raw_best_sentences_per_s']} (batch {vs['raw_best_batch']})"
            )
            if "cpu_ratio" in vs:
                detail += (
                    f"; CPU ms per sentence: server {row['server_cpu_ms_per_sentence']}, raw best "
                    f"{vs['raw_best_cpu_ms_per_sentence']} ({vs['cpu_ratio']} x), the bench's clients "
                    f"{row.get('client_cpu_ms_per_sentence')}"
                )
            if "in_flight_ratio" in vs:
                detail += (
                    f"; = {vs['in_flight_ratio']} x raw with as many in flight ({vs['raw_in_flight_sentences_per_s']})"
                )
        else:
            detail = f"final p99 {row['final_ms']['p99']} ms = {vs['final_p99_ratio']} x raw p99 {vs['raw_p99_ms']} ms"
        print(f"vs raw: {what}: {detail}", flush=True)
