"""``exam-engine proctor-worker``: one member of the Redis consumer group of analysers.

Each round first takes over jobs another worker left pending for longer than
``claim_idle_ms`` (``XAUTOCLAIM``: that worker crashed or hangs), then reads new
ones (``XREADGROUP … >``). A job is acknowledged (``XACK``) only after its result
is committed, so a crash at any point re-delivers it; storing is idempotent.
Scale out by starting more workers with different ``--name``\\ s.

A worker registers itself as a consumer of the group as soon as it is ready (``XGROUP
CREATECONSUMER``): Redis lists a consumer only once it has read something, so an idle worker
on an empty stream would otherwise not appear in ``XINFO CONSUMERS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from proctor.jobs import run_job
from proctor.queue import Analyser, Job

log = logging.getLogger(__name__)


async def run_in_thread(
    job_type: str, plaintext: bytes, enrolment: list[float] | None, check: bool, thorough: bool = False
) -> dict:
    """A worker process analyses one job at a time; a thread keeps its event loop
    (Redis, database) responsive while OpenCV and dlib work."""
    return await asyncio.to_thread(run_job, job_type, plaintext, enrolment, check, thorough)


class StreamWorker:
    def __init__(
        self,
        redis: Any,
        analyser: Analyser,
        *,
        stream: str,
        group: str,
        consumer: str,
        claim_idle_ms: int,
        batch: int = 8,
        concurrency: int = 2,
        rescue_after_s: float = 60.0,
    ) -> None:
        self.redis = redis
        self.analyser = analyser
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self.batch = batch
        # Jobs of a batch in flight at once: one is analysed while another reads or stores
        # (a job is mostly CPU in a thread, with database round trips before and after).
        self.concurrency = max(1, concurrency)
        # Items unanalysed in the database for longer than this are analysed outside the queue.
        self.rescue_after_s = rescue_after_s
        self.processed = 0
        """Jobs handled (acknowledged), including those whose item was already analysed."""
        self.analysed = 0
        """Findings this worker stored (from the queue or rescued)."""

    async def ensure_group(self) -> None:
        import redis.exceptions

        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        # Listed in XINFO CONSUMERS from now on, also while it waits on an empty stream.
        await self.redis.xgroup_createconsumer(self.stream, self.group, self.consumer)

    async def _handle(self, message_id: Any, fields: dict[Any, Any]) -> None:
        try:
            job = Job.decode(fields)
        except (KeyError, ValueError):
            log.error("dropping malformed job %r", fields)
            await self.redis.xack(self.stream, self.group, message_id)
            return
        if await self.analyser.process(job, run_in_thread):
            self.analysed += 1
        await self.redis.xack(self.stream, self.group, message_id)
        self.processed += 1

    async def _handle_all(self, messages: list[tuple[Any, dict[Any, Any]]]) -> None:
        """Handle a batch, ``concurrency`` at a time; a failed job stays pending (re-claimed later)."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(message_id: Any, fields: dict[Any, Any]) -> None:
            async with gate:
                await self._handle(message_id, fields)

        results = await asyncio.gather(*(one(m, f) for m, f in messages), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]

    async def claim_stale(self) -> int:
        """Take over and process jobs idle in another consumer's pending list."""
        handled, cursor = 0, "0-0"
        while True:
            reply = await self.redis.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms, start_id=cursor, count=self.batch
            )
            cursor, messages = reply[0], reply[1]
            live = [(message_id, fields) for message_id, fields in messages if fields]
            for message_id, fields in messages:
                if not fields:  # a message trimmed from the stream comes back empty
                    await self.redis.xack(self.stream, self.group, message_id)
            await self._handle_all(live)
            handled += len(live)
            if cursor in (b"0-0", "0-0") or not messages:
                return handled

    async def read_new(self, block_ms: int = 1000) -> int:
        reply = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=block_ms
        )
        handled = 0
        for _stream, messages in reply or []:
            await self._handle_all(list(messages))
            handled += len(messages)
        return handled

    async def run_round(self, block_ms: int = 1000) -> int:
        return await self.claim_stale() + await self.read_new(block_ms)

    async def rescue_lost(self, now: datetime, older_than_s: float | None = None) -> int:
        """Analyse items the database holds unanalysed for longer than any queue takes: those
        received before ``now`` minus ``older_than_s`` (default ``rescue_after_s``).

        Redis keeps nothing on disk: if it restarts, queued jobs are gone. The evidence and
        the fact that it is unanalysed are in the database, so nothing is lost, only late.
        """
        from .queue import pending_jobs

        age = self.rescue_after_s if older_than_s is None else older_than_s
        cutoff = now - timedelta(seconds=age)
        done = 0
        for job in await pending_jobs(self.analyser.engine, received_before=cutoff, limit=200):
            if await self.analyser.process(job, run_in_thread):
                done += 1
        self.analysed += done
        if done:
            log.warning("analysed %d items whose queued jobs were lost (Redis restarted?)", done)
        return done

    async def run_forever(self, stop: asyncio.Event, rescue_every_s: float = 30.0) -> None:
        import redis.exceptions

        await self.ensure_group()
        log.info("proctor worker %s reading %s as group %s", self.consumer, self.stream, self.group)
        next_rescue = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if loop.time() >= next_rescue:
                    next_rescue = loop.time() + rescue_every_s
                    await self.rescue_lost(datetime.now(UTC))  # the loop reads the clock, the rule takes it
                await self.run_round()
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    log.exception("analysis round failed; retrying")
                    await asyncio.sleep(1)
                    continue
                log.warning("the stream or its consumer group is gone (Redis restarted?); recreating it")
                await self.ensure_group()
                next_rescue = 0.0
            except Exception:  # noqa: BLE001 - keep serving; the job stays pending and is re-claimed
                log.exception("analysis round failed; retrying")
                await asyncio.sleep(1)
        log.info(
            "proctor worker %s stopping: %d jobs handled, %d frames analysed, %.1f s CPU in all",
            self.consumer,
            self.processed,
            self.analysed,
            time.process_time(),
        )
