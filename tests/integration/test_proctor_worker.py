"""Analysis workers on a real Redis Stream: one consumer group shares the frames, a job is
acknowledged only after its findings are committed, and a dead worker's frames are taken
over by another. (PostgreSQL + Redis only: that is the deployment that runs workers.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from exam_engine.services.proctoring import runtime_of
from proctor.tables import proctor_attempts
from proctor.worker import StreamWorker
from tests.conftest import SECRET
from tests.integration.proctor_world import frame_empty, frame_person, proctored_attempt

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _worker(services, client, name: str, *, claim_idle_ms: int = 60_000, batch: int = 8) -> StreamWorker:
    runtime = runtime_of(services)
    return StreamWorker(
        client,
        runtime.analyser,
        stream=runtime.config.stream,
        group=runtime.config.group,
        consumer=name,
        claim_idle_ms=claim_idle_ms,
        batch=batch,
    )


async def _analysed(services, attempt_id: str) -> int:
    async with services.engine.connect() as conn:
        return (
            await conn.execute(
                select(proctor_attempts.c.frames_analysed).where(proctor_attempts.c.attempt_id == UUID(attempt_id))
            )
        ).scalar_one()


async def test_two_workers_in_the_group_share_the_frames_and_leave_nothing_pending(services):
    world = await proctored_attempt(services)
    client = aioredis.Redis.from_url(services.settings.redis_url)
    try:
        a, b = _worker(services, client, "a", batch=2), _worker(services, client, "b", batch=2)
        await a.ensure_group()
        for i in range(4):
            await world.frame(frame_person(i) if i % 2 else frame_empty(i))
        assert await a.read_new(block_ms=100) == 2 and await b.read_new(block_ms=100) == 2
        assert (a.processed, b.processed) == (2, 2) and (a.analysed, b.analysed) == (2, 2)
        pending = await client.xpending(runtime_of(services).config.stream, runtime_of(services).config.group)
        assert pending["pending"] == 0
        assert await _analysed(services, world.attempt_id) == 4
    finally:
        await client.aclose()
        await world.close()


async def test_a_ready_worker_is_listed_as_a_consumer_while_the_stream_is_empty(services):
    client = aioredis.Redis.from_url(services.settings.redis_url)
    config = runtime_of(services).config
    try:
        worker = _worker(services, client, "idle")
        await worker.ensure_group()
        assert await worker.read_new(block_ms=50) == 0
        consumers = await client.xinfo_consumers(config.stream, config.group)
        assert [(c["name"], c["pending"]) for c in consumers] == [(b"idle", 0)]
        await worker.ensure_group()  # again (a restart, a recreated group): still one consumer
        assert len(await client.xinfo_consumers(config.stream, config.group)) == 1
    finally:
        await client.aclose()


async def test_frames_held_by_a_worker_that_died_are_claimed_and_analysed_by_another(services):
    world = await proctored_attempt(services)
    client = aioredis.Redis.from_url(services.settings.redis_url)
    config = runtime_of(services).config
    try:
        survivor = _worker(services, client, "survivor", claim_idle_ms=300)
        await survivor.ensure_group()
        for i in range(3):
            await world.frame(frame_person(i))
        # The doomed worker reads the frames and dies before acknowledging any.
        taken = await client.xreadgroup(config.group, "doomed", {config.stream: ">"}, count=10)
        assert len(taken[0][1]) == 3
        assert await survivor.run_round(block_ms=50) == 0  # not idle long enough yet: not stolen
        await asyncio.sleep(0.4)
        assert await survivor.run_round(block_ms=50) == 3
        assert (await client.xpending(config.stream, config.group))["pending"] == 0
        assert await _analysed(services, world.attempt_id) == 3
        # A late re-delivery of the same frames stores nothing twice.
        for _id, fields in taken[0][1]:
            await client.xadd(config.stream, fields)
        assert await survivor.run_round(block_ms=50) == 3
        assert await _analysed(services, world.attempt_id) == 3
    finally:
        await client.aclose()
        await world.close()


async def test_the_proctor_worker_command_analyses_frames_from_the_stream(services):
    world = await proctored_attempt(services)
    env = {
        **os.environ,
        "EXAM_DATABASE_URL": services.settings.database_url,
        "EXAM_DATA_DIR": str(services.settings.data_dir),
        "EXAM_REDIS_URL": services.settings.redis_url,
        "EXAM_REDIS_PREFIX": services.settings.redis_prefix,
        "EXAM_SECRET_KEY": SECRET,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "exam_engine.cli", "proctor-worker", "--name", "cli-worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for i in range(2):
            await world.frame(frame_person(i))
        for _ in range(300):
            if await _analysed(services, world.attempt_id) == 2 or proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert await _analysed(services, world.attempt_id) == 2, proc.stderr.read().decode() if proc.poll() else ""
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        await world.close()


async def test_frames_whose_jobs_redis_lost_are_still_analysed(services):
    world = await proctored_attempt(services)
    client = aioredis.Redis.from_url(services.settings.redis_url)
    try:
        worker = _worker(services, client, "survivor")
        await worker.ensure_group()
        for i in range(2):
            await world.frame(frame_person(i))
        # Redis restarts without persistence: the stream, its group and the queued jobs are gone.
        await client.delete(runtime_of(services).config.stream)
        assert await _analysed(services, world.attempt_id) == 0
        # The cutoff is the caller's `now`: an hour earlier, these items are not yet overdue.
        assert await worker.rescue_lost(services.clock.now() - timedelta(hours=1), older_than_s=0) == 0
        assert await _analysed(services, world.attempt_id) == 0
        assert await worker.rescue_lost(services.clock.advance(1), older_than_s=0) == 2  # a second later
        assert await _analysed(services, world.attempt_id) == 2
        # And the worker's loop recreates the group instead of failing forever.
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop, rescue_every_s=3600))
        for _ in range(50):
            await asyncio.sleep(0.05)
            if await _stream_exists(client, services):
                break
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        assert await _stream_exists(client, services)
    finally:
        await client.aclose()
        await world.close()


async def _stream_exists(client, services) -> bool:  # type: ignore[no-untyped-def]
    return bool(await client.exists(runtime_of(services).config.stream))
