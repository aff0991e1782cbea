"""Reading the journal: who sees which journal, the grid, histories, statements, a student's results.

The roster (student id → full name) comes from the caller: the journal knows students
only by id, and the group's composition lives with the exam server. The caller passes
the current members plus everyone who already has an entry (J11: a student who left
keeps their history).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from journal_bridge.bridge import result_of_row
from journal_bridge.collation import kazakh_sort_key
from journal_bridge.corrections import CorrectionState
from journal_bridge.errors import JournalDenied, JournalNotFound
from journal_bridge.grading import ExamStatus, GradeOutcome, grade_outcome, what_do_i_need
from journal_bridge.keeping import CORRECTION_ROWS, correction_of
from journal_bridge.marks import DEFAULT_MARKS, Cell, MarkSet
from journal_bridge.messages import MESSAGES
from journal_bridge.results import ExamResult
from journal_bridge.rules import DEFAULT_POLICY, Actor, JournalAccess, Role, within_reach
from journal_bridge.scale import DEFAULT_SCALE, GradingScale
from journal_bridge.statement import Statement, StatementHeader, StudentEntry, build_statement
from journal_bridge.stats import GroupStatistics
from journal_bridge.store import (
    Admission,
    Journal,
    load_access,
    load_admissions,
    load_cells,
    load_journal,
    load_journals,
    load_lessons,
    teacher_ids,
)
from journal_bridge.tables import (
    journal_cell_history,
    journal_corrections,
    journal_exam_result_history,
    journal_exam_results,
    journal_substitutes,
    journal_teachers,
    journals,
)


def may_keep(actor: Actor, access: JournalAccess, now: datetime) -> bool:
    """An assigned teacher (R4), or a substitute teacher inside a faculty head's window (J7). Both must be
    teachers: a window granted to another account (a student, the system administrator) opens nothing."""
    if Role.TEACHER not in actor.roles:
        return False
    if actor.user_id in access.teacher_ids:
        return True
    return any(
        p.teacher_id == actor.user_id and p.granted_by_role is Role.FACULTY_HEAD and p.valid_from <= now < p.valid_until
        for p in access.substitutes
    )


async def check_view(conn: AsyncConnection, actor: Actor, journal: Journal, now: datetime, *, staff: bool) -> bool:
    """Raise unless ``actor`` may see the journal; returns whether they may also keep it."""
    keeps = may_keep(actor, await load_access(conn, journal), now)
    if not keeps and not staff:
        raise JournalDenied("journal_view_denied")
    if not keeps and not within_reach(actor, journal.group_code, journal.discipline_code):
        raise JournalNotFound("journal_not_found")  # another faculty's or department's: as if missing
    return keeps


async def visible_journals(conn: AsyncConnection, actor: Actor, now: datetime, *, staff: bool) -> list[Journal]:
    """Staff see every journal; a teacher the assigned ones and those with a live substitute permission."""
    if staff:
        return [j for j in await load_journals(conn) if within_reach(actor, j.group_code, j.discipline_code)]
    assigned = select(journal_teachers.c.journal_id).where(journal_teachers.c.teacher_id == actor.user_id)
    substitute = select(journal_substitutes.c.journal_id).where(
        journal_substitutes.c.teacher_id == actor.user_id, journal_substitutes.c.valid_until > now
    )
    ids = set((await conn.execute(assigned)).scalars()) | set((await conn.execute(substitute)).scalars())
    return await load_journals(conn, ids)


class Roster(dict[str, str]):
    """Student id -> the name shown, and the results of those students that another journal owns.

    A result belongs to the journal of the group the student was in when they sat the exam (the
    edge knows group membership and its history; the journal only ids): after a transfer, the old
    group's journal keeps that exam (J11, J8: its statement), and the new group's journal shows the
    student without it. ``elsewhere`` holds those attempt ids; they are never shown in this journal.
    """

    def __init__(self, names: Mapping[str, str] | None = None, elsewhere: Iterable[str] = ()) -> None:
        super().__init__(names or {})
        self.elsewhere = frozenset(elsewhere)


def _elsewhere(roster: Mapping[str, str]) -> frozenset[str]:
    return roster.elsewhere if isinstance(roster, Roster) else frozenset()


async def latest_results(
    conn: AsyncConnection, discipline_code: str, student_ids: Iterable[str], *, exclude: Iterable[str] = ()
) -> dict[str, ExamResult]:
    """Each student's latest exam result in the discipline (a later session's sitting replaces an earlier one).

    "Latest" is the sitting's order: when its result first reached the journal (``received_at``,
    never changed by a newer version), not ``graded_at`` — a regrade or an annulment of an earlier
    sitting carries a new ``graded_at`` and would otherwise replace a later sitting's result.
    """
    stmt = (
        select(journal_exam_results)
        .where(
            journal_exam_results.c.discipline_code == discipline_code,
            journal_exam_results.c.student_id.in_(list(student_ids)),
            journal_exam_results.c.attempt_id.not_in(list(exclude)),
        )
        .order_by(
            journal_exam_results.c.received_at, journal_exam_results.c.graded_at, journal_exam_results.c.attempt_id
        )
    )
    return {r.student_id: result_of_row(r) for r in await conn.execute(stmt)}


def outcome(
    admission: Admission | None, result: ExamResult | None, scale: GradingScale = DEFAULT_SCALE
) -> GradeOutcome | None:
    """The student's standing; None while the admission rating is incomplete."""
    if admission is None or admission.admission is None:
        return None
    status = ExamStatus(result.status) if result else None
    return grade_outcome(admission.admission, result.score if result else None, scale, status)


