"""The student's list of exams, with their own window and the state of their attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import exam_day
from ..domain.actors import Actor
from ..domain.roles import Permission
from ..exam_day_tables import student_terms
from ..tables import attempts, disciplines, exam_groups, exams, group_members


async def student_exams(conn: AsyncConnection, actor: Actor, *, now: datetime) -> list[dict]:
    """The student's assigned exams with the state of their attempt, if any."""
    actor.require(Permission.SIT_EXAM)
    stmt = (
        select(
            exams.c.id,
            exams.c.title,
            exams.c.opens_at,
            exams.c.closes_at,
            exams.c.duration_s,
            exams.c.question_count,
            exams.c.requires_proctoring,
            exams.c.timeout_policy,
            disciplines.c.code,
            disciplines.c.name,
            attempts.c.id.label("attempt_id"),
            attempts.c.status,
            attempts.c.score,
            attempts.c.result,
            attempts.c.deadline_at,
            student_terms.c.opens_at.label("personal_opens_at"),
            student_terms.c.closes_at.label("personal_closes_at"),
        )
        .select_from(
            exams.join(disciplines, disciplines.c.id == exams.c.discipline_id)
            .join(exam_groups, exam_groups.c.exam_id == exams.c.id)
            .join(
                group_members,
                and_(
                    group_members.c.group_id == exam_groups.c.group_id,
                    group_members.c.student_id == actor.user_id,
                    group_members.c.left_at.is_(None),
                ),
            )
            .outerjoin(
                attempts,
                and_(
                    attempts.c.student_id == actor.user_id,
                    attempts.c.discipline_id == exams.c.discipline_id,
                    attempts.c.exam_session_id == exams.c.exam_session_id,
                ),
            )
            .outerjoin(
                student_terms, and_(student_terms.c.exam_id == exams.c.id, student_terms.c.student_id == actor.user_id)
            )
        )
        .order_by(exams.c.opens_at)
        .distinct()
    )
    out = []
    for r in await conn.execute(stmt):
        # A personal window (a reschedule, or one widened for an accommodation) replaces the exam's.
        window = exam_day.effective_window(r.opens_at, r.closes_at, r.personal_opens_at, r.personal_closes_at)
        out.append(
            {
                "id": r.id,
                "title": r.title,
                "discipline": {"code": r.code, "name": r.name},
                "opens_at": window.opens_at.isoformat(),
                "closes_at": window.closes_at.isoformat(),
                "duration_s": r.duration_s,
                "question_count": r.question_count,
                "requires_proctoring": r.requires_proctoring,
                "timeout_policy": r.timeout_policy,
                "open_now": window.opens_at <= now < window.closes_at,
                "personal_window": r.personal_opens_at is not None or r.personal_closes_at is not None,
                "attempt": None
                if r.attempt_id is None
                else {
                    "id": str(r.attempt_id),
                    "status": r.status,
                    "deadline_at": r.deadline_at.isoformat(),
                    "score": r.score,
                    "result": r.result,
                },
            }
        )
    return out
