"""The one async entry point to the models: runs CTranslate2 off the event loop, with the phrase cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from translator.cache import PhraseCache
from translator.engine import Engine
from translator.metrics import Metrics
from translator.registry import ModelEntry, Registry


class TranslationService:
    """Shared by every connection and REST request of one server process."""

    def __init__(self, registry: Registry, *, cache_size: int = 10_000, threads: int = 1) -> None:
        self.registry = registry
        self.cache = PhraseCache(cache_size)
        self.metrics = Metrics(lambda: self.cache.hits, lambda: self.cache.misses)
        self._executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="translate")
        self.ready = False

    def load(self) -> None:
        """Load every model once (at startup), so no request pays for it."""
        for source, target in self.registry.pairs():
            self.registry.engine(source, target)
        self.ready = True

    def close(self) -> None:
        self.ready = False
        self._executor.shutdown(wait=False, cancel_futures=True)

    def pairs(self) -> list[tuple[str, str]]:
        return self.registry.pairs()

    def model(self, source: str, target: str) -> ModelEntry:
        """The model for a pair; raises UnknownPairError."""
        return self.registry.find(source, target)

    async def translate(
        self,
        source: str,
        target: str,
        texts: Sequence[str],
        *,
        prefixes: Sequence[str | None] | None = None,
        kind: str = "rest",
    ) -> list[str]:
        """Translate with the model, off the event loop. No cache."""
        engine: Engine = self.registry.engine(source, target)
        loop = asyncio.get_running_loop()
        start = time.perf_counter()

        def run() -> list[str]:
            results = engine.translate(list(texts), source=source, target=target, target_prefixes=prefixes)
            return [r.text for r in results]

        result = await loop.run_in_executor(self._executor, run)
        self.metrics.model_seconds.observe(time.perf_counter() - start, kind)
        self.metrics.batch_size.observe(len(texts))
        self.metrics.translations.inc(len(texts), kind)
        return result

    async def translate_final(self, source: str, target: str, sentence: str, prefix: str = "") -> tuple[str, bool]:
        """A final sentence translation starting with ``prefix``; answered from the cache when it can be."""
        name = self.model(source, target).name
        cached = self.cache.get(name, source, target, sentence, prefix)
        if cached is not None:
            return cached, True
        [text] = await self.translate(source, target, [sentence], prefixes=[prefix or None], kind="final")
        self.cache.put(name, source, target, sentence, text)
        return text, False

    async def translate_texts(self, source: str, target: str, texts: Sequence[str]) -> list[str]:
        """REST: many texts; cached ones are not sent to the model, the rest go in one batch."""
        name = self.model(source, target).name
        out: list[str | None] = [self.cache.get(name, source, target, t) if t.strip() else "" for t in texts]
        missing = sorted({t for t, o in zip(texts, out, strict=True) if o is None})
        if missing:
            translated = dict(zip(missing, await self.translate(source, target, missing, kind="rest"), strict=True))
            for text, translation in translated.items():
                self.cache.put(name, source, target, text, translation)
            out = [o if o is not None else translated[t] for t, o in zip(texts, out, strict=True)]
        return [o or "" for o in out]
