"""The outbox relay: carries graded results to the journal, signed, until acknowledged.

The grading transaction writes an ``outbox`` row (topic ``exam.result``). The relay,
running in every server process next to the sweeper and once at start-up, picks
undelivered rows in batches of 500 with ``FOR UPDATE SKIP LOCKED`` (several processes
never carry the same row at once), signs each result with the engine's Ed25519 private
key and hands the batch of signed envelopes to the journal's
:func:`journal_bridge.api.accept_many` in the same transaction, which verifies each and
applies them set-wise; then one statement marks the acknowledged rows delivered. A mass
deadline (thousands of results in a second) is thus a few statements per 500 results,
and the sweeper nudges the relay as soon as it has finalised attempts. Delivery is at
least once; the journal's effect is exactly once, keyed by attempt id, so a redelivery
(a crash after the journal committed, a row re-queued by hand) changes nothing.

A refusal or an error counts a try and records ``last_error`` (a batch that fails with a
database error is retried row by row, so one bad row holds nothing back); the row is
retried after a backoff that doubles with every try (1 s, 2 s, 4 s … capped at 5
minutes), measured from the row's creation, so no extra column is needed; within one
round a row is tried at most once.

Keys: ``EXAM_SIGNING_KEY_FILE`` names a PEM (PKCS#8) Ed25519 private key; without it a
key pair is generated once under ``<data_dir>/keys/`` (private key mode 600) with a
warning. The key is random, never derived from ``EXAM_SECRET_KEY``. The journal verifies
with the public half, so nothing without the private key can write an exam grade.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from journal_bridge import api as journal

from ..clock import Clock
from ..db_bulk import one_of
from ..domain.holds import HoldPolicy
from ..hold_tables import exam_release
from ..security.signing import KEY_FILE, PUBLIC_FILE, BridgeKeys, bridge_keys  # noqa: F401 - relay.bridge_keys
from ..tables import outbox
from . import holds
from .attempts import RESULT_TOPIC
from .audit import audit_row, record_many

log = logging.getLogger(__name__)

RELAY_ACTOR = "system:relay"
MAX_BACKOFF_S = 300.0
YIELD_EVERY = 100  # results signed (~0.03 ms each) between two turns of the event loop


def backoff_s(tries: int) -> float:
    """Seconds from the row's creation before try number ``tries + 1``: the doubling delays summed."""
    return sum(min(2.0**i, MAX_BACKOFF_S) for i in range(tries))


def exam_result(payload: Mapping[str, Any]) -> journal.ExamResult:
    """The journal's contract from the outbox payload (ids become opaque strings)."""
    return journal.ExamResult(
        attempt_id=str(payload["attempt_id"]),
        student_id=str(payload["student_id"]),
        discipline_code=str(payload["discipline_code"]),
        exam_id=str(payload["exam_id"]),
        score=payload["score"],
        status=payload["status"],
        graded_at=datetime.fromisoformat(payload["graded_at"]),
        version=int(payload["version"]),
    )


@dataclass
class RelayReport:
    delivered: int = 0
    refused: int = 0
    failed: int = 0
    held: list[int] = field(default_factory=list)  # exams the gate held in this round

    @property
    def handled(self) -> int:
        return self.delivered + self.refused + self.failed


# The gate (services/holds.py): a result goes only once its exam is released — final, and
# analysed without a flag or released by the quality department; rows without an exam
# (written before the gate) are never held.
_RELEASED = or_(
    outbox.c.exam_id.is_(None),
    exists().where(exam_release.c.exam_id == outbox.c.exam_id, exam_release.c.state == holds.RELEASED),
)
_PENDING = (
    select(outbox.c.id, outbox.c.payload, outbox.c.tries, outbox.c.created_at)
    .where(outbox.c.delivered_at.is_(None), outbox.c.topic == RESULT_TOPIC, _RELEASED)
    .order_by(outbox.c.tries, outbox.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=outbox)
)
_MARK = update(outbox).where(outbox.c.id == bindparam("row_id"))
_MARK_REFUSED = (
    update(outbox)
    .where(outbox.c.id == bindparam("row_id"))
    .values(tries=outbox.c.tries + 1, last_error=bindparam("problem"))
)


