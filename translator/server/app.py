"""The Starlette application: routes and the model's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from translator.engine.engine import TranslationOptions
from translator.engine.registry import Registry
from translator.server import files, ops, rest
from translator.server.auth import ApiKeys
from translator.server.settings import ServerConfig
from translator.server.state import AppState
from translator.server.stream import stream_endpoint
from translator.service.resume_store import ResumeStore
from translator.service.service import TranslationService
from translator.service.session_relay import SessionRelay
from translator.service.shared_cache import SharedCache

log = logging.getLogger("translator")
WEB_DIR = Path(__file__).resolve().parents[2] / "web"


async def _warm(service: TranslationService, path: Path) -> None:
    try:
        count = await service.warm_cache(path)
        log.info("phrase cache warmed with %d translations from %s", count, path)
    except (OSError, UnicodeDecodeError) as exc:
        log.error("cannot warm the phrase cache from %s: %s", path, exc)


def create_app(config: ServerConfig | None = None) -> Starlette:
    config = config or ServerConfig.from_env()
    state = AppState(config, ApiKeys.load(config.api_keys_file, config.api_keys, config.key_rate))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        registry = Registry(
            config.models,
            device=config.device,
            compute_type=config.compute_type,
            inter_threads=config.inter_threads,
            intra_threads=config.intra_threads,
            options=TranslationOptions(beam_size=config.beam_size),
        )
        for problem in registry.problems:
            log.warning("%s", problem)
        if not registry.pairs():
            raise RuntimeError(f"no models found under {registry.root}")
        shared_cache = None
        if config.redis_url:
            shared_cache = SharedCache(
                config.redis_url,
                ttl=config.redis_ttl,
                timeout=config.redis_timeout_ms / 1000,
                retry_after=config.redis_retry_seconds,
            )
        service = TranslationService(
            registry,
            cache_size=config.cache_size,
            threads=config.inter_threads,
            max_batch=config.max_batch,
            batch_wait_ms=config.batch_wait_ms,
            max_queue=config.max_queue,
            shared_cache=shared_cache,
        )
        await service.start()
        relay = None
        if config.redis_url:
            # Sessions across replicas: a speaker's viewers may be connected to any replica.
            relay = SessionRelay(
                config.redis_url,
                state.sessions,
                timeout=config.redis_timeout_ms / 1000,
                retry_after=max(config.redis_retry_seconds, 0.1),
            )
            relay.start()
            state.sessions.relay = relay
            service.metrics.add_session_relay(relay)
        resume_store = None
        if config.redis_url and config.resume_seconds > 0:
            # Streams a draining replica closes can be resumed on any replica.
            resume_store = ResumeStore(config.redis_url, timeout=max(config.redis_timeout_ms / 1000, 0.5))
        state.resumes.start(service.metrics, resume_store)
        warm_task = None
        if config.warm_cache is not None:
            warm_task = asyncio.create_task(_warm(service, config.warm_cache))
        log.info("serving %s from %s", ", ".join(f"{s}->{t}" for s, t in registry.pairs()), registry.root)
        state.service = service
        try:
            yield
        finally:
            if warm_task is not None:
                warm_task.cancel()
            if relay is not None:
                state.sessions.relay = None
                await relay.close()
            state.resumes.close()
            if resume_store is not None:
                await resume_store.close()
            state.files.close()
            await service.close()

    web = config.web if config.web is not None else WEB_DIR
    static: list[BaseRoute] = []
    if web.is_dir():

        async def page(request: Request) -> Response:
            return FileResponse(web / "index.html")

        async def overlay(request: Request) -> Response:
            return FileResponse(web / "overlay.html")

        static = [
            Route("/", page, methods=["GET"]),
            Route("/overlay", overlay, methods=["GET"]),
            Mount("/static", StaticFiles(directory=web)),
        ]
    if config.echo:
        # A plain echo endpoint on the same server stack, for WebSocket conformance suites (Autobahn).
        static.insert(0, WebSocketRoute("/v1/echo", ops.echo))
    app = Starlette(
        routes=[
            WebSocketRoute("/v1/stream", stream_endpoint),
            Route("/translate", rest.translate, methods=["POST"]),
            Route("/languages", rest.languages, methods=["GET"]),
            Route("/detect", rest.detect, methods=["POST"]),
            Route("/translate_file", files.translate_file, methods=["POST"]),
            Route("/download_file/{filename}", files.download_file, methods=["GET"], name="download_file"),
            Route("/frontend/settings", rest.frontend_settings, methods=["GET"]),
            Route("/suggest", rest.suggest, methods=["POST"]),
            Route("/healthz", ops.healthz, methods=["GET"]),
            Route("/readyz", ops.readyz, methods=["GET"]),
            Route("/metrics", ops.metrics, methods=["GET"]),
            *static,
        ],
        lifespan=lifespan,
    )
    app.state.translator = state
    return app
