"""The one token bucket (translator.ratelimit), on a fake clock."""

from __future__ import annotations

import pytest

from translator.ratelimit import KeyedBuckets, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_starts_full_with_one_seconds_worth() -> None:
    clock = Clock()
    bucket = TokenBucket(3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_refills_at_the_rate_up_to_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(2, clock=clock)
    assert bucket.take() and bucket.take() and not bucket.take()
    clock.now += 0.5  # one token back
    assert bucket.take() and not bucket.take()
    clock.now += 60  # a long pause refills to the burst, no more
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_a_refused_take_takes_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(1, clock=clock)
    assert bucket.take()
    for _ in range(5):
        assert not bucket.take()
    clock.now += 1.0
    assert bucket.take()


def test_wait_time_says_when_the_next_token_is_there() -> None:
    clock = Clock()
    bucket = TokenBucket(4, clock=clock)
    assert bucket.wait_time() == 0
    for _ in range(4):
        bucket.take()
    assert bucket.wait_time() == pytest.approx(0.25)
    clock.now += 0.1
    assert bucket.wait_time() == pytest.approx(0.15)
    clock.now += 0.15
    assert bucket.wait_time() == 0 and bucket.take()


def test_explicit_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(1, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_a_rate_under_one_per_second_still_lets_messages_through() -> None:
    clock = Clock()
    bucket = TokenBucket(0.5, clock=clock)
    assert bucket.take() and not bucket.take()
    assert bucket.wait_time() == pytest.approx(2.0)
    clock.now += 2.0
    assert bucket.take()


def test_rate_zero_is_unlimited_and_negative_is_refused() -> None:
    bucket = TokenBucket(0, clock=Clock())
    assert all(bucket.take() for _ in range(1000)) and bucket.wait_time() == 0
    with pytest.raises(ValueError):
        TokenBucket(-1)


def test_keyed_buckets_keep_one_budget_per_key() -> None:
    clock = Clock()
    buckets = KeyedBuckets(2, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [True, True, False]
    assert [buckets.take("b") for _ in range(3)] == [True, True, False]  # b's budget is its own
    clock.now += 0.5
    assert buckets.take("a") and buckets.take("b") and not buckets.take("a")