def outcome_dict(o: GradeOutcome | None, language: str, translate: Any) -> dict[str, Any]:
    status = "admission_pending" if o is None else str(o.status)
    computed = o is not None and o.total is not None
    return {
        "total": o.total if computed else None,
        "total_computed": computed,
        "letter": o.letter if o else None,
        "gpa": str(o.band.gpa) if o and o.band else None,
        "traditional": o.traditional(language) if o else None,
        "status": status,
        "status_label": translate(language, MESSAGES[f"status_{status}"]),
    }


def _exam_dict(result: ExamResult | None, changed: Mapping[str, int | None] | None = None) -> dict[str, Any] | None:
    """The exam column's value; ``corrected_from`` is the score before its first change (a regrade or
    an approved result correction, J11), absent when it never changed."""
    if result is None:
        return None
    out = {
        "attempt_id": result.attempt_id,
        "score": result.score,
        "status": str(result.status),
        "graded_at": result.graded_at,
        "version": result.version,
    }
    if changed and result.attempt_id in changed:
        out["corrected_from"] = changed[result.attempt_id]
    return out


async def first_scores(conn: AsyncConnection, attempt_ids: Iterable[str]) -> dict[str, int | None]:
    """attempt id -> its exam result's score before the first change, for results that changed."""
    ids = list(attempt_ids)
    if not ids:
        return {}
    stmt = (
        select(journal_exam_result_history.c.attempt_id, journal_exam_result_history.c.old_score)
        .where(journal_exam_result_history.c.attempt_id.in_(ids))
        .order_by(journal_exam_result_history.c.id)
    )
    out: dict[str, int | None] = {}
    for r in await conn.execute(stmt):
        out.setdefault(r.attempt_id, r.old_score)
    return out


def _display(cell: Cell, marks: MarkSet, language: str) -> dict[str, Any]:
    return {"value": cell.display(language, marks), "score": cell.score, "mark": cell.mark}


