"""Session revocations to every process, over Redis pub/sub.

Each process caches resolved sessions (:class:`~exam_engine.services.auth.SessionCache`).
An eviction made in one process — sign-out, a password change or reset, a new language —
is published here on ``<prefix>sessions:evict``; every process subscribed applies it to
its own cache. While the subscription is live the cache may keep a session for its long
TTL (60 s: on the autosave path that removed one session query in four); while it is not
(starting, Redis away, reconnecting) the cache is cleared and falls back to its short
TTL, since announcements may have been missed.

Publishing is best effort with a few retries: the database stays the truth, and a missed
announcement is bounded by the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from .auth import SessionCache

log = logging.getLogger(__name__)


class SessionBus:
    def __init__(self, url: str, prefix: str, cache: SessionCache, *, retry_s: float = 1.0) -> None:
        import redis.asyncio as redis

        # health_check_interval: an idle subscription is PINGed, so a dead connection is noticed.
        self._redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=3, health_check_interval=5)
        self.channel = f"{prefix}sessions:evict"
        self.cache = cache
        self.retry_s = retry_s
        self._outgoing: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.cache.on_evict = self._outgoing.put_nowait
        self._tasks = [
            asyncio.create_task(self._listen(), name="session-bus-listen"),
            asyncio.create_task(self._publish_forever(), name="session-bus-publish"),
        ]

    async def publish(self, message: str, attempts: int = 5) -> bool:
        """Announce one eviction; True once Redis took it."""
        for attempt in range(attempts):
            try:
                await self._redis.publish(self.channel, message)
                return True
            except Exception as exc:  # noqa: BLE001 - Redis away: retry, then give up (bounded by the TTL)
                if attempt == attempts - 1:
                    log.error("could not announce session eviction %s to other processes: %s", message[:40], exc)
                    return False
                await asyncio.sleep(self.retry_s)
        return False

    async def _publish_forever(self) -> None:
        while True:
            await self.publish(await self._outgoing.get())

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message: Any = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self.cache.set_synced(True)  # from now on nothing is missed: long TTL
                        log.info("session cache synced over %s", self.channel)
                    elif message["type"] == "message":
                        data = message["data"]
                        self.cache.forget(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect; meanwhile the cache trusts nothing old
                if self.cache.synced:
                    log.warning("session revocation bus lost (%s); short session cache until it is back", exc)
                self.cache.set_synced(False)
                await asyncio.sleep(self.retry_s)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        self.cache.on_evict = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # What is still queued goes out now: a sign-out just before shutdown still reaches the others.
        while not self._outgoing.empty():
            await self.publish(self._outgoing.get_nowait(), attempts=1)
        self.cache.set_synced(False)
        await self._redis.aclose()
