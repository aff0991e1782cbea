"""The academic administration's assignments (issue 19): who watches which exam, who heads
which faculty and department, which department teaches which discipline.

Every change writes an audit row with the values before and after. An exam's proctors can be
changed at any time, during the exam too (a proctor falls ill; another takes over): the change
takes effect at the next request, since every proctor request is checked against these rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.actors import Actor
from ..domain.roles import Permission, Role
from ..errors import InvalidInput, NotFound
from ..i18n import N_
from ..tables import (
    department_heads,
    departments,
    discipline_departments,
    disciplines,
    exam_proctors,
    exams,
    faculties,
    faculty_heads,
    users,
)
from .audit import record
from .authority import authorize
from .authority import exam as exam_resource

MAX_PROCTORS = 50
_WRONG_ROLE = {
    Role.PROCTOR: N_("Account «{login}» is not a proctor."),
    Role.FACULTY_HEAD: N_("Account «{login}» is not a faculty head."),
    Role.DEPARTMENT_HEAD: N_("Account «{login}» is not a head of department."),
    Role.TEACHER: N_("Account «{login}» is not a teacher."),
}


async def _person(conn: AsyncConnection, login: str, role: Role, field: str) -> Any:
    login = (login or "").strip()
    if not login:
        raise InvalidInput("choice_required", N_("Choose one from the list."), field=field)
    row = (
        await conn.execute(
            select(users.c.id, users.c.login, users.c.full_name, users.c.role).where(users.c.login == login)
        )
    ).first()
    if row is None:  # ``field`` places the message beside its field on the pages
        raise InvalidInput("user_not_found", N_("There is no account «{login}»."), field=field, login=login[:64])
    if row.role != role.value:
        raise InvalidInput("wrong_role", _WRONG_ROLE[role], login=row.login, field=field)
    return row


async def substitute_teacher_id(conn: AsyncConnection, login: str) -> int:
    """The account a faculty head names as a substitute (J7): it must be a teacher's (``wrong_role``)."""
    return int((await _person(conn, login, Role.TEACHER, "teacher")).id)


async def _by_code(conn: AsyncConnection, table: Any, code: str, field: str) -> Any:
    code = (code or "").strip()
    if not code:
        raise InvalidInput("choice_required", N_("Choose one from the list."), field=field)
    row = (await conn.execute(select(table).where(table.c.code == code))).first()
    if row is None:
        raise InvalidInput("code_not_found", N_("There is nothing with code «{code}»."), field=field, code=code[:64])
    return row


# ------------------------------------------------------------------------------------ exams


async def proctors_of(conn: AsyncConnection, exam_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(users.c.login, users.c.full_name)
        .select_from(exam_proctors.join(users, users.c.id == exam_proctors.c.proctor_id))
        .where(exam_proctors.c.exam_id == exam_id)
        .order_by(users.c.login)
    )
    return [{"login": r.login, "full_name": r.full_name} for r in rows]


async def exam_proctors_view(conn: AsyncConnection, actor: Actor, exam_id: int) -> dict[str, Any]:
    await authorize(conn, actor, Permission.MANAGE_EXAMS, exam_resource(exam_id))
    exam = (await conn.execute(select(exams.c.id, exams.c.title).where(exams.c.id == exam_id))).first()
    if exam is None:
        raise NotFound("exam_not_found", N_("No such exam."))
    return {"exam_id": exam.id, "title": exam.title, "proctors": await proctors_of(conn, exam_id)}