async def grid(
    conn: AsyncConnection,
    journal: Journal,
    roster: Mapping[str, str],
    *,
    language: str,
    translate: Any,
    marks: MarkSet = DEFAULT_MARKS,
    scale: GradingScale = DEFAULT_SCALE,
) -> dict[str, Any]:
    """The journal page: lessons, students in Kazakh order, cells, admission, exam, total, letter, status."""
    lessons = await load_lessons(conn, journal.id)
    cells = await load_cells(conn, journal.id)
    admissions = await load_admissions(conn, journal.id)
    results = await latest_results(conn, journal.discipline_code, roster, exclude=_elsewhere(roster))
    changed = await first_scores(conn, [r.attempt_id for r in results.values()])
    students = []
    for student_id, name in sorted(roster.items(), key=lambda kv: kazakh_sort_key(kv[1])):
        a = admissions.get(student_id)
        students.append(
            {
                "id": student_id,
                "full_name": name,
                "cells": {
                    str(ls.id): _display(cells[(ls.id, student_id)], marks, language)
                    for ls in lessons
                    if (ls.id, student_id) in cells
                },
                "current": a.current if a else None,
                "midterm1": a.midterm1 if a else None,
                "midterm2": a.midterm2 if a else None,
                "admission": a.admission if a else None,
                "exam": _exam_dict(results.get(student_id), changed),
                **outcome_dict(outcome(a, results.get(student_id), scale), language, translate),
            }
        )
    return {
        "journal": {**journal.summary(), "teachers": await teacher_ids(conn, journal.id)},
        "lessons": [ls.to_dict() for ls in lessons],
        "students": students,
        "marks": [{"code": m.code, "symbol": m.symbol(language), "label": m.label(language)} for m in marks.marks],
    }


async def cell_history(conn: AsyncConnection, journal_id: int, lesson_id: int, student_id: str) -> list[dict]:
    """Every change of one cell, oldest first: old and new value, who, when, why (J11)."""
    stmt = (
        select(journal_cell_history)
        .where(
            journal_cell_history.c.journal_id == journal_id,
            journal_cell_history.c.lesson_id == lesson_id,
            journal_cell_history.c.student_id == student_id,
        )
        .order_by(journal_cell_history.c.id)
    )
    return [
        {
            "old": None if r.old_score is None and r.old_mark is None else {"score": r.old_score, "mark": r.old_mark},
            "new": None if r.new_score is None and r.new_mark is None else {"score": r.new_score, "mark": r.new_mark},
            "changed_at": r.changed_at,
            "changed_by": r.changed_by,
            "reason": r.reason,
            "correction_id": r.correction_id,
        }
        for r in await conn.execute(stmt)
    ]


