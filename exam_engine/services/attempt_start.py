"""Starting an exam: the one step that creates an attempt, and the only insert into ``attempts``.

E2 (one attempt per student, discipline and exam session) is the unique index; the
insert is ``ON CONFLICT DO NOTHING`` and a loser of a concurrent race resumes or is
refused. A form prepared in advance (:mod:`.lobby`) is moved onto the attempt with one
``INSERT … SELECT``; otherwise the form is drawn now. The new attempt is bound to the
session that started it (:mod:`.attempt_binding`).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from question_bank.api import PublishedItems

from .. import db_bulk as bulk
from ..domain import attempts as rules
from ..domain import exam_day
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus
from ..domain.roles import Permission
from ..errors import Conflict, NotFound
from ..exam_day_tables import attempt_live, prepared_forms, student_terms
from ..i18n import N_
from ..tables import accommodations, attempt_items, attempts, exam_groups, exams, group_members
from . import attempt_binding as binding
from . import forms
from .attempt_page import page
from .audit import audit_row, record_many
from .upsert import insert_ignore_prepared

# One round trip: the exam (if assigned to the student), their attempt if any (with its session binding),
# their accommodation and personal terms, and whether a form was prepared in advance (in which language).
_EXAM_FOR_STUDENT = (
    select(
        exams.c.id,
        exams.c.title,
        exams.c.discipline_id,
        exams.c.exam_session_id,
        exams.c.question_count,
        exams.c.duration_s,
        exams.c.opens_at,
        exams.c.closes_at,
        exams.c.timeout_policy,
        exams.c.pass_score,
        exams.c.requires_proctoring,
        accommodations.c.extra_s,
        student_terms.c.opens_at.label("personal_opens_at"),
        student_terms.c.closes_at.label("personal_closes_at"),
        student_terms.c.multiplier_pct,
        prepared_forms.c.language.label("prepared_language"),
        attempts.c.id.label("attempt_id"),
        attempts.c.status.label("attempt_status"),
        attempt_live.c.bound_session,
        attempt_live.c.released_session,
    )
    .select_from(
        exams.outerjoin(
            attempts,
            and_(
                attempts.c.student_id == bindparam("student_id"),
                attempts.c.discipline_id == exams.c.discipline_id,
                attempts.c.exam_session_id == exams.c.exam_session_id,
            ),
        )
        .outerjoin(attempt_live, attempt_live.c.attempt_id == attempts.c.id)
        .outerjoin(
            accommodations,
            and_(accommodations.c.exam_id == exams.c.id, accommodations.c.student_id == bindparam("student_id")),
        )
        .outerjoin(
            student_terms,
            and_(student_terms.c.exam_id == exams.c.id, student_terms.c.student_id == bindparam("student_id")),
        )
        .outerjoin(
            prepared_forms,
            and_(prepared_forms.c.exam_id == exams.c.id, prepared_forms.c.student_id == bindparam("student_id")),
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

_EXISTING_ATTEMPT = (
    select(attempts.c.id, attempts.c.status, *binding.LIVE_COLUMNS)
    .select_from(binding.live_join(attempts))
    .where(
        attempts.c.student_id == bindparam("student_id"),
        attempts.c.discipline_id == bindparam("discipline_id"),
        attempts.c.exam_session_id == bindparam("exam_session_id"),
    )
)


def _retake_forbidden() -> Conflict:
    return Conflict(
        "retake_forbidden",
        N_("You have already sat this exam in this session; a retake is not allowed."),
    )


_ATTEMPT_COLUMNS = (
    "id",
    "exam_id",
    "language",
    "status",
    "started_at",
    "deadline_at",
    "question_count",
    "timeout_policy",
    "pass_score",
    "student_id",
    "discipline_id",
    "exam_session_id",
)
_E2_KEY = ("student_id", "discipline_id", "exam_session_id")
_PAGE_COLUMNS = ("position", "text", "options")


@dataclass(frozen=True)
class Started:
    """The attempt started or resumed; for a new one, also what its page shows (no answers yet)."""

    attempt_id: uuid.UUID
    page: dict | None = None


async def start(
    conn: AsyncConnection,
    actor: Actor,
    exam_id: int,
    *,
    language: str | None,
    now: datetime,
    bank_cache: PublishedItems,
    rng: random.Random | None = None,
    session: str | None = None,
) -> uuid.UUID:
    """Start the exam, or resume the attempt already in progress (E2: never a second one).

    ``session`` (the SHA-256 of the session token) binds the new attempt to this browser;
    resuming from another one is refused (``attempt_open_elsewhere``). With a form prepared
    in advance in the chosen language, the start is: insert the attempt, move the items.
    """
    return (
        await start_with_page(
            conn, actor, exam_id, language=language, now=now, bank_cache=bank_cache, rng=rng, session=session
        )
    ).attempt_id


async def start_with_page(
    conn: AsyncConnection,
    actor: Actor,
    exam_id: int,
    *,
    language: str | None,
    now: datetime,
    bank_cache: PublishedItems,
    rng: random.Random | None = None,
    session: str | None = None,
) -> Started:
    """:func:`start`, and for a new attempt its page, built from what was just written (the
    opening minute's storm then reads nothing back: no attempt, items or answers query)."""
    actor.require(Permission.SIT_EXAM)
    exam = (await conn.execute(_EXAM_FOR_STUDENT, {"exam_id": exam_id, "student_id": actor.user_id})).first()
    if exam is None:
        raise NotFound("exam_not_found", N_("No such exam is assigned to you."))
    key = {"student_id": actor.user_id, "discipline_id": exam.discipline_id, "exam_session_id": exam.exam_session_id}
    if exam.attempt_id is not None:
        return Started(await _resume_or_refuse(conn, actor, exam.attempt_id, exam.attempt_status, exam, session, now))
    window = exam_day.effective_window(exam.opens_at, exam.closes_at, exam.personal_opens_at, exam.personal_closes_at)
    rules.check_can_start(now, window.opens_at, window.closes_at)
    wanted = language or actor.language
    banks: dict[str, int] = {}
    if exam.prepared_language is not None and exam.prepared_language == wanted:
        lang = wanted  # prepared in this language: its bank exists, no need to look
    else:
        banks = await forms.exam_banks_by_language(conn, exam_id)
        lang = forms.choose_language(banks, language, actor.language)

    extra = rules.accommodated_extra_s(exam.duration_s, exam.extra_s or 0, exam.multiplier_pct or 100)
    attempt_id = uuid.uuid4()
    # A proctored exam starts in its device checks: no clock yet (the deadline holds the window close
    # until the checks pass, see attempt_checks); any other exam's clock starts now.
    status = AttemptStatus.CHECKS if exam.requires_proctoring else AttemptStatus.IN_PROGRESS
    if status is AttemptStatus.CHECKS:
        deadline = window.closes_at
    else:
        deadline = rules.compute_deadline(now, exam.duration_s, extra, window.closes_at)
    row = {
        "id": attempt_id,
        "exam_id": exam_id,
        "language": lang,
        "status": status.value,
        "started_at": now,
        "deadline_at": deadline,
        "question_count": exam.question_count,
        "timeout_policy": exam.timeout_policy,
        "pass_score": exam.pass_score,
        **key,
    }
    inserted = await conn.execute(
        insert_ignore_prepared(conn, attempts, _ATTEMPT_COLUMNS, _E2_KEY, returning=("id",)), row
    )
    if inserted.first() is None:
        # A concurrent request created it between our check and our insert.
        existing = (await conn.execute(_EXISTING_ATTEMPT, key)).one()
        return Started(await _resume_or_refuse(conn, actor, existing.id, existing.status, existing, session, now))
    items: list[Any] = []
    if exam.prepared_language == lang:  # the prepared rows are cleared later, off the hot path
        items = await forms.move_prepared(conn, attempt_id, exam_id, actor.user_id or 0)
    elif exam.prepared_language is not None:
        await forms.drop_prepared(conn, exam_id, actor.user_id or 0)
    moved = bool(items)
    if not moved:
        banks = banks or await forms.exam_banks_by_language(conn, exam_id)
        form = await forms.draw(conn, exam_id, banks[lang], exam.question_count, bank_cache, rng)
        rows = forms.item_rows(form, attempt_id=attempt_id)
        await bulk.insert_many(conn, attempt_items, rows)
        items = [SimpleNamespace(**{c: r[c] for c in _PAGE_COLUMNS}) for r in rows]
    await binding.create(conn, attempt_id, session, now=now)
    await record_many(
        conn,
        [
            audit_row(
                now,
                actor,
                "attempt.started",
                f"attempt:{attempt_id}",
                None,
                {
                    "exam_id": exam_id,
                    "deadline_at": deadline,
                    "language": lang,
                    "prepared": moved,
                    "status": status.value,
                },
            )
        ],
    )
    return Started(attempt_id, _fresh_page(SimpleNamespace(**row, paused_at=None), items, now))


def _fresh_page(attempt: Any, items: list[Any], now: datetime) -> dict:
    """What :func:`exam_engine.services.attempts.view` shows of an attempt that has no answers yet."""
    return page(attempt, sorted(items, key=lambda it: it.position), {}, now)  # (no questions while in checks)


async def _resume_or_refuse(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    status: str,
    live: Any,
    session: str | None,
    now: datetime,
) -> uuid.UUID:
    """The existing attempt: resumed if open (from its own session only), otherwise E2 refuses."""
    if status in rules.OPEN_STATUSES:
        await binding.enforce(conn, actor, attempt_id, live, session, now=now)
        return attempt_id
    raise _retake_forbidden()
