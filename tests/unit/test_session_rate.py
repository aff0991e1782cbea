"""The per-session rate limit: exact for small limits, batched against the shared store for large ones."""

from __future__ import annotations

import pytest

from exam_engine.errors import TooManyRequests
from exam_engine.kv import MemoryKV
from exam_engine.services.auth import SessionRateLimit


class CountingKV(MemoryKV):
    def __init__(self, monotonic=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(monotonic or Tick())
        self.calls = 0

    async def hit(self, key: str, window_s: int, amount: int = 1) -> int:
        self.calls += 1
        return await super().hit(key, window_s, amount)


class Tick:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def _first_refusal(limit: SessionRateLimit, th: str, tries: int) -> int | None:
    for n in range(1, tries + 1):
        try:
            await limit.check(th)
        except TooManyRequests:
            return n
    return None


async def test_a_small_limit_is_exact():
    kv = CountingKV()
    limit = SessionRateLimit(kv, per_minute=5, monotonic=Tick())
    assert await _first_refusal(limit, "a" * 64, 10) == 6
    assert kv.calls == 6  # every request counted in the store


async def test_the_default_limit_asks_the_store_once_per_batch_and_overshoots_by_less_than_a_batch():
    kv = CountingKV()
    limit = SessionRateLimit(kv, per_minute=1200, monotonic=Tick())
    refused_at = await _first_refusal(limit, "b" * 64, 1300)
    assert refused_at is not None and 1200 < refused_at <= 1200 + 12
    assert kv.calls <= 1300 // 12 + 1


async def test_two_processes_share_one_count():
    tick = Tick()
    kv = CountingKV(tick)
    one, two = SessionRateLimit(kv, 1200, tick), SessionRateLimit(kv, 1200, tick)
    for _ in range(600):
        await one.check("c" * 64)
        await two.check("c" * 64)
    with pytest.raises(TooManyRequests):
        for _ in range(2 * 12 + 1):  # at most one unflushed batch per process
            await one.check("c" * 64)
            await two.check("c" * 64)


async def test_a_new_minute_starts_a_new_count():
    tick = Tick()
    kv = CountingKV(tick)
    limit = SessionRateLimit(kv, per_minute=5, monotonic=tick)
    assert await _first_refusal(limit, "d" * 64, 10) == 6
    tick.t += 61
    assert await _first_refusal(limit, "d" * 64, 5) is None


async def test_the_request_is_served_when_the_store_is_down():
    class Down(MemoryKV):
        async def hit(self, key: str, window_s: int, amount: int = 1) -> int:
            raise ConnectionError("redis is down")

    limit = SessionRateLimit(Down(), per_minute=5, monotonic=Tick())
    assert await _first_refusal(limit, "e" * 64, 20) is None
