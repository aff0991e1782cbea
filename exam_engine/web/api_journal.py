"""Journal routes under /api/v1: the grid, entries, corrections, statements, a student's results.

The journal (``journal_bridge.api``) owns its rules; this module translates between the
server and it: the signed-in person becomes a journal actor (user id as an opaque
string, role), the group's roster and the catalog's names are looked up here, every
change lands in the audit log, and the journal's errors become HTTP answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import unicodedata
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import String, and_, cast, select
from sqlalchemy.ext.asyncio import AsyncConnection

from journal_bridge import api as journal
from journal_bridge.tables import journal_cells, journal_exam_results, journals

from .. import bounds as b
from .. import sweeper
from ..domain.actors import Actor
from ..domain.roles import Kind, Permission, Role, allows
from ..errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from ..i18n import translate
from ..services import assignments, authority, holds, relay
from ..services.audit import record
from ..services.catalog import user_id_by_login
from ..tables import attempts, disciplines, exams, faculties, group_members, groups, users
from . import schemas as s
from .http import SERVICES, endpoint, field, path_int, read_json, services_of

RELAY_TASK = web.AppKey("relay_task", asyncio.Task)

# Request and response bodies, for the OpenAPI document.
NEW_JOURNAL = s.obj(
    ["group", "discipline", "period", "period_closes_at"],
    group=s.STR,
    discipline=s.STR,
    period=s.STR,
    period_closes_at=s.TS,
    institution=s.STR,
)
JOURNAL_PERSON = s.obj(["teacher"], teacher=s.STR)
TEACHER_WITHDRAWAL = s.obj(["teacher", "reason"], teacher=s.STR, reason=s.STR)
SUBSTITUTE = s.obj(
    ["teacher", "valid_from", "valid_until", "reason"], teacher=s.STR, valid_from=s.TS, valid_until=s.TS, reason=s.STR
)
LESSON = s.obj(
    ["held_on"],
    held_on={"type": "string", "format": "date"},
    kind={"type": "string", "enum": ["lesson", "midterm1", "midterm2"]},
    topic=s.STR,
)
CELL = s.obj(["value"], value={"type": "string", "description": "a score 0–100 or a mark (ж, а, дс, д, қ)"})
CELL_RESULT = s.obj(
    ["changed", "cell"], changed=s.BOOL, cell=s.obj(score=s.NULL_INT, mark={"type": ["string", "null"]})
)
CORRECTION = s.obj(
    ["lesson_id", "action", "reason"],
    lesson_id=b.ID.schema(),
    student_id=b.ID.schema(),
    action={"type": "string", "enum": ["change", "delete_grade", "delete_lesson"]},
    value=s.STR,
    reason=s.STR,
)
REVIEW = s.obj(note=s.STR)
CORRECTION_STATE = s.obj(["state"], state={"type": "string", "enum": ["approved", "rejected", "applied"]})
PERIOD = s.obj(["period"], period=s.STR)
JOURNAL_GRID = s.obj(
    ["journal", "lessons", "students", "marks", "can_edit"],
    journal={"type": "object"},
    lessons={"type": "array", "items": {"type": "object"}},
    students={"type": "array", "items": {"type": "object"}},
    marks={"type": "array", "items": {"type": "object"}},
    can_edit=s.BOOL,
)
STATISTICS = s.obj(
    ["students", "distribution", "pass_rate"],
    group=s.STR,
    discipline=s.STR,
    students=s.INT,
    statuses={"type": "object"},
    distribution={"type": "object"},
    pass_rate={"type": ["string", "null"]},
    average_total={"type": ["string", "null"]},
)

_ROLES = {
    Role.TEACHER: journal.Role.TEACHER,
    Role.DEPUTY_HEAD: journal.Role.DEPUTY_HEAD,
    Role.FACULTY_HEAD: journal.Role.FACULTY_HEAD,
    Role.METHODOLOGIST: journal.Role.METHODOLOGIST,
    Role.QUALITY: journal.Role.QUALITY,
    Role.ACADEMIC_ADMIN: journal.Role.EDU_CENTRE,
    Role.SYSADMIN: journal.Role.SYSADMIN,
    Role.STUDENT: journal.Role.STUDENT,
}
# Journal refusals that are about who is asking (403), not about the journal's state (409).
_DENIALS = frozenset(
    {
        "not_assigned",
        "sysadmin_no_academic_changes",
        "substitute_window_closed",
        "permission_not_from_faculty_head",
        "substitute_cannot_delete",
        "approver_wrong_role",
        "self_approval",
        "journal_view_denied",
        "grant_needs_faculty_head",
    }
)
# What every route of one journal may answer: no such journal (or not yours to see), and the rules' denials.
JOURNAL_ERRORS = ("journal_not_found", *sorted(_DENIALS))
_INPUT = (
    journal.CellInvalid,
    journal.GradeInvalid,
    journal.ScaleInvalid,
    journal.MarkSetInvalid,
    journal.ResultInvalid,
)


class Unavailable(DomainError):
    status = 503


def domain_class(kind: type[journal.JournalError], code: str) -> type[DomainError]:
    """The server's error class (hence HTTP status) of a journal error; the OpenAPI document asks it too."""
    if code in _DENIALS:
        return PermissionDenied
    if issubclass(kind, journal.JournalNotFound):
        return NotFound
    if issubclass(kind, _INPUT):
        return InvalidInput
    if issubclass(kind, journal.FontMissing):
        return Unavailable
    return Conflict


