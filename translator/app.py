"""The Starlette application: routes and the model's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from translator import rest
from translator.config import ServerConfig
from translator.engine import TranslationOptions
from translator.registry import Registry
from translator.service import TranslationService
from translator.ws import stream_endpoint

log = logging.getLogger("translator")


async def _warm(service: TranslationService, path: Path) -> None:
    try:
        count = await service.warm_cache(path)
        log.info("phrase cache warmed with %d translations from %s", count, path)
    except (OSError, UnicodeDecodeError) as exc:
        log.error("cannot warm the phrase cache from %s: %s", path, exc)


def create_app(config: ServerConfig | None = None) -> Starlette:
    config = config or ServerConfig.from_env()

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
        service = TranslationService(
            registry,
            cache_size=config.cache_size,
            threads=config.inter_threads,
            max_batch=config.max_batch,
            batch_wait_ms=config.batch_wait_ms,
            max_queue=config.max_queue,
        )
        await service.start()
        warm_task = None
        if config.warm_cache is not None:
            warm_task = asyncio.create_task(_warm(service, config.warm_cache))
        log.info("serving %s from %s", ", ".join(f"{s}->{t}" for s, t in registry.pairs()), registry.root)
        app.state.service = service
        try:
            yield
        finally:
            if warm_task is not None:
                warm_task.cancel()
            await service.close()

    app = Starlette(
        routes=[
            WebSocketRoute("/v1/stream", stream_endpoint),
            Route("/translate", rest.translate, methods=["POST"]),
            Route("/languages", rest.languages, methods=["GET"]),
            Route("/healthz", rest.healthz, methods=["GET"]),
            Route("/readyz", rest.readyz, methods=["GET"]),
            Route("/metrics", rest.metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.config = config
    return app
