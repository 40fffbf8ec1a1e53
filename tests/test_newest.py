"""The one "newest wins" rule (translator.newest): a keyed item replaces the waiting one in its place."""

from __future__ import annotations

import asyncio

import pytest

from translator.newest import NewestQueue
from translator.service.sessions import Mailbox, SessionHub, partial_key


def drain(queue: NewestQueue[str]) -> list[str]:
    return [queue.popleft() for _ in range(len(queue))]


def test_fifo_without_keys() -> None:
    queue: NewestQueue[str] = NewestQueue()
    for item in "abc":
        assert queue.put(item)
    assert len(queue) == 3 and list(queue) == ["a", "b", "c"] and queue.peek() == "a"
    assert drain(queue) == ["a", "b", "c"] and not queue


def test_a_newer_item_replaces_the_waiting_one_in_its_place() -> None:
    queue: NewestQueue[str] = NewestQueue()
    queue.put("p1 v1", key=1)
    queue.put("error")
    queue.put("p2 v1", key=2)
    queue.put("p1 v2", key=1)
    queue.put("p2 v2", key=2)
    assert list(queue) == ["p1 v2", "error", "p2 v2"]
    assert queue.replaced == 2 and queue.dropped == 0


def test_a_key_is_free_again_once_its_item_is_taken() -> None:
    queue: NewestQueue[str] = NewestQueue()
    queue.put("p1 v1", key=1)
    assert queue.popleft() == "p1 v1"
    queue.put("final")
    queue.put("p1 v2", key=1)
    assert drain(queue) == ["final", "p1 v2"] and queue.replaced == 0


def test_pop_sent_keeps_a_replacement_that_came_while_sending() -> None:
    queue: NewestQueue[str] = NewestQueue()
    queue.put("p1 v1", key=1)
    queue.put("final 1")
    sending = queue.peek()
    queue.put("p1 v2", key=1)  # arrives while "p1 v1" is being written
    assert not queue.pop_sent(sending)
    assert queue.peek() == "p1 v2" and queue.pop_sent("p1 v2")
    assert drain(queue) == ["final 1"]
    assert not queue.pop_sent("anything")


def test_a_full_queue_drops_its_oldest_keyed_item_first() -> None:
    queue: NewestQueue[str] = NewestQueue(maxlen=3)
    queue.put("final 1")
    queue.put("p2", key=2)
    queue.put("final 2")
    assert queue.put("p3", key=3)  # room made by the older partial
    assert list(queue) == ["final 1", "final 2", "p3"]
    assert queue.put("p3 v2", key=3)  # a replacement needs no room
    assert queue.put("final 3")  # the partial makes room again
    assert list(queue) == ["final 1", "final 2", "final 3"] and queue.dropped == 2


def test_a_full_queue_of_unkeyed_items() -> None:
    queue: NewestQueue[str] = NewestQueue(maxlen=2)
    queue.put("a")
    queue.put("b")
    assert not queue.put("p", key=1)  # a keyed newcomer is dropped
    assert queue.put("c")  # any other drops the oldest
    assert list(queue) == ["b", "c"] and queue.dropped == 2


def test_clear_and_bad_bound() -> None:
    queue: NewestQueue[str] = NewestQueue()
    queue.put("p", key=1)
    queue.clear()
    assert not queue
    queue.put("q", key=1)
    assert list(queue) == ["q"] and queue.replaced == 0
    with pytest.raises(IndexError):
        NewestQueue[str]().peek()
    with pytest.raises(ValueError):
        NewestQueue[str](maxlen=0)


def test_partial_keys() -> None:
    partial = {"type": "partial", "segment": 3}
    assert partial_key(7, partial) == (7, 3)
    assert partial_key(7, {"type": "final", "segment": 3}) is None
    # A partial of an unknown stream is never taken for another's, but still goes first when full.
    assert partial_key(None, partial) != partial_key(None, partial)


async def test_mailbox_waits_for_an_item() -> None:
    mailbox: Mailbox[str] = Mailbox(4)
    getter = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    mailbox.put("x")
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_a_viewer_that_is_behind_gets_the_newest_partial_of_each_stream() -> None:
    hub = SessionHub()
    viewer = hub.watch("talk")
    hub.publish("talk", {"type": "partial", "segment": 0, "text": "A"}, stream=1)
    hub.publish("talk", {"type": "partial", "segment": 0, "text": "Ein"}, stream=2)  # another speaker
    hub.publish("talk", {"type": "partial", "segment": 0, "text": "A man"}, stream=1)
    hub.publish("talk", {"type": "final", "segment": 0, "text": "A man walks."}, stream=1)
    seen = [(await viewer.get())["text"] for _ in range(len(viewer))]
    assert seen == ["A man", "Ein", "A man walks."]
    hub.unwatch("talk", viewer)
    hub.publish("talk", {"type": "final", "segment": 1, "text": "x"}, stream=1)
    assert not viewer
