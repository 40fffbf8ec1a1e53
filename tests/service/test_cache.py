import threading

import pytest

from translator.service.cache import PhraseCache
from translator.text import normalize_spaces as normalize


def test_normalized_key_keeps_case() -> None:
    assert normalize("  A  man\twalks. ") == "A man walks."
    assert PhraseCache.key("m", "en", "de", "A  man") != PhraseCache.key("m", "en", "de", "a man")


def test_hit_miss_and_lru_eviction() -> None:
    cache = PhraseCache(2)
    assert cache.get("m", "en", "de", "one") is None
    cache.put("m", "en", "de", "one", "eins")
    cache.put("m", "en", "de", "two", "zwei")
    assert cache.get("m", "en", "de", " one ") == "eins"  # refreshes "one"
    cache.put("m", "en", "de", "three", "drei")  # evicts "two", the least recently used
    assert cache.get("m", "en", "de", "two") is None
    assert cache.get("m", "en", "de", "three") == "drei"
    assert (cache.hits, cache.misses) == (2, 2)
    assert len(cache) == 2


def test_keys_separate_models_and_pairs() -> None:
    cache = PhraseCache(10)
    cache.put("a", "en", "de", "x", "1")
    assert cache.get("b", "en", "de", "x") is None
    assert cache.get("a", "en", "fr", "x") is None


def test_prefix_must_match() -> None:
    cache = PhraseCache(10)
    cache.put("m", "en", "de", "A man.", "Ein Mann.")
    assert cache.get("m", "en", "de", "A man.", prefix="Ein") == "Ein Mann."
    assert cache.get("m", "en", "de", "A man.", prefix="Der") is None


def test_first_translation_is_kept() -> None:
    cache = PhraseCache(10)
    cache.put("m", "en", "de", "x", "first")
    cache.put("m", "en", "de", "x", "second")
    assert cache.get("m", "en", "de", "x") == "first"


def test_size_zero_disables_and_negative_is_refused() -> None:
    cache = PhraseCache(0)
    cache.put("m", "en", "de", "x", "y")
    assert cache.get("m", "en", "de", "x") is None and len(cache) == 0
    with pytest.raises(ValueError):
        PhraseCache(-1)


def test_thread_safety() -> None:
    cache = PhraseCache(50)

    def work(n: int) -> None:
        for i in range(2000):
            cache.put("m", "en", "de", str((n * i) % 120), "v")
            cache.get("m", "en", "de", str(i % 120))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.hits + cache.misses == 8000
    assert len(cache) <= 50