def as_domain_error(error: journal.JournalError) -> DomainError:
    """The journal's error as the server's, keeping its code, msgid and parameters."""
    return domain_class(type(error), error.code)(error.code, error.msgid, **error.params)


Route = Callable[[web.Request, AsyncConnection, Actor], Awaitable[Any]]


def journal_errors(handler: Route) -> Route:
    @functools.wraps(handler)
    async def wrapped(request: web.Request, conn: AsyncConnection, actor: Actor) -> Any:
        try:
            return await handler(request, conn, actor)
        except journal.JournalError as error:
            raise as_domain_error(error) from None

    return wrapped


def journal_actor(actor: Actor, within: authority.JournalReach | None = None) -> journal.Actor:
    """The person as the journal knows them. ``within``: the journals they reach as staff
    (:func:`journal_actor_for` reads it); without it a role whose reach is an assignment (faculty
    head, head of department) reaches no journal at all — closed, not open, by default."""
    role = _ROLES.get(Role(actor.role))
    if within is None:
        within = (
            authority.JournalReach(frozenset(), frozenset())
            if authority.is_scoped(actor.role, Kind.JOURNAL)
            else authority.JournalReach()
        )
    return journal.Actor(
        actor.journal_id,
        frozenset({role}) if role else frozenset(),
        group_codes=within.group_codes,
        discipline_codes=within.discipline_codes,
    )


async def journal_actor_for(conn: AsyncConnection, actor: Actor) -> journal.Actor:
    """The person as the journal knows them, with the journals their assignments reach (issue 19)."""
    return journal_actor(actor, await authority.journal_reach(conn, actor))


_who = journal_actor_for


def audit_sink(conn: AsyncConnection, now: datetime, actor: Actor | str) -> journal.AuditSink:
    async def sink(action: str, subject: str, before: dict | None, after: dict | None) -> None:
        await record(conn, now, actor, action, subject, before, after)

    return sink


def _now(request: web.Request) -> datetime:
    return services_of(request).clock.now()


def _staff(actor: Actor) -> bool:
    return allows(actor.role, Permission.VIEW_JOURNALS)


def _parse(body: dict[str, Any], name: str, kind: type[date] | type[datetime]) -> Any:
    raw = field(body, name, str)
    try:
        value = kind.fromisoformat(raw)
    except ValueError:
        raise journal.CellInvalid("field_invalid", field=name, value=raw[:40]) from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise journal.CellInvalid("field_invalid", field=name, value=raw[:40])
    return b.moment(value, name) if isinstance(value, datetime) else value


# ------------------------------------------------------------------------------------ directory


