"""The lobby and forms prepared in advance, so the opening minute costs one cheap step each.

Before the opening, students sign in, pass the camera/consent checks and wait in the
lobby (``exam_lobby``: joined, last seen, which checks passed). Their forms are drawn,
shuffled and frozen in advance (``prepared_forms``/``prepared_items``): by the
administrator's "prepare" action, by the background task from ``lead_s`` before the
opening (in batches), or for one student when they enter the lobby. Starting then inserts
the attempt and moves the items; each student's clock starts when they start.

Preparing never touches attempts: a prepared form is not an attempt and E2 is still the
unique attempt index. A student who already has an attempt (or a form) is skipped, and
concurrent preparers collide on the form's primary key instead of drawing twice.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from question_bank.api import PublishedItems

from .. import db_bulk as bulk
from ..domain import exam_day
from ..domain.actors import Actor
from ..domain.roles import Permission
from ..errors import Conflict, NotFound
from ..exam_day_tables import exam_lobby, prepared_forms, prepared_items, student_terms
from ..i18n import N_
from ..tables import attempts, exam_groups, exams, group_members, users
from . import forms
from .audit import record
from .upsert import upsert

DEFAULT_LEAD_S = 30 * 60
DEFAULT_BATCH = 200
ITEMS_CHUNK = 25
"""Students whose drawn items go in one statement: drawing and encoding a batch of 200 in one go
held the event loop ~100 ms (sign-ins beside it waited); 25 at a time, ~10 ms."""
CHECKS = ("camera", "microphone", "consent")

_UNPREPARED = (
    select(users.c.id, users.c.language)
    .select_from(
        group_members.join(exam_groups, exam_groups.c.group_id == group_members.c.group_id)
        .join(users, users.c.id == group_members.c.student_id)
        .outerjoin(
            prepared_forms,
            and_(prepared_forms.c.exam_id == bindparam("exam_id"), prepared_forms.c.student_id == users.c.id),
        )
        .outerjoin(
            attempts,
            and_(
                attempts.c.student_id == users.c.id,
                attempts.c.discipline_id == bindparam("discipline_id"),
                attempts.c.exam_session_id == bindparam("exam_session_id"),
            ),
        )
    )
    .where(exam_groups.c.exam_id == bindparam("exam_id"), group_members.c.left_at.is_(None))
    .where(prepared_forms.c.student_id.is_(None), attempts.c.id.is_(None))
    .distinct()
    .order_by(users.c.id)
)
_EXAM = select(
    exams.c.id,
    exams.c.question_count,
    exams.c.discipline_id,
    exams.c.exam_session_id,
    exams.c.opens_at,
    exams.c.closes_at,
).where(exams.c.id == bindparam("exam_id"))
_DUE = select(exams.c.id).where(exams.c.opens_at <= bindparam("horizon"), exams.c.closes_at > bindparam("now"))


async def prepare_forms(
    conn: AsyncConnection,
    actor: Actor | str,
    exam_id: int,
    *,
    now: datetime,
    bank_cache: PublishedItems,
    limit: int = DEFAULT_BATCH,
    student_id: int | None = None,
    rng: random.Random | None = None,
) -> dict:
    """Draw and freeze forms for up to ``limit`` students who have neither a form nor an attempt."""
    if isinstance(actor, Actor):
        actor.require(Permission.MANAGE_EXAMS)
    exam = (await conn.execute(_EXAM, {"exam_id": exam_id})).first()
    if exam is None:
        raise NotFound("exam_not_found", N_("No such exam."))
    stmt = _UNPREPARED if student_id is None else _UNPREPARED.where(users.c.id == student_id)
    params = {"exam_id": exam_id, "discipline_id": exam.discipline_id, "exam_session_id": exam.exam_session_id}
    pending = (await conn.execute(stmt.limit(limit + 1), params)).all()
    batch = pending[:limit]
    banks = await forms.exam_banks_by_language(conn, exam_id) if batch else {}
    language = {student.id: forms.choose_language(banks, None, student.language) for student in batch}
    # The whole batch's forms claimed in one statement; a student another preparer got first is
    # not returned and not drawn. Then the claimed forms' items, ITEMS_CHUNK students a statement.
    claimed = set(
        await bulk.insert_many(
            conn,
            prepared_forms,
            [
                {
                    "exam_id": exam_id,
                    "student_id": student.id,
                    "language": language[student.id],
                    "question_count": exam.question_count,
                    "prepared_at": now,
                }
                for student in batch
            ],
            skip_conflicts_on=["exam_id", "student_id"],
            returning="student_id",
        )
    )
    drawn = [student for student in batch if student.id in claimed]
    for start in range(0, len(drawn), ITEMS_CHUNK):
        items: list[dict[str, Any]] = []
        for student in drawn[start : start + ITEMS_CHUNK]:
            form = await forms.draw(conn, exam_id, banks[language[student.id]], exam.question_count, bank_cache, rng)
            items += forms.item_rows(form, exam_id=exam_id, student_id=student.id)
        await bulk.insert_many(conn, prepared_items, items)
    prepared = len(claimed)
    if prepared:
        await record(conn, now, actor, "exam.forms_prepared", f"exam:{exam_id}", None, {"count": prepared})
    return {"exam_id": exam_id, "prepared": prepared, "more": len(pending) > limit}


async def prepare_due(
    conn: AsyncConnection,
    *,
    now: datetime,
    bank_cache: PublishedItems,
    lead_s: float = DEFAULT_LEAD_S,
    batch: int | None = None,
) -> int:
    """The background step: one batch (``DEFAULT_BATCH``) for every exam opening within ``lead_s`` (or open now)."""
    batch = batch or DEFAULT_BATCH
    await forms.clear_spent(conn)
    total = 0
    for exam_id in (await conn.execute(_DUE, {"horizon": now + timedelta(seconds=lead_s), "now": now})).scalars():
        total += (await prepare_forms(conn, "system:prepare", exam_id, now=now, bank_cache=bank_cache, limit=batch))[
            "prepared"
        ]
    return total


_LOBBY_EXAM = (
    select(
        exams.c.id,
        exams.c.title,
        exams.c.opens_at,
        exams.c.closes_at,
        exams.c.duration_s,
        exams.c.requires_proctoring,
        student_terms.c.opens_at.label("personal_opens_at"),
        student_terms.c.closes_at.label("personal_closes_at"),
        prepared_forms.c.prepared_at,
        attempts.c.id.label("attempt_id"),
        attempts.c.status,
    )
    .select_from(
        exams.outerjoin(
            student_terms,
            and_(student_terms.c.exam_id == exams.c.id, student_terms.c.student_id == bindparam("student_id")),
        )
        .outerjoin(
            prepared_forms,
            and_(prepared_forms.c.exam_id == exams.c.id, prepared_forms.c.student_id == bindparam("student_id")),
        )
        .outerjoin(
            attempts,
            and_(
                attempts.c.student_id == bindparam("student_id"),
                attempts.c.discipline_id == exams.c.discipline_id,
                attempts.c.exam_session_id == exams.c.exam_session_id,
            ),
        )
    )
    .where(exams.c.id == bindparam("exam_id"))
    .where(
        exams.c.id.in_(
            select(exam_groups.c.exam_id)
            .join(group_members, group_members.c.group_id == exam_groups.c.group_id)
            .where(group_members.c.student_id == bindparam("student_id"), group_members.c.left_at.is_(None))
        )
    )
)


def _checks(raw: Any) -> dict[str, bool]:
    raw = raw if isinstance(raw, dict) else {}
    return {name: raw.get(name) is True for name in CHECKS}


async def join_lobby(
    conn: AsyncConnection,
    actor: Actor,
    exam_id: int,
    *,
    checks: Any,
    now: datetime,
    bank_cache: PublishedItems,
    lead_s: float = DEFAULT_LEAD_S,
) -> dict:
    """The student is here (and says which checks passed); their form is prepared if it is time."""
    actor.require(Permission.SIT_EXAM)
    key = {"exam_id": exam_id, "student_id": actor.user_id}
    row = (await conn.execute(_LOBBY_EXAM, key)).first()
    if row is None:
        raise NotFound("exam_not_found", N_("No such exam is assigned to you."))
    window = exam_day.effective_window(row.opens_at, row.closes_at, row.personal_opens_at, row.personal_closes_at)
    if row.attempt_id is None:
        exam_day.check_lobby_open(window, now)
    elif row.status not in ("checks", "in_progress", "paused"):
        raise Conflict(
            "retake_forbidden", N_("You have already sat this exam in this session; a retake is not allowed.")
        )
    passed = _checks(checks)
    stmt = upsert(
        conn,
        exam_lobby,
        ("exam_id", "student_id", "joined_at", "last_seen_at", "checks"),
        ["exam_id", "student_id"],
        ["last_seen_at", "checks"],
    )
    await conn.execute(stmt, {**key, "joined_at": now, "last_seen_at": now, "checks": passed})
    prepared = row.prepared_at is not None
    if not prepared and row.attempt_id is None and exam_day.prepare_due(window.opens_at, window.closes_at, now, lead_s):
        prepared = (
            await prepare_forms(
                conn, "system:prepare", exam_id, now=now, bank_cache=bank_cache, limit=1, student_id=actor.user_id
            )
        )["prepared"] == 1
    return {
        "exam": {
            "id": row.id,
            "title": row.title,
            "opens_at": window.opens_at.isoformat(),
            "closes_at": window.closes_at.isoformat(),
            "duration_s": row.duration_s,
            "requires_proctoring": row.requires_proctoring,
        },
        "server_now": now.isoformat(),
        "opens_in_s": max(0.0, (window.opens_at - now).total_seconds()),
        "can_start": window.opens_at <= now < window.closes_at,
        "checks": passed,
        "form_prepared": prepared,
        "attempt": None if row.attempt_id is None else {"id": str(row.attempt_id), "status": row.status},
    }
