"""The proctor's live view of an exam: one read, one row per assigned student.

Last-seen comes from ``attempt_live`` (refreshed at most every 15 s by the student's
saves, reads and presence pings) and from the lobby; "silent" is a writing student not
seen for longer than the threshold the proctor chooses. Downtime is measured from the
server's own uptime spans (:mod:`.uptime`), once for the whole list.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import attempts as rules
from ..domain import exam_day
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus
from ..domain.exam_day import Interval, LiveState
from ..domain.roles import Permission
from ..errors import NotFound
from ..exam_day_tables import attempt_live, exam_lobby, prepared_forms, student_terms
from ..i18n import N_
from ..tables import accommodations, attempts, exam_groups, exams, group_members, users
from . import uptime
from .authority import authorize
from .authority import exam as exam_resource

DEFAULT_SILENT_AFTER_S = 60.0

_ATTEMPT_COLUMNS = (
    attempts.c.id.label("attempt_id"),
    attempts.c.status,
    attempts.c.started_at,
    attempts.c.deadline_at,
    attempts.c.submitted_at,
    attempts.c.exam_id.label("attempt_exam_id"),
    attempt_live.c.last_seen_at,
    attempt_live.c.paused_at,
    attempt_live.c.paused_total_s,
    attempt_live.c.granted_s,
    attempt_live.c.downtime_credited_s,
    attempt_live.c.elsewhere_count,
    attempt_live.c.elsewhere_at,
    attempt_live.c.bound_session,
    attempt_live.c.checks_passed_at,
    attempt_live.c.camera_check,
    attempt_live.c.failed_checks,
)
_EXAM = select(
    exams.c.id,
    exams.c.title,
    exams.c.opens_at,
    exams.c.closes_at,
    exams.c.duration_s,
    exams.c.discipline_id,
    exams.c.exam_session_id,
).where(exams.c.id == bindparam("exam_id"))
_ASSIGNED = (
    select(group_members.c.student_id)
    .join(exam_groups, exam_groups.c.group_id == group_members.c.group_id)
    .where(exam_groups.c.exam_id == bindparam("exam_id"), group_members.c.left_at.is_(None))
    .distinct()
    .subquery()
)
_ROSTER = (
    select(
        users.c.id,
        users.c.login,
        users.c.full_name,
        *_ATTEMPT_COLUMNS,
        exam_lobby.c.joined_at.label("lobby_joined_at"),
        exam_lobby.c.last_seen_at.label("lobby_seen_at"),
        exam_lobby.c.checks,
        student_terms.c.opens_at.label("personal_opens_at"),
        student_terms.c.closes_at.label("personal_closes_at"),
        student_terms.c.multiplier_pct,
        student_terms.c.rescheduled,
        student_terms.c.document_ref,
        accommodations.c.extra_s,
        prepared_forms.c.prepared_at,
    )
    .select_from(
        _ASSIGNED.join(users, users.c.id == _ASSIGNED.c.student_id)
        .outerjoin(
            attempts,
            and_(
                attempts.c.student_id == users.c.id,
                attempts.c.discipline_id == bindparam("discipline_id"),
                attempts.c.exam_session_id == bindparam("exam_session_id"),
            ),
        )
        .outerjoin(attempt_live, attempt_live.c.attempt_id == attempts.c.id)
        .outerjoin(
            exam_lobby, and_(exam_lobby.c.exam_id == bindparam("exam_id"), exam_lobby.c.student_id == users.c.id)
        )
        .outerjoin(
            student_terms,
            and_(student_terms.c.exam_id == bindparam("exam_id"), student_terms.c.student_id == users.c.id),
        )
        .outerjoin(
            accommodations,
            and_(accommodations.c.exam_id == bindparam("exam_id"), accommodations.c.student_id == users.c.id),
        )
        .outerjoin(
            prepared_forms,
            and_(prepared_forms.c.exam_id == bindparam("exam_id"), prepared_forms.c.student_id == users.c.id),
        )
    )
    .order_by(users.c.login)
)
_ONE = (
    select(attempts.c.student_id, *_ATTEMPT_COLUMNS)
    .select_from(attempts.outerjoin(attempt_live, attempt_live.c.attempt_id == attempts.c.id))
    .where(attempts.c.id == bindparam("attempt_id"))
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _attempt_part(r: Any, now: datetime, gaps: list[Interval]) -> dict[str, Any] | None:
    if r.attempt_id is None:
        return None
    status = AttemptStatus(r.status)
    credited = r.downtime_credited_s or 0
    return {
        "id": str(r.attempt_id),
        "exam_id": r.attempt_exam_id,
        "status": r.status,
        "started_at": r.started_at.isoformat(),
        "deadline_at": r.deadline_at.isoformat(),
        "submitted_at": _iso(r.submitted_at),
        "remaining_s": round(rules.remaining_s(status, r.deadline_at, now, r.paused_at), 3),
        "paused_at": _iso(r.paused_at),
        "paused_total_s": round(r.paused_total_s or 0, 3),
        "granted_s": r.granted_s or 0,
        "last_seen_at": _iso(r.last_seen_at),
        "bound_to_device": r.bound_session is not None,
        "open_elsewhere": {"count": r.elsewhere_count or 0, "last_at": _iso(r.elsewhere_at)},
        # The device checks before the clock (proctored exams): in them since started_at while
        # status is "checks"; the last server-side camera verdict and the failed checks.
        "checks": {
            "passed_at": _iso(r.checks_passed_at),
            "camera": r.camera_check,
            "failed": r.failed_checks or 0,
            "needs_help": status is AttemptStatus.CHECKS
            and exam_day.needs_help(r.started_at, r.failed_checks or 0, now),
        },
        "downtime": {
            "measured_s": round(sum(g.seconds for g in gaps), 3),
            "credited_s": credited,
            "creditable_s": exam_day.creditable_s(gaps, credited) if status in rules.OPEN_STATUSES else 0,
            "gaps": [
                {"from": g.start.isoformat(), "to": g.end.isoformat(), "seconds": round(g.seconds, 3)} for g in gaps
            ],
        },
    }


def _gaps_for(r: Any, up: list[Interval], now: datetime) -> list[Interval]:
    if r.attempt_id is None:
        return []
    return uptime.gaps_in(up, r.started_at, r.submitted_at or now)


async def exam_live(
    conn: AsyncConnection, actor: Actor, exam_id: int, *, now: datetime, silent_after_s: float = DEFAULT_SILENT_AFTER_S
) -> dict:
    """Everyone assigned to the exam, where they stand, and the counts per state."""
    await authorize(conn, actor, Permission.LIVE_CONTROL, exam_resource(exam_id))
    exam = (await conn.execute(_EXAM, {"exam_id": exam_id})).first()
    if exam is None:
        raise NotFound("exam_not_found", N_("No such exam."))
    rows = (
        await conn.execute(
            _ROSTER, {"exam_id": exam_id, "discipline_id": exam.discipline_id, "exam_session_id": exam.exam_session_id}
        )
    ).all()
    starts = [r.started_at for r in rows if r.attempt_id is not None]
    up = await uptime.spans(conn, min(starts), now) if starts else []
    students, counts = [], {state.value: 0 for state in LiveState}
    for r in rows:
        seen = r.last_seen_at if r.attempt_id is not None else r.lobby_seen_at
        in_checks = r.attempt_id is not None and r.status == AttemptStatus.CHECKS
        state = exam_day.live_state(
            r.status,
            r.lobby_joined_at is not None,
            seen,
            now,
            silent_after_s,
            checks_since=r.started_at if in_checks else None,
            failed_checks=(r.failed_checks or 0) if in_checks else 0,
        )
        counts[state.value] += 1
        window = exam_day.effective_window(exam.opens_at, exam.closes_at, r.personal_opens_at, r.personal_closes_at)
        students.append(
            {
                "student": {"id": r.id, "login": r.login, "full_name": r.full_name},
                "state": state.value,
                "silent_for_s": round((now - seen).total_seconds(), 3) if seen else None,
                "attempt": _attempt_part(r, now, _gaps_for(r, up, now)),
                "lobby": None
                if r.lobby_joined_at is None
                else {
                    "joined_at": r.lobby_joined_at.isoformat(),
                    "last_seen_at": _iso(r.lobby_seen_at),
                    "checks": r.checks,
                },
                "form_prepared": r.prepared_at is not None and r.attempt_id is None,
                "terms": {
                    "opens_at": window.opens_at.isoformat(),
                    "closes_at": window.closes_at.isoformat(),
                    "personal_window": r.personal_opens_at is not None or r.personal_closes_at is not None,
                    "rescheduled": bool(r.rescheduled),
                    "document_ref": r.document_ref,
                    "extra_s": r.extra_s or 0,
                    "multiplier": (r.multiplier_pct or 100) / 100,
                },
            }
        )
    return {
        "exam": {
            "id": exam.id,
            "title": exam.title,
            "opens_at": exam.opens_at.isoformat(),
            "closes_at": exam.closes_at.isoformat(),
            "duration_s": exam.duration_s,
        },
        "server_now": now.isoformat(),
        "silent_after_s": silent_after_s,
        "counts": counts,
        "students": students,
    }


async def live_attempt(conn: AsyncConnection, attempt_id: uuid.UUID, *, now: datetime) -> dict:
    """One attempt as the live view shows it (the answer to every action)."""
    r = (await conn.execute(_ONE, {"attempt_id": attempt_id})).first()
    if r is None:
        raise NotFound("attempt_not_found", N_("No such attempt."))
    gaps = uptime.gaps_in(
        await uptime.spans(conn, r.started_at, r.submitted_at or now), r.started_at, r.submitted_at or now
    )
    part = _attempt_part(r, now, gaps)
    return {"attempt": part, "student_id": r.student_id, "server_now": now.isoformat()}
