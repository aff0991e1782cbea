"""The journal's door for exam results: verify, then apply exactly once (the bridge).

:func:`accept_many` is what the exam engine's relay calls with a batch of signed
envelopes (:func:`accept` is the same door for one). It believes nothing it has not
verified: each signature is checked over the received bytes with the engine's Ed25519
public key before any field is read (:func:`journal_bridge.results.open_envelope`).
A refused envelope is recorded in ``journal_refused_results`` and answered, never
raised, so the relay can count the try and back off — and the rest of the batch goes on.

Exactly-once effect: the stored rows of the batch's attempts are read ``FOR UPDATE``
(in attempt order, so two batches lock alike); :func:`journal_bridge.results.plan_batch`
decides every result in turn as :func:`~journal_bridge.results.decide_apply` would one by
one — insert a new attempt, update on a newer version (an annulment), ignore a duplicate
or an older one — and the batch is written set-wise: one insert, the updates, one insert
of refusals, one call of the audit sink. Two deliveries racing on PostgreSQL meet at the
primary key: the insert is ``ON CONFLICT DO NOTHING``, and an attempt whose insert lost
is decided again against the winner's row.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from exam_engine.db_bulk import insert_many, one_of
from journal_bridge.errors import ResultForged, ResultInvalid
from journal_bridge.grading import ExamStatus
from journal_bridge.results import (
    ApplyAction,
    ApplyDecision,
    ApplyReason,
    ExamResult,
    SignedExamResult,
    open_envelope,
    plan_batch,
)
from journal_bridge.store import AuditSink
from journal_bridge.tables import journal_exam_result_history, journal_exam_results, journal_refused_results

log = logging.getLogger(__name__)

# Envelopes verified (~0.1 ms each) between two turns of the event loop.
YIELD_EVERY = 100
# Ignored outcomes that mean something is wrong upstream, not a harmless redelivery.
_SUSPICIOUS = frozenset({ApplyReason.SAME_VERSION_DIFFERS, ApplyReason.IDENTITY_MISMATCH})

AuditEntry = tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]
"""(action, subject, before, after): one audit record, as an :data:`AuditSink` takes it."""
AuditBatchSink = Callable[[list[AuditEntry]], Awaitable[None]]
"""Records a batch's audit entries in one go, in the order the results arrived."""


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The journal's answer: ``accepted`` means acknowledged (including a harmless duplicate)."""

    accepted: bool
    attempt_id: str | None
    action: ApplyAction | None
    reason: str


def result_of_row(row: object) -> ExamResult:
    return ExamResult(
        attempt_id=row.attempt_id,
        student_id=row.student_id,  # type: ignore[attr-defined]
        discipline_code=row.discipline_code,
        exam_id=row.exam_id,  # type: ignore[attr-defined]
        score=row.score,
        status=row.status,
        graded_at=row.graded_at,  # type: ignore[attr-defined]
        version=row.version,
    )  # type: ignore[attr-defined]


