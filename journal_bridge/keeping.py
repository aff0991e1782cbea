"""Keeping the journal: the use cases that change it (R4, J4–J7, J11).

Each takes the acting person as :class:`journal_bridge.rules.Actor`, ``now`` and an
``audit`` sink, runs in the caller's transaction, asks the pure rules
(:mod:`journal_bridge.rules`, :mod:`journal_bridge.corrections`) and only then writes.
A cell is never overwritten directly once it holds a value: the change is a
correction a deputy head approves, applied with the old value kept in the history.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from journal_bridge.corrections import Correction, CorrectionState, apply_correction, review_correction
from journal_bridge.corrections import file_correction as file_pure
from journal_bridge.errors import CellInvalid, CorrectionInvalid, JournalConflict, JournalDenied, JournalNotFound
from journal_bridge.marks import DEFAULT_MARKS, MarkSet, parse_cell
from journal_bridge.rules import (
    DEFAULT_POLICY,
    Action,
    Actor,
    ChangePolicy,
    Reason,
    Role,
    Verdict,
    decide_change,
    within_reach,
)
from journal_bridge.scale import DEFAULT_SCALE
from journal_bridge.store import (
    LESSON_KINDS,
    AuditSink,
    cell_dict,
    cell_of,
    insert_ignore,
    load_access,
    load_journal,
    load_lesson,
    read_cell,
    refresh_admissions,
    write_cell,
)
from journal_bridge.tables import (
    academic_periods,
    journal_cells,
    journal_corrections,
    journal_lessons,
    journal_substitutes,
    journal_teachers,
    journals,
)

CORRECTION_ACTIONS = ("change", "delete_grade", "delete_lesson")


def _subject(journal_id: int) -> str:
    return f"journal:{journal_id}"


async def ensure_period(conn: AsyncConnection, code: str, closes_at: datetime) -> None:
    """Create the academic period if it is new; an existing one keeps its dates."""
    await conn.execute(insert_ignore(conn, academic_periods, {"code": code, "closes_at": closes_at}, ["code"]))


async def create_journal(
    conn: AsyncConnection,
    *,
    group_code: str,
    discipline_code: str,
    period_code: str,
    period_closes_at: datetime,
    institution: str,
    by: str,
    now: datetime,
    audit: AuditSink,
) -> int:
    """A journal for group × discipline × period; the period is created on first use."""
    await ensure_period(conn, period_code, period_closes_at)
    key = {"group_code": group_code, "discipline_code": discipline_code, "period_code": period_code}
    inserted = await conn.execute(
        insert_ignore(
            conn, journals, {**key, "institution": institution, "created_at": now, "created_by": by}, list(key)
        ).returning(journals.c.id)
    )
    new_id = inserted.scalar()
    if new_id is None:
        raise JournalConflict("journal_exists", group=group_code, discipline=discipline_code, period=period_code)
    await audit("journal.created", _subject(new_id), None, {**key, "institution": institution})
    return int(new_id)


async def assign_teacher(
    conn: AsyncConnection, journal_id: int, teacher_id: str, *, by: str, now: datetime, audit: AuditSink
) -> None:
    """Assign a teacher to the journal (R4); assigning twice changes nothing."""
    await load_journal(conn, journal_id)
    done = await conn.execute(
        insert_ignore(
            conn,
            journal_teachers,
            {"journal_id": journal_id, "teacher_id": teacher_id, "assigned_at": now, "assigned_by": by},
            ["journal_id", "teacher_id"],
        )
    )
    if done.rowcount:
        await audit("journal.teacher_assigned", _subject(journal_id), None, {"teacher_id": teacher_id})


MAX_REASON = 500


async def remove_teacher(
    conn: AsyncConnection,
    journal_id: int,
    teacher_id: str,
    *,
    reason: str,
    by: str,
    now: datetime,
    audit: AuditSink,
) -> None:
    """Withdraw a teacher from the journal (R4), with a reason; the rules read the rows on every request,
    so the teacher's next request to this journal is refused, also from a session opened before."""
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionInvalid("removal_reason_missing")
    if len(reason) > MAX_REASON:
        raise CorrectionInvalid("removal_reason_too_long", limit=MAX_REASON)
    await load_journal(conn, journal_id)
    row = (
        await conn.execute(
            select(journal_teachers.c.assigned_at).where(
                journal_teachers.c.journal_id == journal_id, journal_teachers.c.teacher_id == teacher_id
            )
        )
    ).first()
    if row is None:
        raise JournalConflict("teacher_not_assigned")
    await conn.execute(
        delete(journal_teachers).where(
            journal_teachers.c.journal_id == journal_id, journal_teachers.c.teacher_id == teacher_id
        )
    )
    await audit(
        "journal.teacher_removed",
        _subject(journal_id),
        {"teacher_id": teacher_id, "assigned_at": row.assigned_at.isoformat()},
        {"teacher_id": None, "reason": reason},
    )


