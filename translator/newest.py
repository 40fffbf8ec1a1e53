"""The one "newest wins" rule for message queues: a newer partial replaces the older one still waiting.

A ``NewestQueue`` is first in, first out, except that an item put with a key replaces the waiting item
with the same key, in that item's place (so everything else keeps its order, and a caption that is
still waiting is simply updated). With a bound, a full queue makes room by dropping its oldest keyed
item (a partial: a newer one or the final follows); with no keyed item waiting, a keyed newcomer is
dropped and any other newcomer drops the oldest item. Pure logic: callers add their own waiting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _Entry(Generic[T]):
    __slots__ = ("item", "key")

    def __init__(self, item: T, key: Hashable | None) -> None:
        self.item = item
        self.key = key


class NewestQueue(Generic[T]):
    def __init__(self, maxlen: int | None = None) -> None:
        if maxlen is not None and maxlen < 1:
            raise ValueError("maxlen must be positive")
        self.maxlen = maxlen
        self._entries: deque[_Entry[T]] = deque()
        self._keyed: dict[Hashable, _Entry[T]] = {}
        self.replaced = 0  # items that a newer item with the same key replaced
        self.dropped = 0  # items lost to the bound (a newcomer or an evicted one)

    def put(self, item: T, key: Hashable | None = None) -> bool:
        """Queue ``item``; False when the bound dropped it (the queue is full and it is keyed)."""
        if key is not None:
            waiting = self._keyed.get(key)
            if waiting is not None:
                waiting.item = item
                self.replaced += 1
                return True
        if self.maxlen is not None and len(self._entries) >= self.maxlen:
            oldest_keyed = next((e for e in self._entries if e.key is not None), None)
            if oldest_keyed is not None:
                self._entries.remove(oldest_keyed)
                del self._keyed[oldest_keyed.key]
            elif key is not None:
                self.dropped += 1
                return False
            else:
                self._entries.popleft()
            self.dropped += 1
        entry = _Entry(item, key)
        self._entries.append(entry)
        if key is not None:
            self._keyed[key] = entry
        return True

    def peek(self) -> T:
        """The first item, left in the queue (IndexError when empty)."""
        return self._entries[0].item

    def popleft(self) -> T:
        """Take the first item (IndexError when empty)."""
        entry = self._entries.popleft()
        if entry.key is not None:
            del self._keyed[entry.key]
        return entry.item

    def pop_sent(self, item: T) -> bool:
        """Take the first item if it is still ``item`` (the one just sent): a newer item that replaced it
        meanwhile stays, to be sent next. True when taken."""
        if self._entries and self._entries[0].item is item:
            self.popleft()
            return True
        return False

    def clear(self) -> None:
        self._entries.clear()
        self._keyed.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[T]:
        return (e.item for e in self._entries)
