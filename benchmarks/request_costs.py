"""Where a lone REST request's time goes: CPU per request by thread in a real ``translator serve``, and
wall time per layer in this process, each against raw CTranslate2 on the same sentences (README,
Performance; docs/performance.md).

1. Threads: starts ``translator serve --cache-size 0`` on a free loopback port (extra arguments after
   ``--`` go to it), sends ``--requests`` lone requests one after the other over a keep-alive
   ``http.client`` connection, and reads each server thread's CPU time from ``/proc/PID/task`` (Linux)
   before and after: the event loop (the main thread), the service's workers (``translate_N``, named by
   translator.service.threads) and the rest (CTranslate2's threads). The client's own CPU per request is
   printed too: on a small machine it shares the cores with the server.
2. Layers: in this process, each sentence through raw ``translate_batch`` on pre-tokenized input, through
   ``Engine`` (tokenizing, truecasing, decoding) and through ``TranslationService`` (micro-batcher and
   worker thread), one after the other in rotating order; prints the paired differences' median.

    python benchmarks/request_costs.py --requests 300

Prints one JSON line per part. CPU times are inflated on a shared machine: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from translator.cli.bench_engine import _raw_one, _raw_translator
from translator.engine.engine import TranslationOptions, texts_only
from translator.engine.registry import Registry
from translator.service.service import TranslationService

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ROOT.parent / "shared" / "data" / "multi30k" / "test_2016_flickr.en.gz"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread's name and CPU seconds: from ``schedstat`` (nanoseconds) where the kernel keeps it, else
    user + system time from ``stat`` (clock ticks)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        task = Path(f"/proc/{pid}/task/{tid}")
        try:
            name = (task / "comm").read_text().strip()
            try:
                seconds = int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, IndexError, ValueError):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                seconds = (int(fields[11]) + int(fields[12])) / tick
        except OSError:  # the thread ended
            continue
        out[int(tid)] = (name, seconds)
    return out


def _role(pid: int, tid: int, name: str) -> str:
    if tid == pid:
        return "event_loop"
    return "workers" if name.startswith("translate") else "model_and_other"


def _serve(port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "translator", "serve", "--port", str(port), "--cache-size", "0", *extra]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):  # bounded: 60 s
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not become ready")


def threads_part(sentences: list[str], extra: list[str], model: Path) -> dict[str, Any]:
    port = _free_port()
    server = _serve(port, extra)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}

        def rest(text: str) -> None:
            connection.request("POST", "/translate", json.dumps({"q": text, "source": "en", "target": "de"}), headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"POST /translate answered {response.status}")

        for text in sentences[:10]:
            rest(text)
        before, client_before = _thread_cpu(server.pid), time.process_time()
        for text in sentences:
            rest(text)
        after, client_cpu = _thread_cpu(server.pid), time.process_time() - client_before
    finally:
        server.terminate()
        server.wait(10)
    roles: dict[str, float] = {"event_loop": 0.0, "workers": 0.0, "model_and_other": 0.0}
    for tid, (name, seconds) in after.items():
        roles[_role(server.pid, tid, name)] += seconds - before.get(tid, (name, 0.0))[1]
    translator, tokens, decoding = _raw_translator(model, sentences, 1, 1, TranslationOptions().beam_size)
    raw_before = time.process_time()
    for tokenized in tokens:
        _raw_one(translator, tokenized, TranslationOptions().beam_size, decoding)
    raw_cpu = time.process_time() - raw_before
    per = {role: round(seconds * 1000 / len(sentences), 3) for role, seconds in roles.items()}
    return {
        "part": "server_cpu_ms_per_request",
        "requests": len(sentences),
        **per,
        "server_total": round(sum(per.values()), 3),
        "raw_ctranslate2_cpu_ms_per_sentence": round(raw_cpu * 1000 / len(sentences), 3),
        "client_cpu_ms_per_request": round(client_cpu * 1000 / len(sentences), 3),
    }


async def layers_part(sentences: list[str], model: Path) -> dict[str, Any]:
    beam = TranslationOptions().beam_size
    translator, tokens, decoding = _raw_translator(model, sentences, 1, 1, beam)
    registry = Registry(model, device="cpu", inter_threads=1, intra_threads=1, options=TranslationOptions())
    service = TranslationService(registry, cache_size=0, threads=1)
    await service.start()
    engine = registry.engine("en", "de")
    try:
        layers = ("raw", "engine", "service")
        times: dict[str, list[float]] = {layer: [] for layer in layers}
        for i, (text, tokenized) in enumerate(zip(sentences, tokens, strict=True)):
            for layer in layers[i % 3 :] + layers[: i % 3]:
                t0 = time.perf_counter()
                if layer == "raw":
                    _raw_one(translator, tokenized, beam, decoding)
                elif layer == "engine":
                    texts_only(engine, "en", "de", [text], [None])
                else:
                    await service.translate_batch_cached("en", "de", [text])
                if i >= 10:  # the first ten warm up
                    times[layer].append((time.perf_counter() - t0) * 1000)
    finally:
        await service.close()
    row: dict[str, Any] = {"part": "layers_wall_ms", "sentences": len(times["raw"])}
    for layer in layers:
        row[f"{layer}_p50"] = round(statistics.median(times[layer]), 3)
        if layer != "raw":
            paired = [a - b for a, b in zip(times[layer], times["raw"], strict=True)]
            row[f"{layer}_minus_raw_p50"] = round(statistics.median(paired), 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "en-de")
    parser.add_argument("--sentences", type=Path, default=SENTENCES, help="English sentences, one a line (.gz too)")
    parser.add_argument("serve_args", nargs="*", help="after --: more arguments for translator serve")
    args = parser.parse_args()
    opener = gzip.open if args.sentences.suffix == ".gz" else open
    with opener(args.sentences, "rt", encoding="utf-8") as handle:
        sentences = [line.strip() for line in handle if line.strip()][: args.requests]
    print(json.dumps(threads_part(sentences, args.serve_args, args.model)), flush=True)
    print(json.dumps(asyncio.run(layers_part(sentences, args.model))), flush=True)


if __name__ == "__main__":
    main()
