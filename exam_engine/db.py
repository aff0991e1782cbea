"""Database engine and column types shared by every package's tables.

PostgreSQL (psycopg 3) in production and tests; SQLite (aiosqlite) as the
embedded default. SQLite gets one connection, so writes are serialised in the
pool instead of failing with "database is locked", and it runs in WAL mode with
``synchronous=FULL`` so an acknowledged answer survives a crash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.types import TypeDecorator

# One naming convention for constraints so migrations are deterministic on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on PostgreSQL and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def lock_timeout_option(seconds: float) -> str:
    """libpq ``options`` bounding every wait for a row or table lock on the connection."""
    return f"-c lock_timeout={max(1, int(seconds * 1000))}"


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    pool_timeout: float = 30.0,
    lock_timeout_s: float | None = None,
) -> AsyncEngine:
    """``pool_timeout``: how long a request waits for a pooled connection before SQLAlchemy's
    ``TimeoutError``; ``lock_timeout_s`` (PostgreSQL): how long a statement waits for a lock
    before ``LockNotAvailable``. The HTTP layer answers both with a 503 and ``Retry-After``
    (never a 500). SQLite has one connection: its lock is the pool."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=pool_timeout)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=pool_timeout,
        connect_args={"options": lock_timeout_option(lock_timeout_s)} if lock_timeout_s else {},
    )
