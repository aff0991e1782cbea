"""A student's personal terms for one exam: accommodations and valid-reason reschedules.

* **Accommodation** (E6), set before the student starts: extra minutes (kept in
  ``accommodations``, as ``catalog.set_extra_time`` does) and/or a time multiplier of the
  duration; both apply at start, capped by the window — unless the academic administrator
  widens this student's window (a personal close).
* **Reschedule** (003 §5.16): a student who has *not started* gets a personal window later
  in the session, with the reason and the document (certificate, order) recorded. Anyone
  who started or finished is refused with ``reschedule_is_retake``: a second sitting would
  be a retake (E2), and the unique attempt index would refuse it anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import exam_day
from ..domain.actors import Actor
from ..domain.roles import Permission
from ..errors import InvalidInput, NotFound
from ..exam_day_tables import student_terms
from ..i18n import N_
from ..tables import attempts, exam_groups, exam_sessions, exams, group_members
from . import catalog
from .audit import record
from .upsert import insert_ignore

_EXAM_AND_STUDENT = (
    select(
        exams.c.id,
        exams.c.opens_at,
        exams.c.closes_at,
        exams.c.discipline_id,
        exams.c.exam_session_id,
        exam_sessions.c.starts_on,
        exam_sessions.c.ends_on,
        attempts.c.status.label("attempt_status"),
        student_terms.c.opens_at.label("personal_opens_at"),
        student_terms.c.closes_at.label("personal_closes_at"),
        student_terms.c.multiplier_pct,
    )
    .select_from(
        exams.join(exam_sessions, exam_sessions.c.id == exams.c.exam_session_id)
        .outerjoin(
            attempts,
            and_(
                attempts.c.student_id == bindparam("student_id"),
                attempts.c.discipline_id == exams.c.discipline_id,
                attempts.c.exam_session_id == exams.c.exam_session_id,
            ),
        )
        .outerjoin(
            student_terms,
            and_(student_terms.c.exam_id == exams.c.id, student_terms.c.student_id == bindparam("student_id")),
        )
    )
    .where(exams.c.id == bindparam("exam_id"))
    .where(
        exists()
        .where(exam_groups.c.exam_id == exams.c.id)
        .where(group_members.c.group_id == exam_groups.c.group_id)
        .where(group_members.c.student_id == bindparam("student_id"))
        .where(group_members.c.left_at.is_(None))
    )
)


async def _load(conn: AsyncConnection, exam_id: int, student_id: int) -> Any:
    row = (await conn.execute(_EXAM_AND_STUDENT, {"exam_id": exam_id, "student_id": student_id})).first()
    if row is None:
        raise NotFound("student_not_assigned", N_("This student is not assigned to this exam."))
    return row


async def _save_terms(
    conn: AsyncConnection, actor: Actor, exam_id: int, student_id: int, *, now: datetime, **values: Any
) -> None:
    values = {**values, "updated_by": actor.label, "updated_at": now}
    inserted = (
        await conn.execute(
            insert_ignore(
                conn, student_terms, {"exam_id": exam_id, "student_id": student_id, **values}, ["exam_id", "student_id"]
            )
        )
    ).rowcount
    if not inserted:
        await conn.execute(
            update(student_terms)
            .where(student_terms.c.exam_id == exam_id, student_terms.c.student_id == student_id)
            .values(**values)
        )


def _terms(row: Any, exam_row: Any) -> dict:
    window = exam_day.effective_window(exam_row.opens_at, exam_row.closes_at, row.get("opens_at"), row.get("closes_at"))
    return {"opens_at": window.opens_at.isoformat(), "closes_at": window.closes_at.isoformat()}


async def set_accommodation(
    conn: AsyncConnection,
    actor: Actor,
    *,
    exam_id: int,
    student_id: int,
    reason: str,
    now: datetime,
    extra_minutes: int | None = None,
    multiplier: float | None = None,
    window_closes_at: datetime | None = None,
) -> dict:
    """Extra minutes and/or a multiplier, and optionally a wider personal window, before the start."""
    actor.require(Permission.MANAGE_EXAMS)
    reason = exam_day.check_reason(reason)
    if extra_minutes is None and multiplier is None and window_closes_at is None:
        raise InvalidInput("nothing_to_change", N_("Give extra minutes, a multiplier or a new window close."))
    row = await _load(conn, exam_id, student_id)
    exam_day.check_accommodation_before_start(row.attempt_status)
    values: dict[str, Any] = {"reason": reason}
    if multiplier is not None:
        values["multiplier_pct"] = exam_day.multiplier_pct(multiplier)
    if window_closes_at is not None:
        opens_at = row.personal_opens_at or row.opens_at
        exam_day.check_personal_window(opens_at, window_closes_at, now, row.starts_on, row.ends_on)
        if window_closes_at < (row.personal_closes_at or row.closes_at):
            raise InvalidInput("window_narrowed", N_("An accommodation can only widen the window."))
        values["closes_at"] = window_closes_at
    if extra_minutes is not None:
        if not 0 <= extra_minutes <= exam_day.MAX_GRANT_MINUTES:
            raise InvalidInput(
                "invalid_extra_minutes",
                N_("Extra minutes must be between 0 and {limit}."),
                limit=exam_day.MAX_GRANT_MINUTES,
            )
        await catalog.set_extra_time(
            conn, actor, exam_id=exam_id, student_id=student_id, extra_s=extra_minutes * 60, reason=reason, now=now
        )
    if len(values) > 1:
        await _save_terms(conn, actor, exam_id, student_id, now=now, **values)
        await record(
            conn,
            now,
            actor,
            "exam.accommodation",
            f"exam:{exam_id}",
            {"student_id": student_id, "multiplier_pct": row.multiplier_pct, "closes_at": row.personal_closes_at},
            {"student_id": student_id, **values},
        )
    return {
        "exam_id": exam_id,
        "student_id": student_id,
        **_terms(values, row),
        "extra_minutes": extra_minutes,
        "multiplier": multiplier,
    }


async def reschedule(
    conn: AsyncConnection,
    actor: Actor,
    *,
    exam_id: int,
    student_id: int,
    opens_at: datetime,
    closes_at: datetime,
    reason: str,
    document_ref: str,
    now: datetime,
) -> dict:
    """A personal window later in the session for a student who did not start (valid reason, 003 §5.16)."""
    actor.require(Permission.MANAGE_EXAMS)
    reason = exam_day.check_reason(reason)
    document_ref = exam_day.check_document_ref(document_ref)
    row = await _load(conn, exam_id, student_id)
    exam_day.check_reschedulable(row.attempt_status)
    exam_day.check_personal_window(opens_at, closes_at, now, row.starts_on, row.ends_on)
    if opens_at < row.opens_at:
        raise InvalidInput("window_before_exam", N_("A new window cannot open before the exam's own window."))
    await _save_terms(
        conn,
        actor,
        exam_id,
        student_id,
        now=now,
        opens_at=opens_at,
        closes_at=closes_at,
        rescheduled=True,
        reason=reason,
        document_ref=document_ref,
    )
    await record(
        conn,
        now,
        actor,
        "exam.rescheduled",
        f"exam:{exam_id}",
        {
            "student_id": student_id,
            "opens_at": row.personal_opens_at or row.opens_at,
            "closes_at": row.personal_closes_at or row.closes_at,
        },
        {
            "student_id": student_id,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "reason": reason,
            "document_ref": document_ref,
        },
    )
    return {
        "exam_id": exam_id,
        "student_id": student_id,
        "opens_at": opens_at.isoformat(),
        "closes_at": closes_at.isoformat(),
        "rescheduled": True,
        "document_ref": document_ref,
    }
