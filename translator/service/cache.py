"""The phrase cache: final sentence translations in an in-process LRU."""

from __future__ import annotations

import threading

from cachetools import LRUCache

from translator.text import normalize_spaces, starts_with_prefix


class PhraseCache:
    """A thread-safe LRU of translations keyed by model, language pair and normalized text."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError("cache size must not be negative")
        self.maxsize = maxsize
        self._lru: LRUCache[tuple[str, str, str, str], str] | None = LRUCache(maxsize) if maxsize else None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._lru) if self._lru is not None else 0

    @staticmethod
    def key(model: str, source: str, target: str, text: str) -> tuple[str, str, str, str]:
        return (model, source, target, normalize_spaces(text))  # white space collapsed, case kept (as SharedCache.key)

    def get(self, model: str, source: str, target: str, text: str, prefix: str = "") -> str | None:
        """The cached translation, if there is one and it starts with ``prefix``."""
        value = None
        if self._lru is not None:
            with self._lock:
                value = self._lru.get(self.key(model, source, target, text))
        if value is not None and not starts_with_prefix(value, prefix):
            value = None
        with self._lock:
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
        return value

    def put(self, model: str, source: str, target: str, text: str, translation: str) -> None:
        if self._lru is None:
            return
        with self._lock:
            self._lru.setdefault(self.key(model, source, target, text), translation)
