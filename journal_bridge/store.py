"""Loading and storing the journal: rows in, the pure cores' values out, and back.

The caller owns the transaction; nothing here commits. Writes of a cell always go
through :func:`write_cell`, which appends the history row (J11) and refreshes the
student's admission rating in the same transaction, so neither can drift.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from journal_bridge.errors import JournalNotFound
from journal_bridge.grading import admission_rating
from journal_bridge.marks import DEFAULT_MARKS, Cell, MarkSet, current_control
from journal_bridge.rules import JournalAccess, Role, SubstitutePermission
from journal_bridge.scale import DEFAULT_SCALE, GradingScale
from journal_bridge.tables import (
    academic_periods,
    journal_admissions,
    journal_cell_history,
    journal_cells,
    journal_lessons,
    journal_substitutes,
    journal_teachers,
    journals,
)

# (action, subject, before, after): the composition root writes it to the audit log.
AuditSink = Callable[[str, str, dict[str, Any] | None, dict[str, Any] | None], Awaitable[None]]

LESSON_KINDS = ("lesson", "midterm1", "midterm2")


def insert_ignore(conn: AsyncConnection, table: Table, values: dict[str, Any], conflict: Sequence[str]) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite alike."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))


@dataclass(frozen=True, slots=True)
class Journal:
    id: int
    group_code: str
    discipline_code: str
    period_code: str
    institution: str
    period_closes_at: datetime
    locked_at: datetime | None

    @property
    def closes_at(self) -> datetime:
        """When the period stops taking entries: its end, or the lock if that came first (J5)."""
        return min(self.period_closes_at, self.locked_at) if self.locked_at else self.period_closes_at

    def closed(self, now: datetime) -> bool:
        return now >= self.closes_at

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group_code,
            "discipline": self.discipline_code,
            "period": self.period_code,
            "institution": self.institution,
            "closes_at": self.closes_at.isoformat(),
            "locked": self.locked_at is not None,
        }


_JOURNAL = select(journals, academic_periods.c.closes_at, academic_periods.c.locked_at).select_from(
    journals.join(academic_periods, academic_periods.c.code == journals.c.period_code)
)


def _journal(row: Any) -> Journal:
    return Journal(
        row.id, row.group_code, row.discipline_code, row.period_code, row.institution, row.closes_at, row.locked_at
    )


async def load_journal(conn: AsyncConnection, journal_id: int) -> Journal:
    row = (await conn.execute(_JOURNAL.where(journals.c.id == journal_id))).first()
    if row is None:
        raise JournalNotFound("journal_not_found")
    return _journal(row)


async def load_journals(
    conn: AsyncConnection,
    ids: Iterable[int] | None = None,
    *,
    group_codes: Iterable[str] | None = None,
    period_code: str | None = None,
) -> list[Journal]:
    stmt = _JOURNAL.order_by(journals.c.period_code, journals.c.group_code, journals.c.discipline_code)
    if ids is not None:
        stmt = stmt.where(journals.c.id.in_(list(ids)))
    if group_codes is not None:
        stmt = stmt.where(journals.c.group_code.in_(list(group_codes)))
    if period_code is not None:
        stmt = stmt.where(journals.c.period_code == period_code)
    return [_journal(r) for r in await conn.execute(stmt)]


async def teacher_ids(conn: AsyncConnection, journal_id: int) -> list[str]:
    stmt = select(journal_teachers.c.teacher_id).where(journal_teachers.c.journal_id == journal_id)
    return sorted((await conn.execute(stmt)).scalars())


async def load_access(conn: AsyncConnection, journal: Journal) -> JournalAccess:
    """What the rules of change need: teachers, substitute permissions, the effective close."""
    subs = await conn.execute(select(journal_substitutes).where(journal_substitutes.c.journal_id == journal.id))
    permissions = tuple(
        SubstitutePermission(
            s.teacher_id, str(journal.id), s.valid_from, s.valid_until, s.granted_by, Role(s.granted_by_role)
        )
        for s in subs
    )
    return JournalAccess(
        str(journal.id), frozenset(await teacher_ids(conn, journal.id)), journal.closes_at, permissions
    )


@dataclass(frozen=True, slots=True)
class Lesson:
    id: int
    journal_id: int
    held_on: date
    kind: str
    topic: str
    deleted: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "held_on": self.held_on.isoformat(), "kind": self.kind, "topic": self.topic}


def _lesson(row: Any) -> Lesson:
    return Lesson(row.id, row.journal_id, row.held_on, row.kind, row.topic, row.deleted_at is not None)


async def load_lesson(conn: AsyncConnection, journal_id: int, lesson_id: int) -> Lesson:
    row = (
        await conn.execute(
            select(journal_lessons).where(journal_lessons.c.id == lesson_id, journal_lessons.c.journal_id == journal_id)
        )
    ).first()
    if row is None or row.deleted_at is not None:
        raise JournalNotFound("lesson_not_found")
    return _lesson(row)


async def load_lessons(conn: AsyncConnection, journal_id: int) -> list[Lesson]:
    stmt = (
        select(journal_lessons)
        .where(journal_lessons.c.journal_id == journal_id, journal_lessons.c.deleted_at.is_(None))
        .order_by(journal_lessons.c.held_on, journal_lessons.c.id)
    )
    return [_lesson(r) for r in await conn.execute(stmt)]


def cell_of(score: int | None, mark: str | None) -> Cell | None:
    return None if score is None and mark is None else Cell(score=score, mark=mark)


def cell_dict(cell: Cell | None) -> dict[str, Any] | None:
    return None if cell is None else {"score": cell.score, "mark": cell.mark}


async def read_cell(conn: AsyncConnection, lesson_id: int, student_id: str, *, lock: bool = False) -> Cell | None:
    stmt = select(journal_cells.c.score, journal_cells.c.mark).where(
        journal_cells.c.lesson_id == lesson_id, journal_cells.c.student_id == student_id
    )
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    return None if row is None else cell_of(row.score, row.mark)


async def load_cells(conn: AsyncConnection, journal_id: int) -> dict[tuple[int, str], Cell]:
    stmt = select(
        journal_cells.c.lesson_id, journal_cells.c.student_id, journal_cells.c.score, journal_cells.c.mark
    ).where(journal_cells.c.journal_id == journal_id)
    return {(r.lesson_id, r.student_id): Cell(score=r.score, mark=r.mark) for r in await conn.execute(stmt)}


async def write_cell(
    conn: AsyncConnection,
    journal_id: int,
    lesson_id: int,
    student_id: str,
    new: Cell | None,
    *,
    by: str,
    now: datetime,
    reason: str,
    correction_id: int | None = None,
) -> Cell | None:
    """Set (or clear, with None) one cell, keep the old value in the history; returns the old value."""
    old = await read_cell(conn, lesson_id, student_id, lock=True)
    key = and_(journal_cells.c.lesson_id == lesson_id, journal_cells.c.student_id == student_id)
    if new is None:
        await conn.execute(delete(journal_cells).where(key))
    elif old is None:
        await conn.execute(
            journal_cells.insert().values(
                lesson_id=lesson_id,
                student_id=student_id,
                journal_id=journal_id,
                score=new.score,
                mark=new.mark,
                updated_at=now,
                updated_by=by,
            )
        )
    else:
        await conn.execute(
            update(journal_cells).where(key).values(score=new.score, mark=new.mark, updated_at=now, updated_by=by)
        )
    await conn.execute(
        journal_cell_history.insert().values(
            journal_id=journal_id,
            lesson_id=lesson_id,
            student_id=student_id,
            old_score=old.score if old else None,
            old_mark=old.mark if old else None,
            new_score=new.score if new else None,
            new_mark=new.mark if new else None,
            changed_at=now,
            changed_by=by,
            reason=reason,
            correction_id=correction_id,
        )
    )
    return old


async def journal_student_ids(conn: AsyncConnection, journal_id: int) -> set[str]:
    """Everyone with an entry in the journal, including students who have since left the group (J11)."""
    cells = select(journal_cells.c.student_id).where(journal_cells.c.journal_id == journal_id).distinct()
    return set((await conn.execute(cells)).scalars())


@dataclass(frozen=True, slots=True)
class Admission:
    current: int | None
    midterm1: int | None
    midterm2: int | None
    admission: int | None


def compute_admission(
    lessons: Sequence[Lesson],
    cells: dict[tuple[int, str], Cell],
    student_id: str,
    marks: MarkSet = DEFAULT_MARKS,
    scale: GradingScale = DEFAULT_SCALE,
) -> Admission:
    """Current control (average of lesson scores) and the latest midterm of each kind.

    The rating exists once both midterms hold a value: a mark in a midterm counts as its
    score equivalent, or 0 (a missed midterm earns nothing). Missing current control counts 0.
    """
    current = current_control(
        [cells[(ls.id, student_id)] for ls in lessons if ls.kind == "lesson" and (ls.id, student_id) in cells], marks
    )
    mids: dict[str, int] = {}
    for ls in lessons:  # ordered by date: the latest midterm of a kind wins
        cell = cells.get((ls.id, student_id))
        if ls.kind != "lesson" and cell is not None:
            equivalent = marks.get(cell.mark).score_equivalent if cell.mark else None
            mids[ls.kind] = cell.score if cell.score is not None else (equivalent or 0)
    m1, m2 = mids.get("midterm1"), mids.get("midterm2")
    rating = admission_rating(current or 0, m1, m2, scale) if m1 is not None and m2 is not None else None
    return Admission(current, m1, m2, rating)


async def refresh_admissions(conn: AsyncConnection, journal_id: int, student_ids: Iterable[str], now: datetime) -> None:
    """Recompute the stored admission ratings of ``student_ids`` from the cells."""
    lessons = await load_lessons(conn, journal_id)
    cells = await load_cells(conn, journal_id)
    for student_id in student_ids:
        a = compute_admission(lessons, cells, student_id)
        values = {
            "current": a.current,
            "midterm1": a.midterm1,
            "midterm2": a.midterm2,
            "admission": a.admission,
            "computed_at": now,
        }
        done = await conn.execute(
            update(journal_admissions)
            .where(journal_admissions.c.journal_id == journal_id, journal_admissions.c.student_id == student_id)
            .values(**values)
        )
        if done.rowcount == 0:
            await conn.execute(
                journal_admissions.insert().values(journal_id=journal_id, student_id=student_id, **values)
            )


async def load_admissions(conn: AsyncConnection, journal_id: int) -> dict[str, Admission]:
    rows = await conn.execute(select(journal_admissions).where(journal_admissions.c.journal_id == journal_id))
    return {r.student_id: Admission(r.current, r.midterm1, r.midterm2, r.admission) for r in rows}