async def set_exam_proctors(
    conn: AsyncConnection, actor: Actor, exam_id: int, logins: list[str], *, now: datetime
) -> dict[str, Any]:
    """Replace the exam's proctors with these accounts (each must have the proctor's role)."""
    await authorize(conn, actor, Permission.MANAGE_EXAMS, exam_resource(exam_id))
    exam = (await conn.execute(select(exams.c.id).where(exams.c.id == exam_id).with_for_update())).first()
    if exam is None:
        raise NotFound("exam_not_found", N_("No such exam."))
    wanted = sorted({(login or "").strip() for login in logins if (login or "").strip()})
    if len(wanted) > MAX_PROCTORS:
        raise InvalidInput("too_many_proctors", N_("An exam has at most {limit} proctors."), limit=MAX_PROCTORS)
    people = [await _person(conn, login, Role.PROCTOR, "proctors") for login in wanted]
    before = [p["login"] for p in await proctors_of(conn, exam_id)]
    after = [p.login for p in people]
    if before != after:
        await conn.execute(
            delete(exam_proctors).where(
                exam_proctors.c.exam_id == exam_id, exam_proctors.c.proctor_id.not_in([p.id for p in people])
            )
        )
        kept = set(before)
        for p in people:
            if p.login not in kept:
                await conn.execute(
                    exam_proctors.insert().values(
                        exam_id=exam_id, proctor_id=p.id, assigned_at=now, assigned_by=actor.label
                    )
                )
        await record(
            conn, now, actor, "exam.proctors_set", f"exam:{exam_id}", {"proctors": before}, {"proctors": after}
        )
    return {"exam_id": exam_id, "proctors": await proctors_of(conn, exam_id)}


# ------------------------------------------------------------------------------------ faculties and departments