async def stored_result(conn: AsyncConnection, attempt_id: str, *, lock: bool = False) -> ExamResult | None:
    stmt = select(journal_exam_results).where(journal_exam_results.c.attempt_id == attempt_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    return None if row is None else result_of_row(row)


def _claimed_attempt(envelope: bytes) -> str | None:
    try:
        claimed = json.loads(envelope)["result"]["attempt_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(claimed)[:64]


def _summary(result: ExamResult, *, identity: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"version": result.version, "score": result.score, "status": str(result.status)}
    if identity:
        out.update(student_id=result.student_id, discipline_code=result.discipline_code)
    return out


@dataclass
class _Outcome:
    """What a batch produced so far: answers, refusal rows and audit entries, by envelope index."""

    now: datetime
    correction_id: int | None = None  # applying an approved result correction (keeping.review_result_correction)
    answers: dict[int, Acceptance] = field(default_factory=dict)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    entries: list[tuple[int, AuditEntry]] = field(default_factory=list)

    def refuse(self, index: int, envelope: bytes, code: str, detail: str) -> Acceptance:
        attempt_id = _claimed_attempt(envelope)
        log.warning("journal refused an exam result for attempt %s: %s (%s)", attempt_id, code, detail)
        self.refusals.append(
            {
                "received_at": self.now,
                "attempt_id": attempt_id,
                "code": code,
                "detail": detail[:2000],
                "envelope": envelope.decode("utf-8", "replace")[:20000],
            }
        )
        self.entries.append(
            (index, ("journal.result_refused", f"attempt:{attempt_id}", None, {"code": code, "detail": detail}))
        )
        return Acceptance(False, attempt_id, None, code)

    def applied(
        self, index: int, envelope: bytes, incoming: ExamResult, stored: ExamResult | None, decision: ApplyDecision
    ) -> None:
        if decision.reason in _SUSPICIOUS:
            # Acknowledged (a retry cannot change the answer) but kept and logged for investigation.
            self.refuse(
                index,
                envelope,
                str(decision.reason),
                f"the journal holds a different result for this attempt at version {stored.version if stored else '?'}",
            )
        if decision.action is not ApplyAction.IGNORE:
            self.entries.append(
                (
                    index,
                    (
                        f"journal.result_{decision.action}",
                        f"attempt:{incoming.attempt_id}",
                        None if stored is None else _summary(stored, identity=False),
                        _summary(incoming, identity=True),
                    ),
                )
            )
        self.answers[index] = Acceptance(True, incoming.attempt_id, decision.action, str(decision.reason))


def history_row(old: ExamResult, new: ExamResult, now: datetime, correction_id: int | None) -> dict[str, Any]:
    """One row of the exam column's history; the reason says what kind of change it was."""
    reason = (
        "correction" if correction_id is not None else ("annulment" if new.status is ExamStatus.ANNULLED else "regrade")
    )
    return {
        "attempt_id": new.attempt_id,
        "student_id": new.student_id,
        "discipline_code": new.discipline_code,
        "old_score": old.score,
        "old_status": str(old.status),
        "old_version": old.version,
        "new_score": new.score,
        "new_status": str(new.status),
        "new_version": new.version,
        "changed_at": now,
        "reason": reason,
        "correction_id": correction_id,
    }


def _values(signed: SignedExamResult, now: datetime) -> dict[str, Any]:
    r = signed.result
    return {
        "student_id": r.student_id,
        "discipline_code": r.discipline_code,
        "exam_id": r.exam_id,
        "score": r.score,
        "status": str(r.status),
        "graded_at": r.graded_at,
        "version": r.version,
        "signature": base64.b64encode(signed.signature).decode("ascii"),
        "updated_at": now,
    }


_UPDATE = (
    update(journal_exam_results)
    .where(
        journal_exam_results.c.attempt_id == bindparam("u_attempt_id"),
        journal_exam_results.c.version < bindparam("u_version"),
    )
    .values(
        {
            name: bindparam(f"u_{name}")
            for name in (
                "student_id",
                "discipline_code",
                "exam_id",
                "score",
                "status",
                "graded_at",
                "version",
                "signature",
                "updated_at",
            )
        }
    )
)


async def _insert_new(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose attempt is still absent; the attempt ids actually inserted.

    On PostgreSQL the batch is one statement (:mod:`exam_engine.db_bulk`), not one per result.
    """
    return set(
        await insert_many(conn, journal_exam_results, rows, skip_conflicts_on=["attempt_id"], returning="attempt_id")
    )


async def _apply(
    conn: AsyncConnection, batch: list[tuple[int, SignedExamResult]], envelopes: Sequence[bytes], outcome: _Outcome
) -> set[str]:
    """Decide and write one pass over verified results; the attempts whose insert lost a race."""
    ids = sorted({signed.result.attempt_id for _, signed in batch})
    stmt = (
        select(journal_exam_results)
        .where(one_of(conn, journal_exam_results.c.attempt_id, ids))
        .order_by(journal_exam_results.c.attempt_id)
        .with_for_update()
    )
    stored = {row.attempt_id: result_of_row(row) for row in await conn.execute(stmt)}
    plan = plan_batch(stored, [signed.result for _, signed in batch])
    inserted = await _insert_new(
        conn,
        [
            {"attempt_id": attempt, "received_at": outcome.now, **_values(batch[i][1], outcome.now)}
            for attempt, i in sorted(plan.inserts.items())
        ],
    )
    if plan.updates:
        await conn.execute(
            _UPDATE,
            [
                {f"u_{k}": v for k, v in ({"attempt_id": attempt, **_values(batch[i][1], outcome.now)}).items()}
                for attempt, i in sorted(plan.updates.items())
            ],
        )
        # The exam column's history (J11): what each changed result was and became.
        await conn.execute(
            journal_exam_result_history.insert(),
            [
                history_row(stored[attempt], batch[i][1].result, outcome.now, outcome.correction_id)
                for attempt, i in sorted(plan.updates.items())
            ],
        )
    lost = set(plan.inserts) - inserted  # a concurrent delivery inserted these first
    for (index, signed), (before, decision) in zip(batch, plan.decisions, strict=True):
        if signed.result.attempt_id not in lost:
            outcome.applied(index, envelopes[index], signed.result, before, decision)
    return lost


async def accept_many(
    conn: AsyncConnection,
    envelopes: Sequence[bytes],
    public_key: Ed25519PublicKey,
    *,
    now: datetime,
    audit: AuditBatchSink | None = None,
    correction_id: int | None = None,
) -> list[Acceptance]:
    """Verify signed exam results and apply each exactly once; one answer per envelope, in order.

    Set-based (see the module doc): the cost is a few statements per batch, not per result.
    A database error fails the whole batch (the caller's transaction); the relay then
    retries its rows one by one, so one bad row cannot hold the others back.
    """
    outcome = _Outcome(now, correction_id)
    verified: list[tuple[int, SignedExamResult]] = []
    for index, envelope in enumerate(envelopes):
        if index and not index % YIELD_EVERY:
            await asyncio.sleep(0)  # verifying is CPU work: let requests in between
        try:
            verified.append((index, open_envelope(envelope, public_key)))
        except (ResultForged, ResultInvalid) as error:
            outcome.answers[index] = outcome.refuse(index, envelope, error.code, str(error))
    for _ in range(2):
        if not verified:
            break
        lost = await _apply(conn, verified, envelopes, outcome)
        verified = [(i, signed) for i, signed in verified if signed.result.attempt_id in lost]
    if verified:
        raise RuntimeError(
            f"exam results for {sorted({s.result.attempt_id for _, s in verified})} could neither be inserted nor found"
        )
    if outcome.refusals:
        await conn.execute(journal_refused_results.insert(), outcome.refusals)
    if audit is not None and outcome.entries:
        await audit([entry for _, entry in sorted(outcome.entries, key=lambda pair: pair[0])])
    return [outcome.answers[i] for i in range(len(envelopes))]


async def accept(
    conn: AsyncConnection,
    envelope: bytes,
    public_key: Ed25519PublicKey,
    *,
    now: datetime,
    audit: AuditSink | None = None,
) -> Acceptance:
    """Verify one signed exam result and apply it exactly once (:func:`accept_many` for one)."""

    async def each(entries: list[AuditEntry]) -> None:
        for entry in entries:
            await audit(*entry)  # type: ignore[misc]

    (answer,) = await accept_many(conn, [envelope], public_key, now=now, audit=None if audit is None else each)
    return answer
