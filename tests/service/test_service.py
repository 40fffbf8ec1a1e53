"""The service API with a fake model function: caching, prefixes, batching, kinds, warm-cache phrases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import MODELS
from translator.engine import Registry, UnknownPairError
from translator.service.batcher import TranslateFn
from translator.service.service import TranslationService, warm_phrases


class FakeModel:
    """Upper-cases the words; a forced prefix replaces the start. Records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, registry: Registry, source: str, target: str) -> TranslateFn:
        def translate(texts: list[str], prefixes: list[str | None]) -> list[str]:
            self.calls.append(list(texts))
            out = []
            for text, prefix in zip(texts, prefixes, strict=True):
                words = f"{target}:{text}".upper().split()
                if prefix:
                    words = prefix.split() + words[len(prefix.split()) :]
                out.append(" ".join(words))
            return out

        return translate


@pytest.fixture
def fake() -> FakeModel:
    return FakeModel()


@pytest.fixture
async def service(fake: FakeModel) -> AsyncIterator[TranslationService]:
    svc = TranslationService(Registry(MODELS), cache_size=100, max_batch=8, batch_wait_ms=5, model_function=fake)
    await svc.start()
    yield svc
    await svc.close()


async def test_the_batch_path_caches_and_skips_blank_texts(service: TranslationService, fake: FakeModel) -> None:
    first = await service.translate_batch_cached("en", "de", ["a b", "", "c"])
    assert first == ["DE:A B", "", "DE:C"]
    again = await service.translate_batch_cached("en", "de", ["c", "a b"])
    assert again == ["DE:C", "DE:A B"]
    assert fake.calls == [["a b", "c"]]  # one model call for the misses, none for the hits
    assert service.cache.hits == 2


async def test_finals_keep_their_prefix_and_use_the_cache_only_when_it_agrees(
    service: TranslationService, fake: FakeModel
) -> None:
    text, cached = await service.translate_final("en", "de", "one two three", prefix="EINS")
    assert text.startswith("EINS") and not cached
    text, cached = await service.translate_final("en", "de", "one two three", prefix="EINS")
    assert cached and text.startswith("EINS")
    # A cached translation that does not start with the stable prefix is not used.
    text, cached = await service.translate_final("en", "de", "one two three", prefix="ANDERS")
    assert not cached and text.startswith("ANDERS")


async def test_concurrent_requests_share_model_calls(service: TranslationService, fake: FakeModel) -> None:
    texts = [f"sentence {i}" for i in range(6)]
    results = await asyncio.gather(*(service.translate_uncached("en", "de", [t], kind="rest") for t in texts))
    assert [r[0] for r in results] == [f"DE:SENTENCE {i}" for i in range(6)]
    assert len(fake.calls) < len(texts)  # gathered into batches
    assert service.metrics.translations.value("rest") == 6


async def test_each_pair_goes_to_its_own_model(service: TranslationService) -> None:
    assert await service.translate_batch_cached("de", "en", ["x"]) == ["EN:X"]
    with pytest.raises(UnknownPairError):
        await service.translate_batch_cached("en", "fr", ["x"])


async def test_warm_cache_fills_the_cache(service: TranslationService, fake: FakeModel, tmp_path: Path) -> None:
    phrases = tmp_path / "warm.txt"
    phrases.write_text("hello\nen-de\tonly german\nen-fr\tnot served\n\n", encoding="utf-8")
    assert await service.warm_cache(phrases) == 3  # hello for both pairs, one en-de phrase
    calls = len(fake.calls)
    assert await service.translate_batch_cached("en", "de", ["only german", "hello"]) == ["DE:ONLY GERMAN", "DE:HELLO"]
    assert len(fake.calls) == calls


def test_warm_phrases_parses_lines() -> None:
    pairs = [("en", "de"), ("de", "en")]
    assert warm_phrases("a\nen-de\tb\nxx-yy\tc\n  \n", pairs) == {("en", "de"): ["a", "b"], ("de", "en"): ["a"]}


async def test_a_failing_model_fails_its_request_and_the_service_goes_on(fake: FakeModel) -> None:
    broken = {"on": True}

    def model_function(registry: Registry, source: str, target: str) -> TranslateFn:
        real = fake(registry, source, target)

        def translate(texts: list[str], prefixes: list[str | None]) -> list[str]:
            if broken["on"]:
                raise RuntimeError("model failure")
            return real(texts, prefixes)

        return translate

    svc = TranslationService(Registry(MODELS), model_function=model_function)
    await svc.start()
    try:
        with pytest.raises(RuntimeError, match="model failure"):
            await svc.translate_batch_cached("en", "de", ["x"])
        broken["on"] = False
        assert await svc.translate_batch_cached("en", "de", ["x"]) == ["DE:X"]
    finally:
        await svc.close()
