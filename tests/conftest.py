"""Test fixtures: real PostgreSQL and Redis, SQLite for the embedded default.

PostgreSQL and Redis are required. When either is not answering, the tests that
need it fail with a message saying so; nothing is skipped.

``EXAM_TEST_PG_URL`` (default ``postgresql://root@127.0.0.1:5432/test``) names a
database the tests may connect to in order to create their own throw-away
database; ``EXAM_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy import text

from exam_engine.bootstrap import Services, build_services
from exam_engine.clock import FakeClock
from exam_engine.config import load_settings
from exam_engine.migrate import upgrade
from exam_engine.schema import ALL_METADATA

PG_ADMIN_URL = os.environ.get("EXAM_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("EXAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Each test run keeps its Redis keys apart, so runs on one machine cannot wipe each other's.
REDIS_PREFIX = f"exam-test-{os.getpid()}-{uuid.uuid4().hex[:6]}:"
SECRET = "test-secret-key-0123456789-abcdefghijklmnop"


def _async_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def _swap_db(url: str, name: str) -> str:
    base = url.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once, dropped at the end."""
    import psycopg

    name = f"exam_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL} and is not answering: {exc}", pytrace=False)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _swap_db(PG_ADMIN_URL, name)
    from concurrent.futures import ThreadPoolExecutor

    from exam_engine.db import create_engine

    async def migrate() -> None:
        engine = create_engine(_async_url(url))
        await upgrade(engine)
        await engine.dispose()

    # Fixtures may be set up while the test loop runs, so migrate on a loop of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate()).result()
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL} and is not answering: {exc}", pytrace=False)
    finally:
        client.close()
    return REDIS_URL


ALL_TABLES = [t.name for md in ALL_METADATA for t in md.sorted_tables]


async def _truncate(services: Services) -> None:
    async with services.engine.begin() as conn:
        await conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in ALL_TABLES) + " RESTART IDENTITY CASCADE"))


def settings_env(database_url: str, data_dir: str, redis: str | None) -> dict[str, str]:
    env = {
        "EXAM_DATABASE_URL": database_url,
        "EXAM_DATA_DIR": data_dir,
        "EXAM_SECRET_KEY": SECRET,
        "EXAM_SWEEP_INTERVAL_S": "0.2",
        "EXAM_NETWORK_GRACE_S": "1",
    }
    if redis:
        env["EXAM_REDIS_URL"] = redis
        env["EXAM_REDIS_PREFIX"] = REDIS_PREFIX
    return env


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def services(backend: str, clock: FakeClock, tmp_path, request: pytest.FixtureRequest) -> AsyncIterator[Services]:
    """Services on a clean, migrated database of the parametrised backend."""
    if backend == "postgres":
        url = request.getfixturevalue("pg_database")
        redis = request.getfixturevalue("redis_url")
        settings = load_settings(settings_env(url, str(tmp_path), redis))
        svc = build_services(settings, clock=clock)
        await _truncate(svc)
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(redis)
        async for key in r.scan_iter(match=REDIS_PREFIX + "*", count=1000):
            await r.delete(key)
        await r.aclose()
    else:
        settings = load_settings(settings_env(f"sqlite:///{tmp_path / 'exam.db'}", str(tmp_path), None))
        svc = build_services(settings, clock=clock)
        await upgrade(svc.engine)
    yield svc
    await svc.close()
    if backend == "postgres":  # some keys live for days (a sign-in's known computer): leave nothing behind
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
        async for key in r.scan_iter(match=REDIS_PREFIX + "*", count=1000):
            await r.delete(key)
        await r.aclose()
