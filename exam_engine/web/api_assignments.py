"""Assignment routes (issue 19): an exam's proctors, faculty and department heads, departments.

The academic administration sets them; every change is audited with before and after
(``services/assignments.py``); ``services/authority.py`` reads them on every request.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..errors import InvalidInput
from ..i18n import N_, Word
from ..services import assignments
from . import schemas as s
from .http import endpoint, field, path_int, read_json, services_of

PERSON = s.obj(["login", "full_name"], login=s.STR, full_name=s.STR)
PROCTORS = s.obj(["exam_id", "proctors"], exam_id=s.INT, title=s.STR, proctors={"type": "array", "items": PERSON})
SET_PROCTORS = s.obj(["proctors"], proctors={"type": "array", "items": s.STR, "maxItems": assignments.MAX_PROCTORS})
HEAD = s.obj(["login"], login=s.STR, faculty={"type": ["string", "null"]})
DEPT_HEAD = s.obj(["login"], login=s.STR, department={"type": ["string", "null"]})
DEPARTMENT = s.obj(["code", "name", "faculty"], code=s.STR, name=s.STR, faculty=s.STR)
TEACHES = s.obj(["discipline"], discipline=s.STR, department={"type": ["string", "null"]})
ASSIGN_ERRORS = ("user_not_found", "wrong_role", "code_not_found", "choice_required")


def _now(request: web.Request) -> Any:
    return services_of(request).clock.now()


@endpoint(
    "GET",
    "/api/v1/admin/exams/{exam_id}/proctors",
    summary="The proctors assigned to an exam",
    response_schema=PROCTORS,
    errors=("exam_not_found",),
    permission=Permission.MANAGE_EXAMS,
    resource=Kind.EXAM,
)
async def get_proctors(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await assignments.exam_proctors_view(conn, actor, path_int(request, "exam_id"))


@endpoint(
    "PUT",
    "/api/v1/admin/exams/{exam_id}/proctors",
    summary="Set the proctors of an exam (also during it); audited with before and after",
    request_schema=SET_PROCTORS,
    response_schema=PROCTORS,
    errors=("exam_not_found", *ASSIGN_ERRORS),
    permission=Permission.MANAGE_EXAMS,
    resource=Kind.EXAM,
)
async def put_proctors(request: web.Request, conn: Any, actor: Actor) -> dict:
    logins = field(await read_json(request), "proctors", list)
    if not all(isinstance(login, str) for login in logins):
        raise InvalidInput(
            "invalid_field", N_("Field «{field}» must be a {expected}."), field="proctors", expected=Word(N_("list"))
        )
    return await assignments.set_exam_proctors(conn, actor, path_int(request, "exam_id"), logins, now=_now(request))


@endpoint(
    "GET",
    "/api/v1/admin/faculties",
    summary="Faculties with their heads, departments and what they teach",
    response_schema={"type": "object"},
    permission=Permission.MANAGE_CATALOG,
)
async def get_faculties(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await assignments.overview(conn, actor)


@endpoint(
    "PUT",
    "/api/v1/admin/faculty-heads",
    summary="Make a faculty head head of a faculty (null: of none)",
    request_schema=HEAD,
    response_schema=s.OK,
    errors=ASSIGN_ERRORS,
    permission=Permission.MANAGE_CATALOG,
)
async def put_faculty_head(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    await assignments.set_faculty_head(
        conn,
        actor,
        field(body, "login", str),
        field(body, "faculty", str, required=False, nullable=True),
        now=_now(request),
    )
    return {"ok": True}


@endpoint(
    "POST",
    "/api/v1/admin/departments",
    summary="Create a department of a faculty",
    request_schema=DEPARTMENT,
    response_schema=s.CREATED,
    status=201,
    errors=("code_not_found", "department_exists"),
    permission=Permission.MANAGE_CATALOG,
)
async def post_department(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    new_id = await assignments.add_department(
        conn,
        actor,
        code=field(body, "code", str),
        name=field(body, "name", str),
        faculty_code=field(body, "faculty", str),
        now=_now(request),
    )
    return {"id": new_id}


@endpoint(
    "PUT",
    "/api/v1/admin/department-heads",
    summary="Make a head of department head of a department",
    request_schema=DEPT_HEAD,
    response_schema=s.OK,
    errors=ASSIGN_ERRORS,
    permission=Permission.MANAGE_CATALOG,
)
async def put_department_head(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    await assignments.set_department_head(
        conn,
        actor,
        field(body, "login", str),
        field(body, "department", str, required=False, nullable=True),
        now=_now(request),
    )
    return {"ok": True}


@endpoint(
    "PUT",
    "/api/v1/admin/discipline-departments",
    summary="Which department teaches a discipline (its journals belong to that department)",
    request_schema=TEACHES,
    response_schema=s.OK,
    errors=("code_not_found",),
    permission=Permission.MANAGE_CATALOG,
)
async def put_discipline_department(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    await assignments.set_discipline_department(
        conn,
        actor,
        field(body, "discipline", str),
        field(body, "department", str, required=False, nullable=True),
        now=_now(request),
    )
    return {"ok": True}
