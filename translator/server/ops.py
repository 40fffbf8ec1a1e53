"""Operations endpoints: liveness, readiness, Prometheus metrics, and the conformance echo."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.websockets import WebSocket

from translator.server.state import app_state


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    service = app_state(request.app).started()
    if service.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    if service.ready:
        body: dict[str, object] = {"status": "ready", "pairs": [f"{s}-{t}" for s, t in service.pairs()]}
        if service.shared_cache is not None:
            # Informational: the service is ready with or without its shared cache.
            body["shared_cache"] = "up" if service.shared_cache.up else "down"
        return JSONResponse(body)
    return JSONResponse({"status": "not ready"}, status_code=503)


async def metrics(request: Request) -> Response:
    service = app_state(request.app).started()
    return PlainTextResponse(service.metrics.render(), media_type="text/plain; version=0.0.4")


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await ws.send_text(message["text"])
        elif message.get("bytes") is not None:
            await ws.send_bytes(message["bytes"])
