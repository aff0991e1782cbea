"""Authority in one place: may this person do this, here? (role × permission × assignment)

``authorize(conn, actor, permission, resource)`` is the one check every API route and page
runs before its handler (``@endpoint(permission=…, resource=…)``, ``page(permission=…,
resource=…)``) and every service of an owned thing runs again on entry, so a page built on
the services inherits it. It decides in two steps:

1. the role must hold the permission (``domain/roles.MATRIX``): otherwise 403 ``forbidden``;
2. the thing must be within the person's reach (``domain/roles.REACH``), read from the
   assignment tables: a proctor's exams (``exam_proctors``), a faculty head's faculty
   (``faculty_heads`` → the faculty's groups), a head of department's department
   (``department_heads`` → the disciplines it teaches). Out of reach answers exactly like a
   missing thing — 404 with the thing's own not-found code — so nobody learns what exists
   outside their assignment; the refusal is still logged and audited as ``access.denied``.

``Reach.OWN`` is decided where the thing is loaded, by the rules that own it: a student's own
attempt (the attempt statements carry ``student_id``, so the hot path pays no extra query),
a teacher's assigned journal or substitute window (``journal_bridge.rules``, R4/J7).

Listings use the same reach: :func:`exam_ids_in_reach` and :func:`journal_reach`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from journal_bridge import api as journal
from journal_bridge import tables as journal_tables
from proctor.tables import proctor_flags

from ..domain.actors import Actor
from ..domain.roles import Kind, Permission, Reach, Role, reach
from ..errors import NotFound
from ..i18n import N_
from ..tables import (
    attempts,
    department_heads,
    discipline_departments,
    disciplines,
    exam_groups,
    exam_proctors,
    exams,
    faculty_heads,
    groups,
)

NOT_FOUND: dict[Kind, tuple[str, str]] = {
    Kind.EXAM: ("exam_not_found", N_("No such exam.")),
    Kind.ATTEMPT: ("attempt_not_found", N_("No such attempt.")),
    Kind.FLAG: ("flag_not_found", N_("No such flag.")),
    Kind.JOURNAL: ("journal_not_found", "No such journal"),
    Kind.CORRECTION: ("correction_not_found", "No such correction"),
    Kind.RESULT_CORRECTION: ("correction_not_found", "No such correction"),
}


class OutOfReach(NotFound):
    """Exists, but not within the person's assignment: answered like a missing thing, audited as a denial."""


def not_found(kind: Kind, *, exists: bool = False) -> NotFound:
    code, msgid = NOT_FOUND[kind]
    return (OutOfReach if exists else NotFound)(code, msgid)


@dataclass(frozen=True, slots=True)
class Resource:
    """The thing a request acts on: its kind and its id (an int, or a UUID for an attempt)."""

    kind: Kind
    id: Any


def exam(exam_id: int) -> Resource:
    return Resource(Kind.EXAM, exam_id)


def attempt(attempt_id: uuid.UUID) -> Resource:
    return Resource(Kind.ATTEMPT, attempt_id)


def flag(flag_id: int) -> Resource:
    return Resource(Kind.FLAG, flag_id)


def journal_of(journal_id: int) -> Resource:
    return Resource(Kind.JOURNAL, journal_id)


def correction(correction_id: int) -> Resource:
    return Resource(Kind.CORRECTION, correction_id)


async def authorize(
    conn: AsyncConnection, actor: Actor, permission: Permission, resource: Resource | None = None
) -> None:
    """Raise unless ``actor`` may use ``permission`` on ``resource`` (see the module's docstring)."""
    actor.require(permission)
    if resource is None:
        return
    scope = reach(actor.role, resource.kind)
    if scope is Reach.ALL or scope is Reach.OWN:
        return
    if scope is Reach.ASSIGNED_EXAMS:
        found = (await conn.execute(_watching(resource, actor))).first()  # one round trip
        if found is None:
            raise not_found(resource.kind)
        if found.proctor_id is None:
            raise not_found(resource.kind, exists=True)
        return
    if resource.kind in _EXAM_KINDS:  # a head's or a teacher's exams: those of the journals they reach
        found = (await conn.execute(_watching(resource, actor))).first()
        if found is None:
            raise not_found(resource.kind)
        if found.exam_id not in (await exam_ids_in_reach(conn, actor) or ()):
            raise not_found(resource.kind, exists=True)
        return
    found = await _journal_of(conn, resource)
    if found is None:
        raise not_found(resource.kind)
    group_code, discipline_code = found
    within = await journal_reach(conn, actor)
    if not within.admits(group_code, discipline_code):
        raise not_found(resource.kind, exists=True)


# ------------------------------------------------------------------------------------ exams


def _watching(resource: Resource, actor: Actor) -> Any:
    """The thing's exam and, if the person watches it, their id: one statement per kind."""
    if resource.kind is Kind.EXAM:
        source, exam_id, key = exams, exams.c.id, exams.c.id
    elif resource.kind is Kind.ATTEMPT:
        source, exam_id, key = attempts, attempts.c.exam_id, attempts.c.id
    elif resource.kind is Kind.FLAG:
        source = proctor_flags.join(attempts, attempts.c.id == proctor_flags.c.attempt_id)
        exam_id, key = attempts.c.exam_id, proctor_flags.c.id
    else:
        raise ValueError(f"not an exam's resource: {resource.kind}")
    return (
        select(exam_id.label("exam_id"), exam_proctors.c.proctor_id)
        .select_from(
            source.outerjoin(
                exam_proctors, and_(exam_proctors.c.exam_id == exam_id, exam_proctors.c.proctor_id == actor.user_id)
            )
        )
        .where(key == resource.id)
    )