async def overview(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    """Faculties with their heads and departments, departments with heads and disciplines."""
    actor.require(Permission.MANAGE_CATALOG)
    heads: dict[int, list[dict[str, str]]] = {}
    for r in await conn.execute(
        select(faculty_heads.c.faculty_id, users.c.login, users.c.full_name)
        .select_from(faculty_heads.join(users, users.c.id == faculty_heads.c.user_id))
        .order_by(users.c.login)
    ):
        heads.setdefault(r.faculty_id, []).append({"login": r.login, "full_name": r.full_name})
    dept_heads: dict[int, list[dict[str, str]]] = {}
    for r in await conn.execute(
        select(department_heads.c.department_id, users.c.login, users.c.full_name)
        .select_from(department_heads.join(users, users.c.id == department_heads.c.user_id))
        .order_by(users.c.login)
    ):
        dept_heads.setdefault(r.department_id, []).append({"login": r.login, "full_name": r.full_name})
    taught: dict[int, list[str]] = {}
    for r in await conn.execute(
        select(discipline_departments.c.department_id, disciplines.c.code)
        .select_from(
            discipline_departments.join(disciplines, disciplines.c.id == discipline_departments.c.discipline_id)
        )
        .order_by(disciplines.c.code)
    ):
        taught.setdefault(r.department_id, []).append(r.code)
    depts = [
        {
            "id": r.id,
            "code": r.code,
            "name": r.name,
            "faculty_id": r.faculty_id,
            "heads": dept_heads.get(r.id, []),
            "disciplines": taught.get(r.id, []),
        }
        for r in await conn.execute(select(departments).order_by(departments.c.code))
    ]
    return {
        "faculties": [
            {
                "id": r.id,
                "code": r.code,
                "name": r.name,
                "heads": heads.get(r.id, []),
                "departments": [d for d in depts if d["faculty_id"] == r.id],
            }
            for r in await conn.execute(select(faculties).order_by(faculties.c.code))
        ]
    }


async def set_faculty_head(
    conn: AsyncConnection, actor: Actor, login: str, faculty_code: str | None, *, now: datetime
) -> None:
    """Make the account head of this faculty (``None``: of none)."""
    actor.require(Permission.MANAGE_CATALOG)
    person = await _person(conn, login, Role.FACULTY_HEAD, "login")
    faculty = await _by_code(conn, faculties, faculty_code, "faculty") if faculty_code else None
    old = (
        await conn.execute(
            select(faculties.c.code)
            .select_from(faculty_heads.join(faculties, faculties.c.id == faculty_heads.c.faculty_id))
            .where(faculty_heads.c.user_id == person.id)
        )
    ).scalar()
    new = faculty.code if faculty else None
    if old == new:
        return
    await conn.execute(delete(faculty_heads).where(faculty_heads.c.user_id == person.id))
    if faculty is not None:
        await conn.execute(
            faculty_heads.insert().values(
                user_id=person.id, faculty_id=faculty.id, assigned_at=now, assigned_by=actor.label
            )
        )
    await record(conn, now, actor, "faculty.head_set", f"user:{person.login}", {"faculty": old}, {"faculty": new})


async def add_department(
    conn: AsyncConnection, actor: Actor, *, code: str, name: str, faculty_code: str, now: datetime
) -> int:
    actor.require(Permission.MANAGE_CATALOG)
    code, name = (code or "").strip(), (name or "").strip()
    if not code or len(code) > 64:
        raise InvalidInput("invalid_code", N_("A code must have 1 to 64 characters."))
    if not name or len(name) > 300:
        raise InvalidInput("invalid_name", N_("The name is empty."))
    faculty = await _by_code(conn, faculties, faculty_code, "faculty")
    if (await conn.execute(select(departments.c.id).where(departments.c.code == code))).first():
        raise InvalidInput(
            "department_exists", N_("A department with code «{code}» already exists."), code=code, field="code"
        )
    new_id = (
        await conn.execute(
            departments.insert().values(code=code, name=name, faculty_id=faculty.id).returning(departments.c.id)
        )
    ).scalar_one()
    await record(
        conn,
        now,
        actor,
        "department.created",
        f"department:{code}",
        None,
        {"code": code, "name": name, "faculty": faculty.code},
    )
    return int(new_id)


async def set_department_head(
    conn: AsyncConnection, actor: Actor, login: str, department_code: str | None, *, now: datetime
) -> None:
    actor.require(Permission.MANAGE_CATALOG)
    person = await _person(conn, login, Role.DEPARTMENT_HEAD, "login")
    dept = await _by_code(conn, departments, department_code, "department") if department_code else None
    old = (
        await conn.execute(
            select(departments.c.code)
            .select_from(department_heads.join(departments, departments.c.id == department_heads.c.department_id))
            .where(department_heads.c.user_id == person.id)
        )
    ).scalar()
    new = dept.code if dept else None
    if old == new:
        return
    await conn.execute(delete(department_heads).where(department_heads.c.user_id == person.id))
    if dept is not None:
        await conn.execute(
            department_heads.insert().values(
                user_id=person.id, department_id=dept.id, assigned_at=now, assigned_by=actor.label
            )
        )
    await record(
        conn, now, actor, "department.head_set", f"user:{person.login}", {"department": old}, {"department": new}
    )


async def set_discipline_department(
    conn: AsyncConnection, actor: Actor, discipline_code: str, department_code: str | None, *, now: datetime
) -> None:
    """Which department teaches the discipline: its journals belong to that department."""
    actor.require(Permission.MANAGE_CATALOG)
    disc = await _by_code(conn, disciplines, discipline_code, "discipline")
    dept = await _by_code(conn, departments, department_code, "department") if department_code else None
    old = (
        await conn.execute(
            select(departments.c.code)
            .select_from(
                discipline_departments.join(departments, departments.c.id == discipline_departments.c.department_id)
            )
            .where(discipline_departments.c.discipline_id == disc.id)
        )
    ).scalar()
    new = dept.code if dept else None
    if old == new:
        return
    await conn.execute(delete(discipline_departments).where(discipline_departments.c.discipline_id == disc.id))
    if dept is not None:
        await conn.execute(discipline_departments.insert().values(discipline_id=disc.id, department_id=dept.id))
    await record(
        conn,
        now,
        actor,
        "discipline.department_set",
        f"discipline:{disc.code}",
        {"department": old},
        {"department": new},
    )