async def grant_substitute(
    conn: AsyncConnection,
    actor: Actor,
    journal_id: int,
    teacher_id: str,
    *,
    valid_from: datetime,
    valid_until: datetime,
    reason: str,
    now: datetime,
    audit: AuditSink,
) -> int:
    """The faculty head's time-bound permission for a substitute teacher (J7)."""
    if Role.FACULTY_HEAD not in actor.roles:
        raise JournalDenied("grant_needs_faculty_head")
    if valid_until <= valid_from:
        raise JournalConflict("substitute_window_invalid")
    if not reason.strip():
        raise CorrectionInvalid("correction_reason_missing")
    found = await load_journal(conn, journal_id)
    if not within_reach(actor, found.group_code, found.discipline_code):
        raise JournalNotFound("journal_not_found")  # another faculty's journal: as if missing (issue 19)
    new_id = (
        await conn.execute(
            journal_substitutes.insert()
            .values(
                journal_id=journal_id,
                teacher_id=teacher_id,
                valid_from=valid_from,
                valid_until=valid_until,
                granted_by=actor.user_id,
                granted_by_role=Role.FACULTY_HEAD.value,
                granted_at=now,
                reason=reason.strip(),
            )
            .returning(journal_substitutes.c.id)
        )
    ).scalar_one()
    await audit(
        "journal.substitute_granted",
        _subject(journal_id),
        None,
        {"teacher_id": teacher_id, "valid_from": valid_from, "valid_until": valid_until, "reason": reason},
    )
    return int(new_id)


def _refuse(reason: Reason) -> None:
    """A denial is 403-like; a change that needs a correction is a conflict the person can resolve."""
    raise JournalDenied(str(reason))


async def add_lesson(
    conn: AsyncConnection,
    actor: Actor,
    journal_id: int,
    *,
    held_on: date,
    kind: str,
    topic: str,
    now: datetime,
    audit: AuditSink,
    policy: ChangePolicy = DEFAULT_POLICY,
) -> int:
    """Record a held lesson (or midterm control). Not for a future day, not after the period closes."""
    if kind not in LESSON_KINDS:
        raise CellInvalid("lesson_kind_invalid", kind=kind)
    journal = await load_journal(conn, journal_id)
    decision = decide_change(actor, await load_access(conn, journal), Action.ENTER, held_on, now, policy=policy)
    if decision.verdict is Verdict.DENY or decision.reason is Reason.PERIOD_CLOSED:
        _refuse(decision.reason)
    new_id = (
        await conn.execute(
            journal_lessons.insert()
            .values(
                journal_id=journal_id,
                held_on=held_on,
                kind=kind,
                topic=topic.strip()[:300],
                created_at=now,
                created_by=actor.user_id,
            )
            .returning(journal_lessons.c.id)
        )
    ).scalar_one()
    await audit(
        "journal.lesson_added",
        _subject(journal_id),
        None,
        {"lesson_id": new_id, "held_on": held_on.isoformat(), "kind": kind, "topic": topic},
    )
    return int(new_id)


def _check_student(student_id: str, roster: Collection[str]) -> None:
    if student_id not in roster:
        raise JournalNotFound("student_not_in_journal", student=student_id)


