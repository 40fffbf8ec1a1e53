"""The HTTP round trip any Python server pays on this machine, against which ``translator bench``'s REST figures
are read (README, Performance: what a lone REST request pays beyond the model).

Starts uvicorn in a process of its own with the server's HTTP and loop settings (``httptools``, ``uvloop``
where installed, no access log) on a free loopback port, serving a bare Starlette app with two endpoints,
and times an idle client's requests to each (a plain keep-alive ``http.client`` connection, requests
``--gap-ms`` apart so that the server is idle before each, as a lone user's request finds it):

- ``echo``: the JSON body read and a JSON answer written: the floor of any endpoint;
- ``hop``: the same with one hand-off to a worker thread and back, as a server that runs its model off the
  event loop needs at least.

    python benchmarks/http_floor.py --requests 300 --gap-ms 10

Prints one JSON line per endpoint and round: p50 / p90 / p99 / max round trip in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import http.client
import json
import multiprocessing
import socket
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from translator.cli.common import percentiles

_WORKERS = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="hop")


async def _echo(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"translatedText": body["q"]})


async def _hop(request: Request) -> JSONResponse:
    body = await request.json()
    text = await asyncio.get_running_loop().run_in_executor(_WORKERS, str, body["q"])
    return JSONResponse({"translatedText": text})


APP = Starlette(routes=[Route("/echo", _echo, methods=["POST"]), Route("/hop", _hop, methods=["POST"])])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(port: int) -> None:
    uvicorn.run(APP, host="127.0.0.1", port=port, http="auto", loop="auto", access_log=False, log_level="warning")


def _serve(port: int) -> multiprocessing.Process:
    """The server in a process of its own, as ``translator serve`` runs apart from its clients."""
    process = multiprocessing.get_context("fork").Process(target=_run, args=(port,), daemon=True)
    process.start()
    for _ in range(200):  # bounded: 10 s
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("uvicorn did not start")


def measure(port: int, path: str, requests: int, gap_ms: float) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    payload = json.dumps({"q": "A man is riding a bike.", "source": "en", "target": "de"})
    headers = {"Content-Type": "application/json"}
    times = []
    for i in range(requests + 10):
        time.sleep(gap_ms / 1000)
        t0 = time.perf_counter()
        connection.request("POST", path, payload, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        if i >= 10:  # the first ten warm the connection up
            times.append((time.perf_counter() - t0) * 1000)
    connection.close()
    round_trip = percentiles(times, digits=3)
    return {"endpoint": path.strip("/"), "requests": requests, "gap_ms": gap_ms, "round_trip_ms": round_trip}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=10.0, help="idle time before each request")
    parser.add_argument("--rounds", type=int, default=2, help="each endpoint this many times, in turn")
    args = parser.parse_args()
    port = _free_port()
    process = _serve(port)
    try:
        for _ in range(args.rounds):
            for path in ("/echo", "/hop"):
                print(json.dumps(measure(port, path, args.requests, args.gap_ms)), flush=True)
    finally:
        process.terminate()
        process.join(5)


if __name__ == "__main__":
    main()
