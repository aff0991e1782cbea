"""Shared short-lived state (rate limits, throttles): Redis, or memory for one process.

PostgreSQL stays the source of truth; everything kept here can be lost and
rebuilt (losing Redis costs at most a re-login or a reset counter).
"""

from __future__ import annotations

import time
from typing import Protocol


class KeyValue(Protocol):
    async def hit(self, key: str, window_s: int, amount: int = 1, *, sliding: bool = False) -> int:
        """Count ``amount`` events in a fixed window (it starts at the first); return the count so far.

        ``sliding``: the count lives ``window_s`` after the *last* event instead (a failure counter
        that must not reset while failures go on)."""

    async def count(self, key: str) -> int: ...

    async def block(self, key: str, seconds: float) -> None:
        """Set ``key`` for ``seconds`` (a delay, a mark), replacing what was there."""

    async def peek(self, keys: list[str]) -> list[tuple[int, float]]:
        """For each key its count (0 if absent) and the seconds it still lives (0.0 if absent), in one trip."""

    async def reset(self, key: str) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryKV:
    """In-process twin of :class:`RedisKV` for the single-process embedded default."""

    def __init__(self, monotonic: callable = time.monotonic) -> None:  # type: ignore[valid-type]
        self._data: dict[str, tuple[int, float]] = {}
        self._monotonic = monotonic

    def _live(self, key: str) -> tuple[int, float] | None:
        entry = self._data.get(key)
        if entry and entry[1] <= self._monotonic():
            del self._data[key]
            return None
        return entry

    async def hit(self, key: str, window_s: int, amount: int = 1, *, sliding: bool = False) -> int:
        entry = self._live(key)
        if entry is None or sliding:
            entry = (entry[0] if entry else 0, self._monotonic() + window_s)
        entry = (entry[0] + amount, entry[1])
        self._data[key] = entry
        if len(self._data) > 100_000:
            for k in [k for k, (_, exp) in self._data.items() if exp <= self._monotonic()]:
                del self._data[k]
        return entry[0]

    async def count(self, key: str) -> int:
        entry = self._live(key)
        return entry[0] if entry else 0

    async def block(self, key: str, seconds: float) -> None:
        self._data[key] = (1, self._monotonic() + seconds)

    async def peek(self, keys: list[str]) -> list[tuple[int, float]]:
        now = self._monotonic()
        out = []
        for key in keys:
            entry = self._live(key)
            out.append((entry[0], entry[1] - now) if entry else (0, 0.0))
        return out

    async def reset(self, key: str) -> None:
        self._data.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()


_HIT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) or ARGV[3] == '1' then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""


_PEEK = """
local out = {}
for i, key in ipairs(KEYS) do
  out[2 * i - 1] = tonumber(redis.call('GET', key) or '0') or 0
  out[2 * i] = redis.call('PTTL', key)
end
return out
"""


class RedisKV:
    def __init__(self, url: str, prefix: str = "exam:") -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._hit = self._redis.register_script(_HIT)
        self._peek = self._redis.register_script(_PEEK)

    async def hit(self, key: str, window_s: int, amount: int = 1, *, sliding: bool = False) -> int:
        # One atomic script, one round trip (a MULTI/EXEC pipeline costs four commands).
        return int(await self._hit(keys=[self._prefix + key], args=[amount, window_s, "1" if sliding else "0"]))

    async def count(self, key: str) -> int:
        value = await self._redis.get(self._prefix + key)
        return int(value) if value else 0

    async def block(self, key: str, seconds: float) -> None:
        await self._redis.set(self._prefix + key, 1, px=max(1, int(seconds * 1000)))

    async def peek(self, keys: list[str]) -> list[tuple[int, float]]:
        flat = await self._peek(keys=[self._prefix + k for k in keys])
        return [(int(flat[i]), max(0, int(flat[i + 1])) / 1000) for i in range(0, len(flat), 2)]

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()
