"""Analysis off the event loop: an in-process pool, or a Redis Stream and its workers.

* Embedded default (:class:`LocalQueue`): an ``asyncio.Queue`` feeding a
  ``ProcessPoolExecutor`` whose processes load the models once (``initialise_worker``).
  Losing the process loses only queued job ids; :func:`pending_jobs` finds the
  unanalysed items again at the next start.
* Redis (:class:`StreamQueue` + :class:`StreamWorker`): the server ``XADD``\\ s a job
  id; ``exam-engine proctor-worker`` processes read it with ``XREADGROUP`` in one
  consumer group, commit the findings, and only then ``XACK``. A worker that dies
  holding jobs leaves them pending; any other worker takes them over with
  ``XAUTOCLAIM`` once they have been idle for ``claim_idle_ms``.

Storing a result is idempotent (the item's ``analysed`` mark is set in the same
transaction), so a job delivered twice is analysed twice but stored once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from proctor.findings import record_result
from proctor.settings import ProctorSettings
from proctor.store import EvidenceStore, ItemKind
from proctor.tables import evidence_items, proctor_attempts, proctor_signals

log = logging.getLogger(__name__)

ANALYSED_KINDS = (ItemKind.FRAME, ItemKind.SCREEN, ItemKind.ROOMSCAN, ItemKind.ENROLMENT)
Runner = Callable[[str, bytes, "list[float] | None", bool, bool], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Job:
    attempt_id: uuid.UUID
    seq: int

    def encode(self) -> dict[str, str]:
        return {"attempt_id": str(self.attempt_id), "seq": str(self.seq)}

    @classmethod
    def decode(cls, fields: dict[Any, Any]) -> Job:
        get = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        return cls(uuid.UUID(get["attempt_id"]), int(get["seq"]))


# After a frame that found one of these, the next frame is checked for identity (and looked at
# in full resolution): someone may have sat down, and a "different person" needs a second frame.
_ABSENT = frozenset(
    {"no_face", "several_faces", "camera_covered", "camera_dark", "identity_mismatch", "identity_unconfirmed"}
)


def frame_passes(
    client_seq: int, last_found: Any, enrolled: bool, *, identity_every_n: int, thorough_every_n: int
) -> tuple[bool, bool]:
    """(check identity, full-resolution pass) for the ``client_seq``-th frame of an attempt
    (1-based), given what the attempt's previous analysed frame found (``last_found``).

    Identity: every ``identity_every_n``-th frame and the frame after one that found someone
    missing, several people, a covered or dark camera or a different person. The full pass: on
    every identity frame, on the frame after one that found any of those (a second person once
    seen stays looked at closely), and on every ``thorough_every_n``-th frame (0: never by
    schedule) — so a second face the ordinary pass misses is reported within that many frames.
    """
    event = bool(_ABSENT.intersection(last_found or ()))
    check = enrolled and ((client_seq - 1) % max(1, identity_every_n) == 0 or event)
    scheduled = thorough_every_n > 0 and (client_seq - 1) % thorough_every_n == 0
    return check, check or event or scheduled


# What the attempt's latest analysed frame before this item found. (A swap — the student leaves,
# someone else sits down — is checked at once rather than at the next scheduled identity frame.)
_s = proctor_signals.c
_LAST_FOUND = (
    select(_s.found)
    .where(_s.attempt_id == evidence_items.c.attempt_id, _s.source == "frame", _s.evidence_seq < evidence_items.c.seq)
    .order_by(_s.at_s.desc(), _s.evidence_seq.desc())
    .limit(1)
    .correlate(evidence_items)
    .scalar_subquery()
)

# An item with what its analysis needs of its attempt, in one round trip.
_INPUTS = (
    select(
        evidence_items.c.kind,
        evidence_items.c.client_seq,
        evidence_items.c.received_at,
        evidence_items.c.analysed,
        proctor_attempts.c.wrapped_key,
        proctor_attempts.c.enrolment_descriptor,
        _LAST_FOUND.label("last_found"),
    )
    .join(proctor_attempts, proctor_attempts.c.attempt_id == evidence_items.c.attempt_id)
    .where(evidence_items.c.attempt_id == bindparam("attempt_id"), evidence_items.c.seq == bindparam("seq"))
)


class Analyser:
    """Loads a job's inputs, runs the CPU part through ``run``, stores the result."""

    def __init__(
        self,
        engine: AsyncEngine,
        store: EvidenceStore,
        *,
        identity_every_n: int = 20,
        settings: ProctorSettings | None = None,
    ) -> None:
        # Called with the seconds from an item's arrival to its stored findings (the server's metrics).
        self.observe_lag: Callable[[float], None] | None = None
        self.engine = engine
        self.store = store
        self.identity_every_n = max(1, identity_every_n)
        self.settings = settings or ProctorSettings()

    async def _inputs(self, job: Job) -> tuple[tuple[str, bytes, list[float] | None, bool, bool], datetime] | None:
        # One read, no transaction to open or roll back: a worker does this for every frame.
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            row = (await conn.execute(_INPUTS, {"attempt_id": job.attempt_id, "seq": job.seq})).first()
        if row is None or row.analysed:
            return None
        data_key = self.store.unwrap(job.attempt_id, row.wrapped_key)
        plaintext = await self.store.open_item(data_key, job.attempt_id, job.seq)
        sealed, enrolment, check, thorough = row.enrolment_descriptor, None, False, False
        if row.kind == ItemKind.FRAME:
            check, thorough = frame_passes(
                row.client_seq,
                row.last_found,
                sealed is not None,
                identity_every_n=self.identity_every_n,
                thorough_every_n=self.settings.thorough_every_n_frames,
            )
            if check:
                enrolment = json.loads(
                    self.store.open_value(data_key, job.attempt_id, self.store.descriptor_slot, sealed)
                )
        return (row.kind, plaintext, enrolment, check, thorough), row.received_at

    async def process(self, job: Job, run: Runner) -> bool:
        """True when a result was stored now (False: gone, or already analysed)."""
        found = await self._inputs(job)
        if found is None:
            return False
        inputs, received_at = found
        result = await run(*inputs)
        async with self.engine.begin() as conn:
            stored = await record_result(conn, self.store, job.attempt_id, job.seq, result, self.settings)
        if stored and self.observe_lag is not None:
            self.observe_lag((datetime.now(UTC) - received_at).total_seconds())
        return stored


