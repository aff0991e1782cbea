"""The resources of one process: the engine, the shared store, caches and throttles, in one ``Services``.

Built once by :func:`build_services` (the server, the command line, tests); the web application on
top of them is wired by :func:`exam_engine.app.build_app`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from question_bank.api import PublishedItems

from .clock import Clock, SystemClock
from .config import Settings
from .db import create_engine
from .kv import KeyValue, MemoryKV, RedisKV
from .services import receipts
from .services.auth import LoginThrottle, SessionCache, SessionRateLimit
from .services.fast_save import FastSaves, fast_saves_for

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    kv: KeyValue
    throttle: LoginThrottle
    bank_cache: PublishedItems = field(default_factory=PublishedItems)
    sessions: SessionCache = field(default_factory=SessionCache)
    session_rate: SessionRateLimit | None = None
    # The proctoring runtime (keyring, evidence store, analysis queue), built at first use
    # by exam_engine.services.proctoring.runtime_of.
    proctor: Any = None
    # The autosave's one-statement path (PostgreSQL only); None: every save takes the general path.
    fast_saves: FastSaves | None = None

    async def close(self) -> None:
        if self.proctor is not None:
            await self.proctor.close()
        if self.fast_saves is not None:
            await self.fast_saves.close()
        await self.kv.close()
        await self.engine.dispose()


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    # Every wait a request can meet in the database is bounded: for a pooled connection and for a lock.
    engine = create_engine(settings.database_url, pool_timeout=settings.db_wait_s, lock_timeout_s=settings.db_wait_s)
    receipts.bind(engine, settings)  # submit receipts are signed with this installation's key
    kv: KeyValue = RedisKV(settings.redis_url, prefix=settings.redis_prefix) if settings.redis_url else MemoryKV()
    return Services(
        settings=settings,
        clock=clock or SystemClock(),
        engine=engine,
        kv=kv,
        throttle=LoginThrottle(
            kv, settings.login_max_failures, settings.login_window_s, successes_per_min=settings.login_successes_per_min
        ),
        sessions=SessionCache(settings.session_cache_s, settings.session_cache_unsynced_s),
        session_rate=SessionRateLimit(kv, settings.session_rate_per_min),
        fast_saves=fast_saves_for(
            settings.database_url,
            size=settings.fast_save_pool,
            timeout_s=settings.db_wait_s,
            groups=settings.autosave_groups,
            group_max=settings.autosave_group_max,
            queue_max=settings.autosave_queue,
        ),
    )