async def roster(conn: AsyncConnection, journal_: journal.Journal) -> journal.Roster:
    """Student id → full name: the group's current members, everyone with an entry (J11), and everyone
    whose exam in the discipline they sat as this group's member; with the results another journal owns.

    **Whose result is it**: the journal of the group the student was in when they started the exam
    (membership history, ``group_members``). A student transferred after the exam stays in the old
    group's journal with that result (its statement was that group's); the new group's journal lists
    them (a current member) without it. A result whose group of the time has no journal of the
    discipline (or who was in no group) is shown wherever the student is listed, as before.
    """
    current = (
        select(group_members.c.student_id)
        .select_from(group_members.join(groups, groups.c.id == group_members.c.group_id))
        .where(groups.c.code == journal_.group_code, group_members.c.left_at.is_(None))
    )
    ids = {str(i) for i in (await conn.execute(current)).scalars()}
    ids |= await journal.journal_student_ids(conn, journal_.id)
    ever = (
        select(group_members.c.student_id)
        .select_from(group_members.join(groups, groups.c.id == group_members.c.group_id))
        .where(groups.c.code == journal_.group_code)
    )
    candidates = ids | {str(i) for i in (await conn.execute(ever)).scalars()}
    sitting = await sitting_groups(conn, journal_.discipline_code, candidates)
    ids |= {student for student, group in sitting.values() if group == journal_.group_code}
    others = {a: g for a, (student, g) in sitting.items() if student in ids and g not in (None, journal_.group_code)}
    # Only a group of the time that keeps a journal of the discipline takes its result away from here.
    keeping = {
        j.group_code
        for j in await journal.load_journals(conn, group_codes={g for g in others.values() if g})
        if j.discipline_code == journal_.discipline_code
    }
    elsewhere = {a for a, g in others.items() if g in keeping}
    numeric = [int(i) for i in ids if i.isdecimal()]
    found = {
        str(r.id): (r.full_name, r.login)
        for r in await conn.execute(select(users.c.id, users.c.full_name, users.c.login).where(users.c.id.in_(numeric)))
    }
    return journal.Roster(told_apart({i: found.get(i, (i, i)) for i in ids}), elsewhere)


async def sitting_groups(
    conn: AsyncConnection, discipline_code: str, student_ids: set[str]
) -> dict[str, tuple[str, str | None]]:
    """attempt id → (student id, the code of the group the student was in when the attempt started)
    for the journal's results of ``student_ids`` in the discipline (None: in no group then)."""
    rows = (
        await conn.execute(
            select(journal_exam_results.c.attempt_id, journal_exam_results.c.student_id).where(
                journal_exam_results.c.discipline_code == discipline_code,
                journal_exam_results.c.student_id.in_(sorted(student_ids)),
            )
        )
    ).all()
    if not rows:
        return {}
    uuids = {}
    for r in rows:
        with contextlib.suppress(ValueError):
            uuids[uuid.UUID(r.attempt_id)] = r.attempt_id
    started = {
        uuids[a.id]: a.started_at
        for a in await conn.execute(select(attempts.c.id, attempts.c.started_at).where(attempts.c.id.in_(list(uuids))))
    }
    numeric = sorted({int(r.student_id) for r in rows if r.student_id.isdecimal()})
    spans: dict[str, list[tuple[datetime, datetime | None, str]]] = {}
    for m in await conn.execute(
        select(group_members.c.student_id, group_members.c.joined_at, group_members.c.left_at, groups.c.code)
        .select_from(group_members.join(groups, groups.c.id == group_members.c.group_id))
        .where(group_members.c.student_id.in_(numeric))
    ):
        spans.setdefault(str(m.student_id), []).append((m.joined_at, m.left_at, m.code))
    out: dict[str, tuple[str, str | None]] = {}
    for r in rows:
        at = started.get(r.attempt_id)
        group = None
        if at is not None:
            group = next(
                (
                    code
                    for joined, left, code in spans.get(r.student_id, [])
                    if joined <= at and (left is None or at < left)
                ),
                None,
            )
        out[r.attempt_id] = (r.student_id, group)
    return out


def _same_name_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def told_apart(people: dict[str, tuple[str, str]]) -> dict[str, str]:
    """id → the name shown: a name two people share (case and spacing aside) gets each one's login.

    The journal knows a student by id, so a result always reaches the right row; but a teacher
    reads names, and two rows reading «Нұрланов Әлібек» cannot be told apart on the grid, the
    statement or a correction.
    """
    counts: dict[str, int] = {}
    for name, _login in people.values():
        counts[_same_name_key(name)] = counts.get(_same_name_key(name), 0) + 1
    return {i: f"{name} ({login})" if counts[_same_name_key(name)] > 1 else name for i, (name, login) in people.items()}


