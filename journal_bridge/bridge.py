"""The journal's door for exam results: verify, then apply exactly once (the bridge).

:func:`accept` is what the exam engine's relay calls. It believes nothing it has not
verified: the signature is checked over the received bytes with the engine's Ed25519
public key before any field is read (:func:`journal_bridge.results.accept_result`).
A refused envelope is recorded in ``journal_refused_results`` and reported, never
raised, so the relay can count the try and back off.

Exactly-once effect: the stored row of the attempt is read ``FOR UPDATE``;
:func:`journal_bridge.results.decide_apply` inserts a new attempt, updates on a newer
version (an annulment) and ignores a duplicate or an older one. Two deliveries racing
on PostgreSQL meet at the primary key: the insert is ``ON CONFLICT DO NOTHING`` and the
loser decides again against the winner's row.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from journal_bridge.errors import ResultForged, ResultInvalid
from journal_bridge.results import ApplyAction, ApplyReason, ExamResult, accept_result, decide_apply
from journal_bridge.store import AuditSink, insert_ignore
from journal_bridge.tables import journal_exam_results, journal_refused_results

log = logging.getLogger(__name__)

# Ignored outcomes that mean something is wrong upstream, not a harmless redelivery.
_SUSPICIOUS = frozenset({ApplyReason.SAME_VERSION_DIFFERS, ApplyReason.IDENTITY_MISMATCH})


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The journal's answer: ``accepted`` means acknowledged (including a harmless duplicate)."""

    accepted: bool
    attempt_id: str | None
    action: ApplyAction | None
    reason: str


def result_of_row(row: object) -> ExamResult:
    return ExamResult(attempt_id=row.attempt_id, student_id=row.student_id,  # type: ignore[attr-defined]
                      discipline_code=row.discipline_code, exam_id=row.exam_id,  # type: ignore[attr-defined]
                      score=row.score, status=row.status, graded_at=row.graded_at,  # type: ignore[attr-defined]
                      version=row.version)  # type: ignore[attr-defined]


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


async def _refuse(conn: AsyncConnection, envelope: bytes, code: str, detail: str, now: datetime,
                  audit: AuditSink | None) -> Acceptance:
    attempt_id = _claimed_attempt(envelope)
    log.warning("journal refused an exam result for attempt %s: %s (%s)", attempt_id, code, detail)
    await conn.execute(journal_refused_results.insert().values(
        received_at=now, attempt_id=attempt_id, code=code, detail=detail[:2000],
        envelope=envelope.decode("utf-8", "replace")[:20000]))
    if audit is not None:
        await audit("journal.result_refused", f"attempt:{attempt_id}", None, {"code": code, "detail": detail})
    return Acceptance(False, attempt_id, None, code)


async def accept(
    conn: AsyncConnection, envelope: bytes, public_key: Ed25519PublicKey, *, now: datetime,
    audit: AuditSink | None = None,
) -> Acceptance:
    """Verify a signed exam result and apply it exactly once (see the module doc)."""
    try:
        incoming = accept_result(envelope, public_key)
    except (ResultForged, ResultInvalid) as error:
        return await _refuse(conn, envelope, error.code, str(error), now, audit)
    signature = base64.b64encode(base64.b64decode(json.loads(envelope)["signature"])).decode("ascii")
    for _ in range(2):
        stored = await stored_result(conn, incoming.attempt_id, lock=True)
        decision = decide_apply(stored, incoming)
        values = {"student_id": incoming.student_id, "discipline_code": incoming.discipline_code,
                  "exam_id": incoming.exam_id, "score": incoming.score, "status": str(incoming.status),
                  "graded_at": incoming.graded_at, "version": incoming.version, "signature": signature,
                  "updated_at": now}
        if decision.action is ApplyAction.INSERT:
            inserted = await conn.execute(insert_ignore(
                conn, journal_exam_results, {"attempt_id": incoming.attempt_id, "received_at": now, **values},
                ["attempt_id"]))
            if inserted.rowcount == 0:
                continue  # a concurrent delivery won the insert: decide again against its row
        elif decision.action is ApplyAction.UPDATE:
            await conn.execute(update(journal_exam_results).where(
                journal_exam_results.c.attempt_id == incoming.attempt_id,
                journal_exam_results.c.version < incoming.version).values(**values))
        elif decision.reason in _SUSPICIOUS:
            # Acknowledged (a retry cannot change the answer) but kept and logged for investigation.
            await _refuse(conn, envelope, str(decision.reason), "the journal holds a different result "
                          f"for this attempt at version {stored.version if stored else '?'}", now, audit)
        if decision.action is not ApplyAction.IGNORE and audit is not None:
            before = None if stored is None else {"version": stored.version, "score": stored.score,
                                                  "status": str(stored.status)}
            await audit(f"journal.result_{decision.action}", f"attempt:{incoming.attempt_id}", before,
                        {"version": incoming.version, "score": incoming.score, "status": str(incoming.status),
                         "student_id": incoming.student_id, "discipline_code": incoming.discipline_code})
        return Acceptance(True, incoming.attempt_id, decision.action, str(decision.reason))
    raise RuntimeError(f"exam result {incoming.attempt_id} could neither be inserted nor found")