def _audit_batch(conn: AsyncConnection, now: datetime) -> journal.AuditBatchSink:
    async def sink(entries: list[journal.AuditEntry]) -> None:
        await record_many(conn, [audit_row(now, RELAY_ACTOR, *entry) for entry in entries])

    return sink


async def _deliver(conn: AsyncConnection, rows: list[Any], keys: BridgeKeys, now: datetime) -> dict[int, str | None]:
    """Hand rows to the journal in one batch; per row id, None when acknowledged, else the reason it was not."""
    problems: dict[int, str | None] = {}
    signed: list[tuple[int, bytes]] = []
    changes: list[tuple[int, journal.ResultChange]] = []  # regrades whose journal period had closed
    for n, row in enumerate(rows):
        if n and not n % YIELD_EVERY:
            await asyncio.sleep(0)  # signing is CPU work: let requests in between
        try:
            envelope = journal.sign_result(exam_result(row.payload), keys.private).to_bytes()
            correction = row.payload.get("journal_correction")
            if correction:
                changes.append(
                    (
                        row.id,
                        journal.ResultChange(
                            envelope,
                            int(correction["journal_id"]),
                            str(correction["reason"]),
                            str(correction["filed_by"]),
                        ),
                    )
                )
            else:
                signed.append((row.id, envelope))
        except (journal.ResultInvalid, KeyError, TypeError, ValueError) as error:
            problems[row.id] = f"unusable outbox payload: {error}"
    answers = await journal.accept_many(
        conn, [envelope for _, envelope in signed], keys.public, now=now, audit=_audit_batch(conn, now)
    )
    for (row_id, _), answer in zip(signed, answers, strict=True):
        problems[row_id] = None if answer.accepted else answer.reason
    if changes:
        filed = await journal.file_result_corrections(
            conn, [c for _, c in changes], keys.public, now=now, audit=_audit_batch(conn, now)
        )
        for (row_id, _), answer in zip(changes, filed, strict=True):
            problems[row_id] = None if answer.accepted else answer.reason
    return problems


async def _relay_batch(
    conn: AsyncConnection,
    keys: BridgeKeys,
    now: datetime,
    limit: int,
    only: int | None = None,
    skip: set[int] | None = None,
) -> tuple[RelayReport, int]:
    """One batch in the caller's transaction: the report, and how many pending rows were locked.

    Rows backing off after a failure wait, as do rows in ``skip`` (refused earlier in
    this round: one try per round); the rest go to the journal together.
    """
    stmt = _PENDING.where(outbox.c.id == only) if only is not None else _PENDING
    locked = (await conn.execute(stmt, {"limit": limit})).all()
    due = [
        row
        for row in locked
        if row.created_at + timedelta(seconds=backoff_s(row.tries)) <= now and (skip is None or row.id not in skip)
    ]
    report = RelayReport()
    if not due:
        return report, len(locked)
    problems = await _deliver(conn, due, keys, now)
    delivered = [row_id for row_id, problem in problems.items() if problem is None]
    refused = [{"row_id": row_id, "problem": problem} for row_id, problem in problems.items() if problem]
    if delivered:
        await conn.execute(
            update(outbox)
            .where(one_of(conn, outbox.c.id, delivered))
            .values(delivered_at=now, tries=outbox.c.tries + 1, last_error=None)
        )
    if refused:
        for row in due:
            if problems[row.id]:
                log.warning("exam result %s not delivered (try %d): %s", row.id, row.tries + 1, problems[row.id])
        await conn.execute(_MARK_REFUSED, refused)
    if skip is not None:
        skip.update(r["row_id"] for r in refused)
    report.delivered, report.refused = len(delivered), len(refused)
    return report, len(locked)


