"""The one async entry point to the models: runs CTranslate2 off the event loop, with the phrase cache."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from translator.batcher import MicroBatcher
from translator.cache import PhraseCache
from translator.engine import translate_texts
from translator.metrics import Metrics
from translator.registry import ModelEntry, Registry


class TranslationService:
    """Shared by every connection and REST request of one server process."""

    def __init__(
        self,
        registry: Registry,
        *,
        cache_size: int = 10_000,
        threads: int = 1,
        max_batch: int = 32,
        batch_wait_ms: float = 3.0,
        max_queue: int = 1024,
    ) -> None:
        self.registry = registry
        self.cache = PhraseCache(cache_size)
        self.metrics = Metrics(lambda: self.cache.hits, lambda: self.cache.misses, lambda: len(self.cache))
        self.threads = max(1, threads)
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="translate")
        self._batch_args = dict(max_batch=max_batch, max_wait_ms=batch_wait_ms, max_queue=max_queue)
        self._batchers: dict[tuple[str, str], MicroBatcher] = {}
        self.ready = False
        self.draining = False

    async def start(self) -> None:
        """Load every model once (at startup, so no request pays for it) and start its batcher."""
        loop = asyncio.get_running_loop()
        for source, target in self.registry.pairs():
            engine = await loop.run_in_executor(self._executor, self.registry.engine, source, target)
            self._batchers[(source, target)] = MicroBatcher(
                partial(translate_texts, engine, source, target),
                self._executor,
                workers=self.threads,
                on_batch=self._observe_batch,
                **self._batch_args,  # type: ignore[arg-type]
            )
        self.ready = True

    async def warm_cache(self, path: Path) -> int:
        """Translate frequent phrases into the cache (run in the background at startup).

        Each line is a phrase; ``en-de<TAB>phrase`` limits it to one pair, otherwise it is warmed for
        every pair. Returns the number of translations cached.
        """
        lines = await asyncio.get_running_loop().run_in_executor(None, path.read_text, "utf-8")
        wanted: dict[tuple[str, str], list[str]] = {}
        for line in lines.splitlines():
            pair, sep, text = line.partition("\t")
            if sep and "-" in pair:
                source, _, target = pair.strip().lower().partition("-")
                pairs = [(source, target)] if (source, target) in self.pairs() else []
            else:
                text, pairs = line, self.pairs()
            if text.strip():
                for key in pairs:
                    wanted.setdefault(key, []).append(text.strip())
        count = 0
        for (source, target), texts in wanted.items():
            for start in range(0, len(texts), 32):
                await self.translate_texts(source, target, texts[start : start + 32])
                count += len(texts[start : start + 32])
        return count

    async def close(self) -> None:
        self.ready = False
        for batcher in self._batchers.values():
            await batcher.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _observe_batch(self, size: int, seconds: float) -> None:
        self.metrics.batch_size.observe(size)
        self.metrics.model_seconds.observe(seconds, "batch")

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
        coalesce_key: Hashable | None = None,
    ) -> list[str]:
        """Translate with the model through the pair's micro-batcher. No cache.

        A ``partial`` request may raise ``Superseded`` or ``Shed`` (see translator.batcher).
        """
        batcher = self._batchers.get((source, target))
        if batcher is None:
            self.model(source, target)  # raises UnknownPairError for an unknown pair
            raise RuntimeError("the service is not started")
        result = await batcher.submit(texts, prefixes, partial=kind == "partial", coalesce_key=coalesce_key)
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
