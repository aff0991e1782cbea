"""Newer exam results that arrive after the journal's period closed: corrections (J5, J6, J11).

The engine's regrade (a key decision of the quality department) sends a newer version of an
attempt's result through the same signed bridge. While the journal's period is open the newer
version is applied as any other (:func:`journal_bridge.bridge.accept_many`). After the period
closed, :func:`journal_bridge.rules.decide_result_change` says it is a correction a deputy head
approves: the signed envelope is kept in ``journal_result_corrections`` with the old and new
score, the reason and who asked, and applied — verified again, through ``accept_many`` — only
when approved (:func:`review_result_correction`); nobody reviews their own. The exam column's
history then shows the change with the correction's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from journal_bridge.bridge import Acceptance, AuditBatchSink, accept_many, stored_result
from journal_bridge.corrections import Correction, CorrectionState, decide_review
from journal_bridge.errors import CorrectionInvalid, JournalNotFound, ResultForged, ResultInvalid
from journal_bridge.results import ApplyAction, open_envelope
from journal_bridge.rules import Action, Actor, Role, Verdict, decide_result_change
from journal_bridge.store import insert_ignore, load_journal
from journal_bridge.tables import journal_exam_result_history, journal_result_corrections


@dataclass(frozen=True, slots=True)
class ResultChange:
    """A newer signed result, the journal it belongs to, why, and who asked (the engine's actor label)."""

    envelope: bytes
    journal_id: int
    reason: str
    filed_by: str


async def file_result_corrections(
    conn: AsyncConnection,
    changes: Sequence[ResultChange],
    public_key: Ed25519PublicKey,
    *,
    now: datetime,
    audit: AuditBatchSink | None = None,
) -> list[Acceptance]:
    """Apply each newer result while its journal's period is open; file it as a correction after. One answer each."""
    answers: list[Acceptance] = []
    for change in changes:
        try:
            signed = open_envelope(change.envelope, public_key)
        except (ResultForged, ResultInvalid):
            answers.extend(await accept_many(conn, [change.envelope], public_key, now=now, audit=audit))
            continue  # accept_many refuses it and keeps it for investigation
        journal = await load_journal(conn, change.journal_id)
        if decide_result_change(journal.closes_at, now).verdict is Verdict.ALLOW:
            answers.extend(await accept_many(conn, [change.envelope], public_key, now=now, audit=audit))
            continue
        result = signed.result
        stored = await stored_result(conn, result.attempt_id)
        if stored is not None and stored.version >= result.version:
            answers.append(Acceptance(True, result.attempt_id, ApplyAction.IGNORE, "duplicate"))
            continue
        inserted = (
            await conn.execute(
                insert_ignore(
                    conn,
                    journal_result_corrections,
                    {
                        "journal_id": journal.id,
                        "attempt_id": result.attempt_id,
                        "student_id": result.student_id,
                        "old_score": stored.score if stored else None,
                        "old_status": str(stored.status) if stored else None,
                        "new_score": result.score,
                        "new_status": str(result.status),
                        "new_version": result.version,
                        "envelope": change.envelope.decode("utf-8"),
                        "reason": change.reason.strip() or "regrade",
                        "filed_by": change.filed_by,
                        "filed_at": now,
                        "approver_role": Role.DEPUTY_HEAD.value,
                        "state": CorrectionState.FILED.value,
                    },
                    ["attempt_id", "new_version"],
                )
            )
        ).rowcount
        if inserted and audit is not None:
            await audit(
                [
                    (
                        "journal.result_correction_filed",
                        f"journal:{journal.id}",
                        {"score": stored.score if stored else None},
                        {
                            "attempt_id": result.attempt_id,
                            "student_id": result.student_id,
                            "score": result.score,
                            "status": str(result.status),
                            "version": result.version,
                            "reason": change.reason,
                            "approver_role": Role.DEPUTY_HEAD.value,
                        },
                    )
                ]
            )
        answers.append(Acceptance(True, result.attempt_id, None, "correction_filed"))
    return answers


def _pure(row: Any) -> Correction:
    """The stored result correction as the journal's pure correction (a change of a value, filed then)."""
    return Correction(
        str(row.id),
        str(row.journal_id),
        row.student_id,
        row.filed_at.date(),
        Action.CHANGE,
        None,
        None,
        row.reason,
        row.filed_by,
        row.filed_at,
        Role(row.approver_role),
        CorrectionState(row.state),
        row.reviewed_by,
        row.reviewed_at,
        row.review_note,
        row.applied_at,
    )


async def result_corrections(
    conn: AsyncConnection, *, journal_id: int | None = None, pending: bool = False
) -> list[dict[str, Any]]:
    stmt = select(journal_result_corrections).order_by(journal_result_corrections.c.id)
    if journal_id is not None:
        stmt = stmt.where(journal_result_corrections.c.journal_id == journal_id)
    if pending:
        stmt = stmt.where(journal_result_corrections.c.state == CorrectionState.FILED.value)
    return [
        {
            "id": r.id,
            "journal_id": r.journal_id,
            "attempt_id": r.attempt_id,
            "student_id": r.student_id,
            "old": {"score": r.old_score, "status": r.old_status},
            "new": {"score": r.new_score, "status": r.new_status},
            "version": r.new_version,
            "reason": r.reason,
            "filed_by": r.filed_by,
            "filed_at": r.filed_at,
            "approver_role": r.approver_role,
            "state": r.state,
            "reviewed_by": r.reviewed_by,
            "reviewed_at": r.reviewed_at,
            "review_note": r.review_note,
            "applied_at": r.applied_at,
        }
        for r in await conn.execute(stmt)
    ]


async def review_result_correction(
    conn: AsyncConnection,
    actor: Actor,
    correction_id: int,
    public_key: Ed25519PublicKey,
    *,
    approve: bool,
    note: str | None,
    now: datetime,
    audit: AuditBatchSink | None = None,
) -> str:
    """Approve (the signed result is applied at once, though the period closed) or reject; returns the state."""
    row = (
        await conn.execute(
            select(journal_result_corrections).where(journal_result_corrections.c.id == correction_id).with_for_update()
        )
    ).first()
    if row is None:
        raise JournalNotFound("correction_not_found")
    decision = decide_review(actor, _pure(row), now)
    if not decision.allowed:
        raise CorrectionInvalid(str(decision.reason))
    state = CorrectionState.REJECTED
    if approve:
        (answer,) = await accept_many(
            conn, [row.envelope.encode("utf-8")], public_key, now=now, audit=audit, correction_id=row.id
        )
        if not answer.accepted:
            raise CorrectionInvalid("correction_not_pending")
        state = CorrectionState.APPLIED
    await conn.execute(
        update(journal_result_corrections)
        .where(journal_result_corrections.c.id == correction_id)
        .values(
            state=state.value,
            reviewed_by=actor.user_id,
            reviewed_at=now,
            review_note=note,
            applied_at=now if approve else None,
        )
    )
    if audit is not None:
        await audit(
            [
                (
                    f"journal.result_correction_{'approved' if approve else 'rejected'}",
                    f"journal:{row.journal_id}",
                    {"state": row.state},
                    {"correction_id": correction_id, "state": state.value, "note": note},
                )
            ]
        )
    return state.value


async def result_history(conn: AsyncConnection, student_id: str, discipline_code: str) -> list[dict[str, Any]]:
    """Every change of a student's exam results in the discipline, oldest first (J11)."""
    stmt = (
        select(journal_exam_result_history)
        .where(
            journal_exam_result_history.c.student_id == student_id,
            journal_exam_result_history.c.discipline_code == discipline_code,
        )
        .order_by(journal_exam_result_history.c.id)
    )
    return [
        {
            "attempt_id": r.attempt_id,
            "old": {"score": r.old_score, "status": r.old_status, "version": r.old_version},
            "new": {"score": r.new_score, "status": r.new_status, "version": r.new_version},
            "changed_at": r.changed_at,
            "reason": r.reason,
            "correction_id": r.correction_id,
        }
        for r in await conn.execute(stmt)
    ]