async def results_without_journal(conn: AsyncConnection, *, limit: int = 200) -> list[dict[str, Any]]:
    """Exam results the journal accepted that no journal shows: nobody would otherwise see them.

    A journal shows a result to the journals of its discipline whose group the student is in now,
    or where the student has an entry (J11). A student moved to a group with no journal of the
    discipline, or whose group has none yet, sits the exam and the result reaches no page.
    """
    r = journal_exam_results
    j = journals
    in_group = (
        select(j.c.id)
        .select_from(
            j.join(groups, groups.c.code == j.c.group_code).join(group_members, group_members.c.group_id == groups.c.id)
        )
        .where(
            j.c.discipline_code == r.c.discipline_code,
            group_members.c.left_at.is_(None),
            cast(group_members.c.student_id, String) == r.c.student_id,
        )
        .exists()
    )
    has_entry = (
        select(journal_cells.c.journal_id)
        .select_from(journal_cells.join(j, j.c.id == journal_cells.c.journal_id))
        .where(j.c.discipline_code == r.c.discipline_code, journal_cells.c.student_id == r.c.student_id)
        .exists()
    )
    found = (
        await conn.execute(
            select(
                r.c.attempt_id, r.c.student_id, r.c.discipline_code, r.c.exam_id, r.c.score, r.c.status, r.c.received_at
            )
            .where(~in_group, ~has_entry)
            .order_by(r.c.received_at.desc(), r.c.attempt_id)
            .limit(limit)
        )
    ).all()
    # A result sat in a group that keeps a journal of the discipline is in that journal (see roster).
    owned: set[str] = set()
    for code in {x.discipline_code for x in found}:
        sitting = await sitting_groups(conn, code, {x.student_id for x in found if x.discipline_code == code})
        keeping = {
            j.group_code
            for j in await journal.load_journals(conn, group_codes={g for _, g in sitting.values() if g})
            if j.discipline_code == code
        }
        owned |= {a for a, (_, g) in sitting.items() if g in keeping}
    found = [x for x in found if x.attempt_id not in owned]
    numeric = {int(x.student_id) for x in found if x.student_id.isdecimal()}
    people = {
        str(u.id): (u.full_name, u.login)
        for u in await conn.execute(select(users.c.id, users.c.full_name, users.c.login).where(users.c.id.in_(numeric)))
    }
    exam_ids = {int(x.exam_id) for x in found if x.exam_id.isdecimal()}
    titles = {
        str(e.id): e.title
        for e in await conn.execute(select(exams.c.id, exams.c.title).where(exams.c.id.in_(exam_ids)))
    }
    return [
        {
            "student": people.get(x.student_id, (x.student_id, x.student_id))[0],
            "login": people.get(x.student_id, (x.student_id, x.student_id))[1],
            "discipline": x.discipline_code,
            "exam": titles.get(x.exam_id, x.exam_id),
            "score": x.score,
            "status": x.status,
            "received_at": x.received_at,
        }
        for x in found
    ]


async def catalog_names(conn: AsyncConnection, journal_: journal.Journal, teacher_ids: list[str]) -> journal.Names:
    faculty = (
        await conn.execute(
            select(faculties.c.name)
            .select_from(groups.outerjoin(faculties, faculties.c.id == groups.c.faculty_id))
            .where(groups.c.code == journal_.group_code)
        )
    ).scalar()
    disc = (
        await conn.execute(
            select(disciplines.c.name, disciplines.c.credits).where(disciplines.c.code == journal_.discipline_code)
        )
    ).first()
    numeric = [int(t) for t in teacher_ids if t.isdecimal()]
    examiners = (
        (await conn.execute(select(users.c.full_name).where(users.c.id.in_(numeric)).order_by(users.c.full_name)))
        .scalars()
        .all()
    )
    return journal.Names(
        faculty or "",
        disc.name if disc else journal_.discipline_code,
        (disc.credits or 0) if disc else 0,
        ", ".join(examiners),
    )


async def _visible(conn: AsyncConnection, actor: Actor, journal_id: int, now: datetime) -> tuple[journal.Journal, bool]:
    return await journal.journal_with_view(conn, await _who(conn, actor), journal_id, now, staff=_staff(actor))


# ------------------------------------------------------------------------------------ journals