async def enter_cell(
    conn: AsyncConnection,
    actor: Actor,
    journal_id: int,
    lesson_id: int,
    student_id: str,
    typed: str,
    *,
    roster: Collection[str],
    now: datetime,
    audit: AuditSink,
    marks: MarkSet = DEFAULT_MARKS,
    policy: ChangePolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """A first entry within the entry window (J4). Anything else raises: file a correction (J6)."""
    _check_student(student_id, roster)
    journal = await load_journal(conn, journal_id)
    lesson = await load_lesson(conn, journal_id, lesson_id)
    new = parse_cell(typed, marks)
    old = await read_cell(conn, lesson_id, student_id, lock=True)
    if old == new:
        return {"changed": False, "cell": cell_dict(new)}  # a repeated request is harmless
    action = Action.ENTER if old is None else Action.CHANGE
    decision = decide_change(actor, await load_access(conn, journal), action, lesson.held_on, now, policy=policy)
    if decision.verdict is Verdict.DENY:
        _refuse(decision.reason)
    if decision.verdict is Verdict.NEEDS_CORRECTION:
        raise CorrectionInvalid(str(decision.reason))
    await write_cell(conn, journal_id, lesson_id, student_id, new, by=actor.user_id, now=now, reason="entry")
    await refresh_admissions(conn, journal_id, [student_id], now)
    await audit(
        "journal.cell_entered",
        _subject(journal_id),
        None,
        {"lesson_id": lesson_id, "student_id": student_id, **(cell_dict(new) or {})},
    )
    return {"changed": True, "cell": cell_dict(new)}


async def file_correction(
    conn: AsyncConnection,
    actor: Actor,
    journal_id: int,
    lesson_id: int,
    *,
    student_id: str | None,
    action: str,
    typed: str | None,
    reason: str,
    roster: Collection[str],
    now: datetime,
    audit: AuditSink,
    marks: MarkSet = DEFAULT_MARKS,
    policy: ChangePolicy = DEFAULT_POLICY,
) -> int:
    """File a correction: a late entry, a changed value, a deleted grade or a deleted lesson (J6)."""
    if action not in CORRECTION_ACTIONS:
        raise CorrectionInvalid("correction_action_invalid", action=action)
    journal = await load_journal(conn, journal_id)
    lesson = await load_lesson(conn, journal_id, lesson_id)
    old = new = None
    unsatisfactory = False
    if action == "delete_lesson":
        student_id, rule_action = None, Action.DELETE_LESSON
    else:
        if student_id is None:
            raise JournalNotFound("student_not_in_journal", student="")
        _check_student(student_id, roster)
        old = await read_cell(conn, lesson_id, student_id)
        if action == "change":
            if not typed:
                raise CorrectionInvalid("correction_value_missing")
            new = parse_cell(typed, marks)
            if new == old:
                raise JournalConflict("cell_unchanged")
            rule_action = Action.ENTER if old is None else Action.CHANGE
        else:
            if old is None:
                raise CellInvalid("cell_empty")
            rule_action = Action.DELETE_GRADE
            unsatisfactory = old.score is not None and old.score < DEFAULT_SCALE.exam_threshold
    pure = file_pure(
        actor,
        await load_access(conn, journal),
        correction_id="new",
        student_id=student_id,
        lesson_date=lesson.held_on,
        action=rule_action,
        old_value=old,
        new_value=new,
        reason=reason,
        now=now,
        grade_unsatisfactory=unsatisfactory,
        policy=policy,
    )
    new_id = (
        await conn.execute(
            journal_corrections.insert()
            .values(
                journal_id=journal_id,
                lesson_id=lesson_id,
                student_id=student_id,
                action=str(pure.action),
                old_score=old.score if old else None,
                old_mark=old.mark if old else None,
                new_score=new.score if new else None,
                new_mark=new.mark if new else None,
                reason=pure.reason,
                filed_by=actor.user_id,
                filed_at=now,
                approver_role=str(pure.approver_role),
                state=str(pure.state),
            )
            .returning(journal_corrections.c.id)
        )
    ).scalar_one()
    await audit(
        "journal.correction_filed",
        _subject(journal_id),
        cell_dict(old),
        {
            "correction_id": new_id,
            "lesson_id": lesson_id,
            "student_id": student_id,
            "action": str(pure.action),
            "new": cell_dict(new),
            "reason": pure.reason,
            "approver_role": str(pure.approver_role),
        },
    )
    return int(new_id)


CORRECTION_ROWS = select(journal_corrections, journal_lessons.c.held_on).select_from(
    journal_corrections.join(journal_lessons, journal_lessons.c.id == journal_corrections.c.lesson_id)
)


def correction_of(row: Any) -> Correction:
    return Correction(
        str(row.id),
        str(row.journal_id),
        row.student_id,
        row.held_on,
        Action(row.action),
        cell_of(row.old_score, row.old_mark),
        cell_of(row.new_score, row.new_mark),
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


async def review(
    conn: AsyncConnection,
    actor: Actor,
    correction_id: int,
    *,
    approve: bool,
    note: str | None,
    now: datetime,
    audit: AuditSink,
    policy: ChangePolicy = DEFAULT_POLICY,
) -> str:
    """Approve (and apply at once, even after the period closed) or reject a correction; returns its state."""
    row = (
        await conn.execute(
            CORRECTION_ROWS.where(journal_corrections.c.id == correction_id).with_for_update(of=journal_corrections)
        )
    ).first()
    if row is None:
        raise JournalNotFound("correction_not_found")
    found = await load_journal(conn, row.journal_id)
    if not within_reach(actor, found.group_code, found.discipline_code):
        raise JournalNotFound("correction_not_found")  # another faculty's: as if missing (issue 19)
    reviewed = review_correction(actor, correction_of(row), approve=approve, now=now, note=note, policy=policy)
    if approve:
        await _apply(conn, row, reviewed, actor, now)
        reviewed = apply_correction(reviewed, now)
    await conn.execute(
        update(journal_corrections)
        .where(journal_corrections.c.id == correction_id)
        .values(
            state=str(reviewed.state),
            reviewed_by=actor.user_id,
            reviewed_at=now,
            review_note=note,
            applied_at=reviewed.applied_at,
        )
    )
    await audit(
        f"journal.correction_{'approved' if approve else 'rejected'}",
        _subject(row.journal_id),
        {"state": row.state},
        {"correction_id": correction_id, "state": str(reviewed.state), "note": note},
    )
    return str(reviewed.state)


async def _apply(conn: AsyncConnection, row: Any, correction: Correction, actor: Actor, now: datetime) -> None:
    why = f"correction {row.id}: {row.reason}"
    if correction.action is Action.DELETE_LESSON:
        await conn.execute(
            update(journal_lessons)
            .where(journal_lessons.c.id == row.lesson_id)
            .values(deleted_at=now, deleted_by=actor.user_id)
        )
        students = (
            (await conn.execute(select(journal_cells.c.student_id).where(journal_cells.c.lesson_id == row.lesson_id)))
            .scalars()
            .all()
        )
        await refresh_admissions(conn, row.journal_id, students, now)
        return
    new = None if correction.action is Action.DELETE_GRADE else correction.new_value
    await write_cell(
        conn,
        row.journal_id,
        row.lesson_id,
        row.student_id,
        new,
        by=actor.user_id,
        now=now,
        reason=why,
        correction_id=row.id,
    )
    await refresh_admissions(conn, row.journal_id, [row.student_id], now)


async def lock_period(conn: AsyncConnection, period_code: str, *, by: str, now: datetime, audit: AuditSink) -> None:
    """Close the academic period now (J5): afterwards only approved corrections change a journal."""
    row = (
        await conn.execute(select(academic_periods).where(academic_periods.c.code == period_code).with_for_update())
    ).first()
    if row is None:
        raise JournalNotFound("period_not_found", period=period_code)
    if row.locked_at is not None:
        raise JournalConflict("period_already_locked", period=period_code)
    await conn.execute(
        update(academic_periods).where(academic_periods.c.code == period_code).values(locked_at=now, locked_by=by)
    )
    await audit("journal.period_locked", f"period:{period_code}", {"closes_at": row.closes_at}, {"locked_at": now})


async def correction_journal_id(conn: AsyncConnection, correction_id: int) -> int | None:
    """The journal a correction belongs to (None if there is no such correction)."""
    return (
        await conn.execute(select(journal_corrections.c.journal_id).where(journal_corrections.c.id == correction_id))
    ).scalar()
