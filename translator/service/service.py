"""The one async entry point to the models: runs CTranslate2 off the event loop, with the phrase cache."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from pathlib import Path

from translator.decoding import Prefix, alternatives_of
from translator.engine.engine import TranslationOptions, texts_only
from translator.engine.langid import Detection, LanguageIdentifier
from translator.engine.registry import ModelEntry, Registry
from translator.segment import split_sentences
from translator.service.batcher import MicroBatcher, TranslateFn
from translator.service.cache import PhraseCache
from translator.service.metrics import Metrics
from translator.service.shared_cache import SharedCache
from translator.service.workers import Workers
from translator.text import starts_with_prefix

# Given the registry and a pair: the function the pair's batcher calls with texts and target prefixes.
ModelFunction = Callable[[Registry, str, str], TranslateFn]


def engine_function(registry: Registry, source: str, target: str) -> TranslateFn:
    """The real model: load the pair's engine (once, shared) and translate with it."""
    return partial(texts_only, registry.engine(source, target), source, target)


def warm_phrases(text: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """The phrases of a warm-cache file by pair: each line a phrase for every pair, or
    ``en-de<TAB>phrase`` for one pair (lines naming a pair that is not served are skipped)."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for line in text.splitlines():
        pair, sep, phrase = line.partition("\t")
        if sep and "-" in pair:
            source, _, target = pair.strip().lower().partition("-")
            keys = [(source, target)] if (source, target) in pairs else []
        else:
            phrase, keys = line, list(pairs)
        if phrase.strip():
            for key in keys:
                wanted.setdefault(key, []).append(phrase.strip())
    return wanted


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
        shared_cache: SharedCache | None = None,
        model_function: ModelFunction | None = None,
    ) -> None:
        self.registry = registry
        # How a pair's texts reach its model (a test may pass a fake; the default loads the engine).
        self._model_function = model_function or engine_function
        self.cache = PhraseCache(cache_size)
        self.shared_cache = shared_cache
        self.metrics = Metrics(
            lambda: self.cache.hits,
            lambda: self.cache.misses,
            lambda: len(self.cache),
            lambda: [b.stats for b in self._batchers.values()],
        )
        if shared_cache is not None:
            self.metrics.add_shared_cache(shared_cache)
        self.threads = max(1, threads)
        # Named threads (translate_0, ...), so that their CPU shows apart from the event loop's and the model's.
        self._workers = Workers(self.threads, name="translate")
        self._batch_args = dict(max_batch=max_batch, max_wait_ms=batch_wait_ms, max_queue=max_queue)
        self._batchers: dict[tuple[str, str], MicroBatcher] = {}
        self._fingerprints: dict[Path, str] = {}
        # Language identification among the languages the models translate from (loaded on first use).
        self.languages: LanguageIdentifier | None = None
        self._languages_lock = asyncio.Lock()
        self.ready = False
        self.draining = False

    async def start(self) -> None:
        """Load every model once (at startup, so no request pays for it) and start its batcher."""
        loop = asyncio.get_running_loop()
        if self.shared_cache is not None:
            await self.shared_cache.check()  # logs a warning if Redis is not there; the service starts anyway
            for entry in self.registry.entries:
                # Hash the model files now, off the event loop, rather than at the first request.
                self._fingerprints[entry.path] = await loop.run_in_executor(None, self._fingerprint, entry)
        for source, target in self.registry.pairs():
            # Loaded off the workers, so that CTranslate2's threads do not inherit a worker's name.
            translate = await loop.run_in_executor(None, self._model_function, self.registry, source, target)
            self._batchers[(source, target)] = MicroBatcher(
                translate,
                self._workers,
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
        wanted = warm_phrases(lines, self.pairs())
        count = 0
        for (source, target), texts in wanted.items():
            for start in range(0, len(texts), 32):
                await self.translate_batch_cached(source, target, texts[start : start + 32])
                count += len(texts[start : start + 32])
        return count

    async def close(self) -> None:
        self.ready = False
        for batcher in self._batchers.values():
            await batcher.close()
        self._workers.shutdown()
        if self.shared_cache is not None:
            await self.shared_cache.close()

    def _observe_batch(self, size: int, seconds: float) -> None:
        self.metrics.batch_size.observe(size)
        self.metrics.model_seconds.observe(seconds, "batch")

    def pairs(self) -> list[tuple[str, str]]:
        return self.registry.pairs()

    def model(self, source: str, target: str) -> ModelEntry:
        """The model for a pair; raises UnknownPairError."""
        return self.registry.find(source, target)

    async def translate_uncached(
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

        A ``partial`` request may raise ``Superseded`` or ``Shed`` (see translator.service.batcher).
        """
        batcher = self._batchers.get((source, target))
        if batcher is None:
            self.model(source, target)  # raises UnknownPairError for an unknown pair
            raise RuntimeError("the service is not started")
        result = await batcher.submit(texts, prefixes, partial=kind == "partial", coalesce_key=coalesce_key)
        self.metrics.translations.inc(len(texts), kind)
        return result

    async def translate_final(self, source: str, target: str, sentence: str, prefix: str = "") -> tuple[str, bool]:
        """A final sentence translation starting with ``prefix``; answered from a cache when it can be."""
        entry = self.model(source, target)
        cached = self.cache.get(entry.name, source, target, sentence, prefix)
        if cached is not None:
            return cached, True
        shared = await self._shared_get(entry, source, target, [sentence])
        if shared.get(sentence) is not None and starts_with_prefix(shared[sentence], prefix):
            self.cache.put(entry.name, source, target, sentence, shared[sentence])
            return shared[sentence], True
        [text] = await self.translate_uncached(source, target, [sentence], prefixes=[prefix or None], kind="final")
        self.cache.put(entry.name, source, target, sentence, text)
        self._shared_put(entry, source, target, {sentence: text})
        return text, False

    async def translate_batch_cached(self, source: str, target: str, texts: Sequence[str]) -> list[str]:
        """REST: many texts; cached ones are not sent to the model, the rest go in one batch."""
        entry = self.model(source, target)
        name = entry.name
        out: list[str | None] = [self.cache.get(name, source, target, t) if t.strip() else "" for t in texts]
        missing = sorted({t for t, o in zip(texts, out, strict=True) if o is None})
        found = await self._shared_get(entry, source, target, missing)
        for text, translation in found.items():
            self.cache.put(name, source, target, text, translation)
        missing = [t for t in missing if t not in found]
        translated: dict[str, str] = dict(found)
        if missing:
            translations = await self.translate_uncached(source, target, missing, kind="rest")
            fresh = dict(zip(missing, translations, strict=True))
            for text, translation in fresh.items():
                self.cache.put(name, source, target, text, translation)
            self._shared_put(entry, source, target, fresh)
            translated.update(fresh)
        out = [o if o is not None else translated[t] for t, o in zip(texts, out, strict=True)]
        return [o or "" for o in out]

    async def detect(self, texts: Sequence[str]) -> list[Detection]:
        """The language of each text, among those the models translate from (off the event loop)."""
        languages = await self.identifier()
        return await asyncio.get_running_loop().run_in_executor(None, lambda: [languages.detect(t) for t in texts])

    async def identifier(self) -> LanguageIdentifier:
        """The language identifier, loaded on first use (about 1 s and 100 MB: only a server whose clients
        ask for detection pays for it)."""
        if self.languages is None:
            async with self._languages_lock:
                if self.languages is None:
                    sources = sorted({source for source, _ in self.registry.pairs()})
                    loop = asyncio.get_running_loop()
                    self.languages = await loop.run_in_executor(None, LanguageIdentifier, sources)
        return self.languages

    async def translate_alternatives(
        self, source: str, target: str, texts: Sequence[str], count: int
    ) -> list[tuple[str, list[str]]]:
        """Each text's best translation and up to ``count`` different ones (the model's n-best, sentence by
        sentence: alternative i puts each sentence's i-th hypothesis, or its best, in place). No cache."""
        beam = (self.registry.options or TranslationOptions()).beam_size
        hypotheses = max(1, min(count + 1, beam))
        sentences = [split_sentences(t) for t in texts]
        flat = [s for group in sentences for s in group]
        translated = (
            await self.translate_uncached(
                source, target, flat, prefixes=[Prefix("", hypotheses=hypotheses)] * len(flat), kind="rest"
            )
            if flat
            else []
        )
        out: list[tuple[str, list[str]]] = []
        position = 0
        for group in sentences:
            options = [alternatives_of(t) for t in translated[position : position + len(group)]]
            position += len(group)
            best = " ".join(o[0] for o in options if o[0])
            others: list[str] = []
            for i in range(1, hypotheses):
                text = " ".join(o[i] if i < len(o) else o[0] for o in options)
                if text and text != best and text not in others:
                    others.append(text)
            out.append((best, others[:count]))
        return out

    def _fingerprint(self, entry: ModelEntry) -> str:
        """The model's files and the decoding options together decide what a translation is."""
        options = repr(self.registry.options or TranslationOptions())
        return hashlib.blake2b(f"{entry.fingerprint}{options}".encode(), digest_size=8).hexdigest()

    def _shared_key(self, entry: ModelEntry, source: str, target: str, text: str) -> str:
        return SharedCache.key(self._fingerprints[entry.path], source, target, text)

    async def _shared_get(self, entry: ModelEntry, source: str, target: str, texts: Sequence[str]) -> dict[str, str]:
        """The translations of ``texts`` found in the shared cache (none without one, or while it is down)."""
        if self.shared_cache is None or not texts:
            return {}
        keys = [self._shared_key(entry, source, target, t) for t in texts]
        values = await self.shared_cache.get_many(keys)
        return {t: v for t, v in zip(texts, values, strict=True) if v is not None}

    def _shared_put(self, entry: ModelEntry, source: str, target: str, translations: dict[str, str]) -> None:
        if self.shared_cache is not None:
            self.shared_cache.put({self._shared_key(entry, source, target, t): v for t, v in translations.items()})