# permission=None: KEEP_JOURNAL (own journals) or VIEW_JOURNALS (all); the handler checks either.
@endpoint(
    "GET",
    "/api/v1/journals",
    summary="Journals I keep (teachers) or may read (faculty, quality)",
    response_schema=s.LIST,
    errors=("forbidden",),
)
@journal_errors
async def list_journals(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    if not (_staff(actor) or allows(actor.role, Permission.KEEP_JOURNAL)):
        actor.require(Permission.VIEW_JOURNALS)
    found = await journal.visible_journals(conn, await _who(conn, actor), _now(request), staff=_staff(actor))
    return {"items": [j.summary() for j in found]}


@endpoint(
    "POST",
    "/api/v1/journals",
    summary="Create a journal for a group, discipline and academic period",
    request_schema=NEW_JOURNAL,
    response_schema=s.CREATED,
    status=201,
    errors=("journal_exists",),
    permission=Permission.MANAGE_JOURNALS,
)
@journal_errors
async def create_journal(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    now = _now(request)
    new_id = await journal.create_journal(
        conn,
        group_code=field(body, "group", str),
        discipline_code=field(body, "discipline", str),
        period_code=field(body, "period", str),
        period_closes_at=_parse(body, "period_closes_at", datetime),
        institution=field(body, "institution", str, required=False, default="") or "—",
        by=actor.label,
        now=now,
        audit=audit_sink(conn, now, actor),
    )
    return {"id": new_id}


@endpoint(
    "POST",
    "/api/v1/journals/{journal_id}/teachers",
    summary="Assign a teacher to a journal (R4)",
    request_schema=JOURNAL_PERSON,
    response_schema=s.OK,
    permission=Permission.MANAGE_JOURNALS,
    errors=(*JOURNAL_ERRORS, "user_not_found"),
    resource=Kind.JOURNAL,
)
@journal_errors
async def assign_teacher(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    teacher = await user_id_by_login(conn, field(body, "teacher", str))
    now = _now(request)
    await journal.assign_teacher(
        conn, path_int(request, "journal_id"), str(teacher), by=actor.label, now=now, audit=audit_sink(conn, now, actor)
    )
    return {"ok": True}


@endpoint(
    "POST",
    "/api/v1/journals/{journal_id}/teachers/withdrawals",
    summary="Withdraw a teacher from a journal, with a reason (R4; audited, effective at the teacher's next request)",
    request_schema=TEACHER_WITHDRAWAL,
    response_schema=s.OK,
    permission=Permission.MANAGE_JOURNALS,
    errors=(
        *JOURNAL_ERRORS,
        "user_not_found",
        "teacher_not_assigned",
        "removal_reason_missing",
        "removal_reason_too_long",
    ),
    resource=Kind.JOURNAL,
)
@journal_errors
async def withdraw_teacher(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    teacher = await user_id_by_login(conn, field(body, "teacher", str))
    now = _now(request)
    await journal.remove_teacher(
        conn,
        path_int(request, "journal_id"),
        str(teacher),
        reason=field(body, "reason", str),
        by=actor.label,
        now=now,
        audit=audit_sink(conn, now, actor),
    )
    return {"ok": True}


@endpoint(
    "POST",
    "/api/v1/journals/{journal_id}/substitutes",
    summary="Let a substitute teacher keep the journal for a time window (faculty head, J7)",
    request_schema=SUBSTITUTE,
    response_schema=s.CREATED,
    status=201,
    permission=Permission.GRANT_SUBSTITUTE,
    errors=(*JOURNAL_ERRORS, "user_not_found", "wrong_role", "choice_required"),
    resource=Kind.JOURNAL,
)
@journal_errors
async def grant_substitute(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    teacher = await assignments.substitute_teacher_id(conn, field(body, "teacher", str))
    now = _now(request)
    new_id = await journal.grant_substitute(
        conn,
        await _who(conn, actor),
        path_int(request, "journal_id"),
        str(teacher),
        valid_from=_parse(body, "valid_from", datetime),
        valid_until=_parse(body, "valid_until", datetime),
        reason=field(body, "reason", str),
        now=now,
        audit=audit_sink(conn, now, actor),
    )
    return {"id": new_id}


# permission=None: the journal decides (assigned teacher, substitute in window, or VIEW_JOURNALS staff; R4).
@endpoint(
    "GET",
    "/api/v1/journals/{journal_id}",
    summary="The journal grid: lessons, students, cells, totals",
    response_schema=JOURNAL_GRID,
    errors=JOURNAL_ERRORS,
    resource=Kind.JOURNAL,
)
@journal_errors
async def read_grid(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    found, keeps = await _visible(conn, actor, path_int(request, "journal_id"), _now(request))
    result = await journal.grid(conn, found, await roster(conn, found), language=actor.language, translate=translate)
    return {**result, "can_edit": keeps}


@endpoint(
    "POST",
    "/api/v1/journals/{journal_id}/lessons",
    summary="Record a held lesson or midterm control",
    request_schema=LESSON,
    response_schema=s.CREATED,
    status=201,
    errors=(*JOURNAL_ERRORS, "period_closed"),
    permission=Permission.KEEP_JOURNAL,
    resource=Kind.JOURNAL,
)
@journal_errors
async def add_lesson(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    now = _now(request)
    new_id = await journal.add_lesson(
        conn,
        await _who(conn, actor),
        path_int(request, "journal_id"),
        held_on=_parse(body, "held_on", date),
        kind=field(body, "kind", str, required=False, default="lesson"),
        topic=field(body, "topic", str, required=False, default=""),
        now=now,
        audit=audit_sink(conn, now, actor),
    )
    return {"id": new_id}


@endpoint(
    "PUT",
    "/api/v1/journals/{journal_id}/lessons/{lesson_id}/cells/{student_id}",
    summary="Enter a score 0–100 or a mark (first entry within the entry window; otherwise a correction)",
    request_schema=CELL,
    response_schema=CELL_RESULT,
    errors=(
        *JOURNAL_ERRORS,
        "lesson_not_found",
        "student_not_in_journal",
        "entry_window_passed",
        "value_already_entered",
        "period_closed",
    ),
    permission=Permission.KEEP_JOURNAL,
    resource=Kind.JOURNAL,
)
@journal_errors
async def enter_cell(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    journal_id = path_int(request, "journal_id")
    now = _now(request)
    found = await journal.load_journal(conn, journal_id)
    return await journal.enter_cell(
        conn,
        await _who(conn, actor),
        journal_id,
        path_int(request, "lesson_id"),
        str(path_int(request, "student_id")),
        field(body, "value", str),
        roster=await roster(conn, found),
        now=now,
        audit=audit_sink(conn, now, actor),
    )


# permission=None: visible to whoever may read the journal (see read_grid).
@endpoint(
    "GET",
    "/api/v1/journals/{journal_id}/lessons/{lesson_id}/cells/{student_id}/history",
    summary="Every change of one cell: old and new value, who, when, why (J11)",
    response_schema=s.LIST,
    errors=(*JOURNAL_ERRORS, "lesson_not_found", "student_not_in_journal"),
    resource=Kind.JOURNAL,
)
@journal_errors
async def cell_history(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    journal_id = path_int(request, "journal_id")
    await _visible(conn, actor, journal_id, _now(request))
    return {
        "items": await journal.cell_history(
            conn, journal_id, path_int(request, "lesson_id"), str(path_int(request, "student_id"))
        )
    }


# ------------------------------------------------------------------------------------ corrections


@endpoint(
    "POST",
    "/api/v1/journals/{journal_id}/corrections",
    summary="File a correction: a late entry, a changed value, a deleted grade or lesson (J6)",
    request_schema=CORRECTION,
    response_schema=s.CREATED,
    status=201,
    errors=(*JOURNAL_ERRORS, "correction_not_needed", "period_closed", "deletion_window_passed"),
    permission=Permission.KEEP_JOURNAL,
    resource=Kind.JOURNAL,
)
@journal_errors
async def file_correction(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    journal_id = path_int(request, "journal_id")
    now = _now(request)
    found = await journal.load_journal(conn, journal_id)
    student = field(body, "student_id", int, required=False, bound=b.ID)
    new_id = await journal.file_correction(
        conn,
        await _who(conn, actor),
        journal_id,
        field(body, "lesson_id", int, bound=b.ID),
        student_id=None if student is None else str(student),
        action=field(body, "action", str),
        typed=field(body, "value", str, required=False),
        reason=field(body, "reason", str),
        roster=await roster(conn, found),
        now=now,
        audit=audit_sink(conn, now, actor),
    )
    return {"id": new_id}


# permission=None: visible to whoever may read the journal (see read_grid).
@endpoint(
    "GET",
    "/api/v1/journals/{journal_id}/corrections",
    summary="A journal's corrections and their state",
    response_schema=s.LIST,
    errors=JOURNAL_ERRORS,
    resource=Kind.JOURNAL,
)
@journal_errors
async def journal_corrections(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    journal_id = path_int(request, "journal_id")
    await _visible(conn, actor, journal_id, _now(request))
    return {"items": await journal.corrections(conn, journal_id=journal_id)}


@endpoint(
    "GET",
    "/api/v1/journal-corrections",
    summary="Corrections waiting for my review (deputy or faculty head)",
    response_schema=s.LIST,
    permission=Permission.REVIEW_CORRECTIONS,
)
@journal_errors
async def pending_corrections(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    reviewer = await _who(conn, actor)
    return {"items": await journal.corrections(conn, pending_for=reviewer.roles, reach=reviewer)}


async def _review(request: web.Request, conn: AsyncConnection, actor: Actor, approve: bool) -> dict:
    actor.require(Permission.REVIEW_CORRECTIONS)
    body = await read_json(request)
    now = _now(request)
    state = await journal.review(
        conn,
        await _who(conn, actor),
        path_int(request, "correction_id"),
        approve=approve,
        note=field(body, "note", str, required=False),
        now=now,
        audit=audit_sink(conn, now, actor),
    )
    return {"state": state}


@endpoint(
    "POST",
    "/api/v1/journal-corrections/{correction_id}/approve",
    summary="Approve a correction; it is applied at once, even after the period closed (J5, J6)",
    request_schema=REVIEW,
    response_schema=CORRECTION_STATE,
    errors=("correction_not_found", "correction_not_pending", "deletion_window_passed", *sorted(_DENIALS)),
    permission=Permission.REVIEW_CORRECTIONS,
    resource=Kind.CORRECTION,
)
@journal_errors
async def approve_correction(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    return await _review(request, conn, actor, True)


@endpoint(
    "POST",
    "/api/v1/journal-corrections/{correction_id}/reject",
    summary="Reject a correction",
    request_schema=REVIEW,
    response_schema=CORRECTION_STATE,
    errors=("correction_not_found", "correction_not_pending", *sorted(_DENIALS)),
    permission=Permission.REVIEW_CORRECTIONS,
    resource=Kind.CORRECTION,
)
@journal_errors
async def reject_correction(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    return await _review(request, conn, actor, False)


@endpoint(
    "POST",
    "/api/v1/journal-periods/lock",
    summary="Close an academic period: afterwards only approved corrections change a journal (J5)",
    request_schema=PERIOD,
    response_schema=s.OK,
    errors=("period_already_locked", "period_not_found"),
    permission=Permission.MANAGE_JOURNALS,
)
@journal_errors
async def lock_period(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    now = _now(request)
    await journal.lock_period(
        conn, field(body, "period", str), by=actor.label, now=now, audit=audit_sink(conn, now, actor)
    )
    return {"ok": True}


# ------------------------------------------------------------------------------------ statements and reports

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_DOWNLOADS = {
    "pdf": ("application/pdf", lambda st, lang: journal.render_statement_pdf(st, lang, translate)),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        lambda st, lang: journal.statement_xlsx(st, lang, translate),
    ),
    "csv": ("text/csv; charset=utf-8", lambda st, lang: journal.statement_csv(st, lang, translate)),
    "json": ("application/json", lambda st, lang: journal.final_results_json(st)),
}


async def _statement(request: web.Request, conn: AsyncConnection, actor: Actor) -> Any:
    found, _ = await _visible(conn, actor, path_int(request, "journal_id"), _now(request))
    names = await catalog_names(conn, found, await journal.teacher_ids(conn, found.id))
    return await journal.statement(conn, found, await roster(conn, found), names, now=_now(request))


# permission=None: visible to whoever may read the journal (see read_grid).
@endpoint(
    "GET",
    "/api/v1/journals/{journal_id}/statement",
    summary="The exam-rating statement (J8) as ?format=pdf (default), xlsx, csv, or json for an AIS (S5)",
    errors=(*JOURNAL_ERRORS, "export_format_unknown", "font_missing"),
    produces=("application/pdf", _XLSX, "text/csv", "application/json"),
    resource=Kind.JOURNAL,
)
@journal_errors
async def download_statement(request: web.Request, conn: AsyncConnection, actor: Actor) -> web.Response:
    kind = request.query.get("format", "pdf")
    if kind not in _DOWNLOADS:
        raise journal.CellInvalid("export_format_unknown", format=kind[:20], formats=", ".join(_DOWNLOADS))
    statement = await _statement(request, conn, actor)
    content_type, render = _DOWNLOADS[kind]
    body = (
        await asyncio.to_thread(render, statement, actor.language)
        if kind == "pdf"
        else render(statement, actor.language)
    )
    name = f"statement-{statement.header.group}-{statement.header.discipline_code}.{kind}"
    return web.Response(
        body=body,
        headers={"Content-Type": content_type, "Content-Disposition": f'attachment; filename="{_ascii(name)}"'},
    )


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)


# permission=None: visible to whoever may read the journal (see read_grid).
@endpoint(
    "GET",
    "/api/v1/journals/{journal_id}/export",
    summary="The journal grid as ?format=xlsx (default) or csv (J9)",
    errors=(*JOURNAL_ERRORS, "export_format_unknown"),
    produces=(_XLSX, "text/csv"),
    resource=Kind.JOURNAL,
)
@journal_errors
async def export_grid(request: web.Request, conn: AsyncConnection, actor: Actor) -> web.Response:
    kind = request.query.get("format", "xlsx")
    if kind not in ("xlsx", "csv"):
        raise journal.CellInvalid("export_format_unknown", format=kind[:20], formats="xlsx, csv")
    found, _ = await _visible(conn, actor, path_int(request, "journal_id"), _now(request))
    grid = await journal.grid(conn, found, await roster(conn, found), language=actor.language, translate=translate)
    render = journal.grid_xlsx if kind == "xlsx" else journal.grid_csv
    name = _ascii(f"journal-{found.group_code}-{found.discipline_code}-{found.period_code}.{kind}")
    return web.Response(
        body=render(grid, actor.language, translate),
        headers={"Content-Type": _DOWNLOADS[kind][0], "Content-Disposition": f'attachment; filename="{name}"'},
    )


# permission=None: visible to whoever may read the journal (see read_grid).
@endpoint(
    "GET",
    "/api/v1/journals/{journal_id}/statistics",
    summary="Group statistics: letter distribution, averages, pass rate (J9)",
    response_schema=STATISTICS,
    errors=JOURNAL_ERRORS,
    resource=Kind.JOURNAL,
)
@journal_errors
async def statistics(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    statement = await _statement(request, conn, actor)
    return {
        "group": statement.header.group,
        "discipline": statement.header.discipline_code,
        **journal.statistics_dict(statement.statistics),
    }


@endpoint(
    "GET",
    "/api/v1/student/results",
    summary="My admission ratings, exam results and totals, with what I need in the exam (?target=B)",
    response_schema=s.LIST,
    permission=Permission.VIEW_OWN_RESULTS,
)
@journal_errors
async def my_results(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    mine = (
        select(groups.c.code)
        .select_from(group_members.join(groups, groups.c.id == group_members.c.group_id))
        .where(and_(group_members.c.student_id == actor.user_id, group_members.c.left_at.is_(None)))
    )
    codes = set((await conn.execute(mine)).scalars())
    student = str(actor.user_id)
    # Each result in the journal that owns it (see roster): a result sat in the group before a transfer
    # is shown in that group's journal, not in the current group's.
    disciplines_sat = (
        await conn.execute(
            select(journal_exam_results.c.discipline_code)
            .where(journal_exam_results.c.student_id == student)
            .distinct()
        )
    ).scalars()
    sitting: dict[str, dict[str, str | None]] = {}
    for code in disciplines_sat:
        sitting[code] = {a: g for a, (_, g) in (await sitting_groups(conn, code, {student})).items()}
    owners = {g for found in sitting.values() for g in found.values() if g}
    every = await journal.load_journals(conn, group_codes=codes | owners)
    keeping = {(j.group_code, j.discipline_code) for j in every}
    found = [j for j in every if j.group_code in codes or j.group_code in sitting.get(j.discipline_code, {}).values()]
    elsewhere = {
        j.id: [
            a
            for a, g in sitting.get(j.discipline_code, {}).items()
            if g not in (None, j.group_code) and (g, j.discipline_code) in keeping
        ]
        for j in found
    }
    return {
        "items": await journal.student_results(
            conn,
            student,
            found,
            language=actor.language,
            translate=translate,
            target=request.query.get("target"),
            elsewhere=elsewhere,
        )
    }


# ------------------------------------------------------------------------------------ the relay task


async def relay_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Relay in the background from start-up on: pending results first, then whatever is graded.

    The sweeper nudges the relay when it has finalised attempts (the start-up sweep
    included), so their results are relayed at once rather than at the next interval; while
    the sweeper runs a round the relay waits (grades come first).
    """
    services = app[SERVICES]
    keys = relay.bridge_keys(services.settings)
    wake = asyncio.Event()
    unsubscribe = sweeper.on_finalised(services, wake.set)
    app[RELAY_TASK] = asyncio.create_task(
        relay.run_forever(
            services.engine,
            keys,
            services.clock,
            services.settings.sweep_interval_s,
            wake=wake,
            before_batch=sweeper.idle(services).wait,
            hold=holds.policy_of(services.settings),
        ),
        name="outbox-relay",
    )
    yield
    unsubscribe()
    app[RELAY_TASK].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app[RELAY_TASK]