async def pending_jobs(
    engine: AsyncEngine, *, received_before: datetime | None = None, limit: int | None = None
) -> list[Job]:
    """Items stored but never analysed (the server stopped, Redis was down)."""
    stmt = (
        select(evidence_items.c.attempt_id, evidence_items.c.seq)
        .where(evidence_items.c.analysed.is_(False), evidence_items.c.kind.in_([k.value for k in ANALYSED_KINDS]))
        .order_by(evidence_items.c.id)
    )
    if received_before is not None:
        stmt = stmt.where(evidence_items.c.received_at < received_before)
    if limit is not None:
        stmt = stmt.limit(limit)
    async with engine.connect() as conn:
        return [Job(r.attempt_id, r.seq) for r in await conn.execute(stmt)]


class AnalysisQueue(Protocol):
    async def submit(self, job: Job) -> None: ...

    async def length(self) -> int | None: ...

    async def close(self) -> None: ...


class LocalQueue:
    """The embedded default: a queue in memory, a pool of warmed processes."""

    def __init__(self, analyser: Analyser, workers: int) -> None:
        self.analyser = analyser
        self.workers = max(1, workers)
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._pool: ProcessPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _start(self) -> None:
        # "spawn": a forked copy of a server with running threads (database driver,
        # OpenCV's pool) can deadlock; a fresh interpreter cannot.
        from proctor.jobs import initialise_worker  # numpy and OpenCV load with the first frame, not at start

        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=initialise_worker
        )
        self._tasks = [asyncio.create_task(self._consume(), name=f"proctor-analysis-{i}") for i in range(self.workers)]

    async def _run(
        self, job_type: str, plaintext: bytes, enrolment: list[float] | None, check: bool, thorough: bool
    ) -> dict:
        from proctor.jobs import run_job

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, run_job, job_type, plaintext, enrolment, check, thorough)

    async def _consume(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self.analyser.process(job, self._run)
            except Exception:  # noqa: BLE001 - one bad job must not stop the consumer
                log.exception("analysis of %s item %s failed; it is retried at the next start", *job.encode().values())
            finally:
                self._queue.task_done()

    async def submit(self, job: Job) -> None:
        if self._pool is None:
            self._start()
        self._queue.put_nowait(job)

    async def length(self) -> int:
        """Frames waiting for analysis in this process."""
        return self._queue.qsize()

    async def drain(self) -> None:
        """Wait until every submitted job is stored (tests; an orderly shutdown)."""
        await self._queue.join()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class StreamQueue:
    """The server's side with Redis: ``XADD`` the job; workers do the rest."""

    def __init__(self, url: str, stream: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        self.stream = stream

    async def submit(self, job: Job) -> None:
        await self._redis.xadd(self.stream, job.encode())

    async def length(self) -> int | None:
        """Frames not yet delivered to a worker plus those delivered but not acknowledged."""
        try:
            groups = await self._redis.xinfo_groups(self.stream)
        except Exception:  # noqa: BLE001 - no stream yet, or Redis away: unknown, not zero
            return None
        return sum(int(g.get("lag") or 0) + int(g.get("pending") or 0) for g in groups) if groups else 0

    async def close(self) -> None:
        await self._redis.aclose()