_EXAM_KINDS = (Kind.EXAM, Kind.ATTEMPT, Kind.FLAG)


async def exam_ids_in_reach(conn: AsyncConnection, actor: Actor) -> list[int] | None:
    """The exams a listing may show this person: None for every exam, else those of their reach —
    a proctor's assigned exams; a faculty head's: sat by a group of their faculty; a head of
    department's: of a discipline their department teaches; a teacher's: of a journal they keep
    (the exam's discipline and one of its groups)."""
    scope = reach(actor.role, Kind.EXAM)
    if scope is Reach.ASSIGNED_EXAMS:
        stmt = select(exam_proctors.c.exam_id).where(exam_proctors.c.proctor_id == actor.user_id)
    elif scope is Reach.FACULTY:
        stmt = (
            select(exam_groups.c.exam_id)
            .select_from(
                exam_groups.join(groups, groups.c.id == exam_groups.c.group_id).join(
                    faculty_heads, faculty_heads.c.faculty_id == groups.c.faculty_id
                )
            )
            .where(faculty_heads.c.user_id == actor.user_id)
        )
    elif scope is Reach.DEPARTMENT:
        stmt = (
            select(exams.c.id)
            .select_from(
                exams.join(
                    discipline_departments, discipline_departments.c.discipline_id == exams.c.discipline_id
                ).join(department_heads, department_heads.c.department_id == discipline_departments.c.department_id)
            )
            .where(department_heads.c.user_id == actor.user_id)
        )
    elif scope is Reach.ASSIGNED_JOURNALS:
        stmt = (
            select(exams.c.id)
            .select_from(
                exams.join(disciplines, disciplines.c.id == exams.c.discipline_id)
                .join(exam_groups, exam_groups.c.exam_id == exams.c.id)
                .join(groups, groups.c.id == exam_groups.c.group_id)
                .join(
                    journal_tables.journals,
                    and_(
                        journal_tables.journals.c.group_code == groups.c.code,
                        journal_tables.journals.c.discipline_code == disciplines.c.code,
                    ),
                )
                .join(
                    journal_tables.journal_teachers,
                    journal_tables.journal_teachers.c.journal_id == journal_tables.journals.c.id,
                )
            )
            .where(journal_tables.journal_teachers.c.teacher_id == str(actor.user_id))
        )
    else:
        return None
    return sorted(set((await conn.execute(stmt)).scalars()))


# ------------------------------------------------------------------------------------ journals


@dataclass(frozen=True, slots=True)
class JournalReach:
    """Which journals a person reaches: ``None`` means no limit on that side."""

    group_codes: frozenset[str] | None = None
    discipline_codes: frozenset[str] | None = None

    def admits(self, group_code: str, discipline_code: str) -> bool:
        return (self.group_codes is None or group_code in self.group_codes) and (
            self.discipline_codes is None or discipline_code in self.discipline_codes
        )


async def journal_reach(conn: AsyncConnection, actor: Actor) -> JournalReach:
    """A faculty head: the groups of their faculty; a head of department: the disciplines their
    department teaches; everyone else: no limit here (a teacher's are decided by the journal's rules)."""
    scope = reach(actor.role, Kind.JOURNAL)
    if scope is Reach.FACULTY:
        codes = (
            await conn.execute(
                select(groups.c.code)
                .select_from(faculty_heads.join(groups, groups.c.faculty_id == faculty_heads.c.faculty_id))
                .where(faculty_heads.c.user_id == actor.user_id)
            )
        ).scalars()
        return JournalReach(group_codes=frozenset(codes))
    if scope is Reach.DEPARTMENT:
        codes = (
            await conn.execute(
                select(disciplines.c.code)
                .select_from(
                    department_heads.join(
                        discipline_departments,
                        discipline_departments.c.department_id == department_heads.c.department_id,
                    ).join(disciplines, disciplines.c.id == discipline_departments.c.discipline_id)
                )
                .where(department_heads.c.user_id == actor.user_id)
            )
        ).scalars()
        return JournalReach(discipline_codes=frozenset(codes))
    return JournalReach()


async def _journal_of(conn: AsyncConnection, resource: Resource) -> tuple[str, str] | None:
    journal_id = resource.id
    if resource.kind is Kind.CORRECTION:
        journal_id = await journal.correction_journal_id(conn, resource.id)
        if journal_id is None:
            return None
    elif resource.kind is not Kind.JOURNAL:
        raise ValueError(f"not a journal's resource: {resource.kind}")
    try:
        found = await journal.load_journal(conn, journal_id)
    except journal.JournalNotFound:
        return None
    return found.group_code, found.discipline_code


def needs_lookup(role: Role | str, kind: Kind) -> bool:
    """Whether deciding this role's reach over ``kind`` reads the assignment tables."""
    return reach(role, kind) not in (Reach.ALL, Reach.OWN)


def is_scoped(role: Role | str, kind: Kind) -> bool:
    """Whether this role's reach over ``kind`` is limited by assignments (for pages' wording)."""
    return reach(role, kind) in (Reach.ASSIGNED_EXAMS, Reach.FACULTY, Reach.DEPARTMENT, Reach.ASSIGNED_JOURNALS)