async def corrections(
    conn: AsyncConnection,
    *,
    journal_id: int | None = None,
    pending_for: frozenset[Role] | None = None,
    reach: Actor | None = None,
) -> list[dict[str, Any]]:
    """A journal's corrections, or the ones waiting for a reviewer holding ``pending_for``;
    with ``reach``, only those of journals within that actor's reach (a faculty head's faculty)."""
    stmt = CORRECTION_ROWS.order_by(journal_corrections.c.id)
    if reach is not None and (reach.group_codes is not None or reach.discipline_codes is not None):
        within = select(journals.c.id)
        if reach.group_codes is not None:
            within = within.where(journals.c.group_code.in_(sorted(reach.group_codes)))
        if reach.discipline_codes is not None:
            within = within.where(journals.c.discipline_code.in_(sorted(reach.discipline_codes)))
        stmt = stmt.where(journal_corrections.c.journal_id.in_(within))
    if journal_id is not None:
        stmt = stmt.where(journal_corrections.c.journal_id == journal_id)
    if pending_for is not None:
        stmt = stmt.where(
            journal_corrections.c.state == CorrectionState.FILED.value,
            or_(false(), *[journal_corrections.c.approver_role == r.value for r in pending_for]),
        )
    out = []
    for row in await conn.execute(stmt):
        c = correction_of(row)
        out.append(
            {
                "id": row.id,
                "journal_id": row.journal_id,
                "lesson_id": row.lesson_id,
                "lesson_date": c.lesson_date.isoformat(),
                "student_id": c.student_id,
                "action": str(c.action),
                "old": None if c.old_value is None else {"score": c.old_value.score, "mark": c.old_value.mark},
                "new": None if c.new_value is None else {"score": c.new_value.score, "mark": c.new_value.mark},
                "reason": c.reason,
                "filed_by": c.filed_by,
                "filed_at": c.filed_at,
                "approver_role": str(c.approver_role),
                "state": str(c.state),
                "reviewed_by": c.reviewed_by,
                "reviewed_at": c.reviewed_at,
                "review_note": c.review_note,
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class Names:
    """What the statement prints that the journal does not own: names from the catalog."""

    faculty: str
    discipline: str
    credits: int
    examiner: str


async def statement(
    conn: AsyncConnection,
    journal: Journal,
    roster: Mapping[str, str],
    names: Names,
    *,
    now: datetime,
    scale: GradingScale = DEFAULT_SCALE,
) -> Statement:
    """The exam-rating statement (J8); its date is the day of the latest exam result, in local time."""
    admissions = await load_admissions(conn, journal.id)
    results = await latest_results(conn, journal.discipline_code, roster, exclude=_elsewhere(roster))
    latest = max((r.graded_at for r in results.values()), default=now)
    header = StatementHeader(
        journal.institution,
        names.faculty,
        journal.group_code,
        names.discipline,
        journal.discipline_code,
        names.credits,
        latest.astimezone(DEFAULT_POLICY.zone).date(),
        names.examiner,
    )
    entries = []
    for student_id, name in roster.items():
        a, r = admissions.get(student_id), results.get(student_id)
        entries.append(
            StudentEntry(
                student_id,
                name,
                (a.admission or 0) if a else 0,
                r.score if r else None,
                ExamStatus(r.status) if r else None,
            )
        )
    return build_statement(header, entries, scale)


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def statistics_dict(stats: GroupStatistics) -> dict[str, Any]:
    return {
        "students": stats.students,
        "statuses": {str(s): n for s, n in stats.status_counts},
        "distribution": dict(stats.distribution),
        "pass_rate": _decimal(stats.pass_rate),
        "average_admission": _decimal(stats.average_admission),
        "average_exam": _decimal(stats.average_exam),
        "average_total": _decimal(stats.average_total),
        "average_gpa": _decimal(stats.average_gpa),
        "not_computed": stats.not_computed,
    }


async def student_results(
    conn: AsyncConnection,
    student_id: str,
    journal_list: Iterable[Journal],
    *,
    language: str,
    translate: Any,
    target: str | None = None,
    scale: GradingScale = DEFAULT_SCALE,
    elsewhere: Mapping[int, Iterable[str]] | None = None,
) -> list[dict[str, Any]]:
    """A student's own standing in each journal: admission, exam, total, and what they need.

    ``elsewhere``: journal id -> attempt ids another journal owns (see :class:`Roster`)."""
    out = []
    for journal in journal_list:
        a = (await load_admissions(conn, journal.id)).get(student_id)
        exclude = (elsewhere or {}).get(journal.id, ())
        r = (await latest_results(conn, journal.discipline_code, [student_id], exclude=exclude)).get(student_id)
        changed = await first_scores(conn, [r.attempt_id] if r else [])
        entry: dict[str, Any] = {
            "journal": journal.summary(),
            "admission": a.admission if a else None,
            "exam": _exam_dict(r, changed),
            **outcome_dict(outcome(a, r, scale), language, translate),
        }
        if a is not None and a.admission is not None and r is None:
            entry["needs"] = [
                _need(a.admission, band.letter, scale, language, translate) for band in scale.passing_bands()
            ]
            if target:
                entry["target"] = _need(a.admission, target, scale, language, translate)
        out.append(entry)
    return out


def _need(admission: int, letter: str, scale: GradingScale, language: str, translate: Any) -> dict[str, Any]:
    need = what_do_i_need(admission, letter, scale)
    code, params = need.message()
    return {
        "letter": need.target,
        "verdict": str(need.verdict),
        "minimum_exam": need.minimum_exam,
        "message": translate(language, MESSAGES[code], **params),
    }


async def journal_with_view(
    conn: AsyncConnection, actor: Actor, journal_id: int, now: datetime, *, staff: bool
) -> tuple[Journal, bool]:
    """Load a journal the actor may see; also whether they may keep it."""
    journal = await load_journal(conn, journal_id)
    return journal, await check_view(conn, actor, journal, now, staff=staff)
