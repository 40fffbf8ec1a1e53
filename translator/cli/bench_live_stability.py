"""``translator bench --stability N``: the stability policy of a running server, measured as a client sees it.

N concurrent streams each feed their sentences word by word over ``/v1/stream``, waiting after every word
for the partial (or final) that reflects it, and commit after each sentence. Every update is recorded and
scored like ``translator models stability`` does in-process (``translator.cli.stability_metrics``):
normalized erasure and AL / LAAL / DAL of the displayed and of the stable text, BLEU and chrF of the finals
and of the same sentences translated whole through the server's REST API (the offline translations), the
share of finals identical to them, and the client-side final latency.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

import sacrebleu

from translator.cli.common import percentiles
from translator.cli.stability_metrics import Trace, Update, score_traces
from translator.client import RestClient, StreamClient
from translator.text import normalize_spaces


async def _sentence(client: StreamClient, sentence: str, reference: str | None, timeout: float) -> tuple[Trace, float]:
    """Feed one sentence word by word; its trace and the milliseconds from its commit to its last final."""
    words = sentence.split()
    trace = Trace(len(words), reference=reference)
    finals: list[dict[str, Any]] = []
    typed = ""

    def covered() -> int:
        return sum(len(f["source"].split()) for f in finals)

    async def until(read: int, *, finals_only: bool = False) -> None:
        """Messages until one reflects the first ``read`` words (a partial of them, or finals of them all)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await client.recv()
                if message["type"] == "final":
                    finals.append(message)
                    text = " ".join(f["text"] for f in finals)
                    trace.updates.append(Update(min(read, covered()), text, text))
                    if covered() >= read:
                        return
                elif message["type"] == "partial":
                    head = " ".join(f["text"] for f in finals)
                    trace.updates.append(
                        Update(
                            read,
                            normalize_spaces(f"{head} {message['stable']}{message['unstable']}"),
                            normalize_spaces(f"{head} {message['stable']}"),
                        )
                    )
                    reflects = covered() + len(message["source"].split()) == read and typed.endswith(message["source"])
                    if reflects and not finals_only:
                        return

    for n, word in enumerate(words, start=1):
        typed = normalize_spaces(f"{typed} {word}")
        await client.append(word + " ")
        await until(n)
    committed = time.perf_counter()
    await client.commit()
    if covered() < len(words):
        await until(len(words), finals_only=True)
    return trace, (time.perf_counter() - committed) * 1000


async def run_stability(
    url: str,
    source: str,
    target: str,
    corpus: list[tuple[str, str | None]],
    streams: int,
    per_stream: int,
    timeout: float,
    offset: int = 0,
) -> dict[str, Any]:
    """``streams`` clients, each feeding its own ``per_stream`` sentences of the corpus (from ``offset``)."""
    plan = [[(offset + k * per_stream + j) % len(corpus) for j in range(per_stream)] for k in range(streams)]
    results: dict[int, tuple[Trace, float]] = {}
    errors = 0

    async def stream(indexes: list[int]) -> None:
        nonlocal errors
        try:
            client = await StreamClient.connect(url, source, target)
        except (OSError, RuntimeError):
            errors += len(indexes)
            return
        try:
            for i in indexes:
                try:
                    results[i] = await _sentence(client, corpus[i][0], corpus[i][1], timeout)
                except TimeoutError:
                    errors += 1
                    return  # the stream is out of step: give it up
        finally:
            await client.close()

    start = time.perf_counter()
    await asyncio.gather(*(stream(p) for p in plan))
    elapsed = time.perf_counter() - start
    done = sorted(results)
    traces = [results[i][0] for i in done]
    finals = [t.updates[-1].display for t in traces]
    offline: list[str] = []
    async with RestClient(url) as rest:
        for start_at in range(0, len(done), 32):
            chunk = [corpus[i][0] for i in done[start_at : start_at + 32]]
            got = await rest.translate(chunk, source, target)
            offline += [got] if isinstance(got, str) else got
    refs = [corpus[i][1] for i in done]
    row: dict[str, Any] = {"mode": "stability", "streams": streams, "sentences": len(done)}
    if done and all(r is not None for r in refs):
        ref_lists = [[r or "" for r in refs]]
        bleu_finals = sacrebleu.corpus_bleu(finals, ref_lists).score
        bleu_offline = sacrebleu.corpus_bleu(offline, ref_lists).score
        row.update(
            bleu_finals=round(bleu_finals, 2),
            bleu_offline=round(bleu_offline, 2),
            bleu_delta=round(bleu_finals - bleu_offline, 2),
            chrf_finals=round(sacrebleu.corpus_chrf(finals, ref_lists).score, 2),
            chrf_offline=round(sacrebleu.corpus_chrf(offline, ref_lists).score, 2),
        )
    row["identical_to_offline"] = round(
        sum(a == b for a, b in zip(finals, offline, strict=True)) / max(1, len(done)), 3
    )
    row.update(asdict(score_traces(traces)) if traces else {})
    row["final_ms"] = percentiles([results[i][1] for i in done])
    row["seconds"] = round(elapsed, 1)
    row["errors"] = errors
    return row


def print_row(row: dict[str, Any]) -> None:
    keys = ("streams", "sentences", "ne_display", "ne_stable", "laal_display", "laal_stable", "bleu_delta")
    head = "  ".join(f"{k} {row.get(k, '-')}" for k in keys)
    print(
        f"stability {head}  identical {row['identical_to_offline']}  final ms p50 {row['final_ms']['p50']} "
        f"p99 {row['final_ms']['p99']}  errors {row['errors']}"
    )