async def relay_once(
    engine: AsyncEngine,
    keys: BridgeKeys,
    clock: Clock,
    *,
    batch: int = 500,
    before_batch: Callable[[], Awaitable[Any]] | None = None,
    hold: HoldPolicy | None = None,
    not_final: dict[int, datetime] | None = None,
) -> RelayReport:
    """Deliver every due outbox row now, batch after batch; one transaction per batch.

    First the gate (:func:`exam_engine.services.holds.advance`, with ``hold`` or the default
    policy): expired holds are released, and exams whose results became final are analysed and
    released or held. Then only rows of released exams go.

    ``before_batch`` is awaited before each batch (the server's relay waits there while the
    deadline sweeper runs a round: grades come first).

    When a batch fails (a database error), its rows are retried one by one so that one
    bad row cannot hold the others back; the failing row gets its try and error recorded.
    """
    total = RelayReport()
    refused: set[int] = set()  # refused or failed in this round: tried again in the next
    if before_batch is not None:
        await before_batch()
    try:
        gate = await holds.advance(engine, clock.now(), hold or HoldPolicy(), not_final)
        total.held = gate.held
    except Exception:  # noqa: BLE001 - a failing gate must not stop released results
        log.exception("the item-analysis gate failed this round; released results are still delivered")
    while True:
        if before_batch is not None:
            await before_batch()
        try:
            async with engine.begin() as conn:
                report, locked = await _relay_batch(conn, keys, clock.now(), batch, skip=refused)
        except Exception:  # noqa: BLE001 - isolate the failing row below
            log.exception("relay batch failed; retrying its rows one by one")
            report, locked = await _one_by_one(engine, keys, clock, batch, refused)
        total.delivered += report.delivered
        total.refused += report.refused
        total.failed += report.failed
        if locked < batch or not report.delivered:  # drained, or only rows waiting or failing are left
            return total


async def _one_by_one(
    engine: AsyncEngine, keys: BridgeKeys, clock: Clock, batch: int, skip: set[int]
) -> tuple[RelayReport, int]:
    """The rows of a failed batch, each in its own transaction; a row that fails again joins ``skip``."""
    async with engine.connect() as conn:
        ids = (
            (
                await conn.execute(
                    select(outbox.c.id)
                    .where(outbox.c.delivered_at.is_(None), outbox.c.topic == RESULT_TOPIC, _RELEASED)
                    .order_by(outbox.c.tries, outbox.c.id)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
    report = RelayReport()
    for row_id in ids:
        try:
            async with engine.begin() as conn:
                single, _ = await _relay_batch(conn, keys, clock.now(), 1, only=row_id, skip=skip)
            report.delivered += single.delivered
            report.refused += single.refused
        except Exception as error:  # noqa: BLE001 - record and move on
            report.failed += 1
            skip.add(row_id)
            async with engine.begin() as conn:
                await conn.execute(
                    _MARK.values(tries=outbox.c.tries + 1, last_error=f"{type(error).__name__}: {error}"[:2000]),
                    {"row_id": row_id},
                )
    return report, len(ids)


async def run_forever(
    engine: AsyncEngine,
    keys: BridgeKeys,
    clock: Clock,
    interval_s: float,
    *,
    wake: asyncio.Event | None = None,
    before_batch: Callable[[], Awaitable[Any]] | None = None,
    hold: HoldPolicy | None = None,
) -> None:
    """The background task: relay, wait, repeat; a failed round is logged, never fatal.

    It waits ``interval_s`` or until ``wake`` is set — the sweeper sets it when it has
    finalised attempts, so a mass deadline's results start for the journal at once.
    """
    wake = wake or asyncio.Event()
    not_final: dict[int, datetime] = {}  # the gate's memo of running exams (holds.advance)
    warmed = False
    while True:
        try:
            report = await relay_once(engine, keys, clock, before_batch=before_batch, hold=hold, not_final=not_final)
            if report.handled:
                log.info("relay: %d delivered, %d refused, %d failed", report.delivered, report.refused, report.failed)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep relaying after a transient failure
            log.exception("relay round failed; retrying")
        if not warmed:
            # The gate's item analysis needs numpy: load it once the start-up deliveries are done, in a
            # thread, rather than at the first mass deadline (~0.3 s) or at start (which must sweep first).
            warmed = True
            with contextlib.suppress(Exception):
                await asyncio.to_thread(importlib.import_module, "question_bank.analysis")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval_s)
        if wake.is_set():
            not_final.clear()  # the sweeper finalised attempts: an exam may have just become final
        wake.clear()  # the next round covers every nudge so far; one that comes during it starts another
