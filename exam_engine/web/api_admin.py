"""Administration routes under /api/v1/admin: accounts, catalog, exams, contingent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from .. import bounds as b
from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..errors import InvalidInput
from ..i18n import N_
from ..services import catalog, contingent, users
from . import schemas as s
from .api_bank import blueprint_field
from .http import PAYLOAD, endpoint, field, path_int, read_json, services_of

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _parse_datetime(body: dict[str, Any], name: str) -> datetime:
    raw = field(body, name, str)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            "invalid_field", N_("Field «{field}» must be a date and time like 2026-06-01T09:00:00+05:00."), field=name
        ) from None
    if value.tzinfo is None:
        raise InvalidInput("invalid_field", N_("Field «{field}» must include the time zone, e.g. +05:00."), field=name)
    return b.moment(value, name)


def _parse_date(body: dict[str, Any], name: str) -> date:
    raw = field(body, name, str)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("invalid_field", N_("Field «{field}» must be a date like 2026-06-01."), field=name) from None


@endpoint(
    "POST",
    "/api/v1/admin/users",
    summary="Create an account (one-time password returned once)",
    request_schema=s.NEW_USER,
    response_schema=s.CREATED_USER,
    status=201,
    errors=("login_taken", "invalid_login", "invalid_role", "forbidden"),
    permission=Permission.MANAGE_ACCOUNTS,
)
async def create_user(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    new = await users.add_user(
        conn,
        actor,
        login=field(body, "login", str),
        full_name=field(body, "full_name", str),
        role=field(body, "role", str),
        language=field(body, "language", str, required=False, default="kk"),
        password=field(body, "password", str, required=False),
        now=services_of(request).clock.now(),
    )
    return {"id": new.id, "login": new.login, "role": new.role, "one_time_password": new.one_time_password}


@endpoint(
    "GET", "/api/v1/admin/users", summary="List accounts", response_schema=s.LIST, permission=Permission.MANAGE_ACCOUNTS
)
async def list_users(request: web.Request, conn: Any, actor: Actor) -> dict:
    return {"items": await users.list_users(conn, actor, request.query.get("role"))}


@endpoint(
    "POST",
    "/api/v1/admin/disciplines",
    summary="Add a discipline",
    request_schema=s.DISCIPLINE,
    response_schema=s.CREATED,
    status=201,
    errors=("discipline_exists", "forbidden"),
    permission=Permission.MANAGE_CATALOG,
)
async def create_discipline(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    new_id = await catalog.add_discipline(
        conn,
        actor,
        code=field(body, "code", str),
        name=field(body, "name", str),
        credits=field(body, "credits", int, required=False, bound=b.CREDITS),
        now=services_of(request).clock.now(),
    )
    return {"id": new_id}


@endpoint(
    "POST",
    "/api/v1/admin/exam-sessions",
    summary="Add an exam session (date range)",
    request_schema=s.EXAM_SESSION,
    response_schema=s.CREATED,
    status=201,
    errors=("session_exists",),
    permission=Permission.MANAGE_CATALOG,
)
async def create_exam_session(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    new_id = await catalog.add_exam_session(
        conn,
        actor,
        code=field(body, "code", str),
        name=field(body, "name", str),
        starts_on=_parse_date(body, "starts_on"),
        ends_on=_parse_date(body, "ends_on"),
        now=services_of(request).clock.now(),
    )
    return {"id": new_id}


@endpoint(
    "POST",
    "/api/v1/admin/exams",
    summary="Schedule an exam",
    request_schema=s.EXAM,
    response_schema=s.CREATED,
    status=201,
    errors=("invalid_window", "bank_not_published", "bank_too_small", "discipline_not_found", "blueprint_shortfall"),
    permission=Permission.MANAGE_EXAMS,
)
async def create_exam(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    groups = field(body, "groups", list)
    banks = field(body, "banks", dict)
    if not all(isinstance(g, str) for g in groups):
        raise InvalidInput("invalid_field", N_("Field «{field}» must be a list."), field="groups")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in banks.values()):
        raise InvalidInput("invalid_field", N_("Field «{field}» must be an object."), field="banks")
    for language, version in banks.items():
        b.BANK_VERSION_ID.check(version, f"banks.{language}"[:40])
    minutes = field(body, "duration_minutes", int, bound=b.DURATION_MINUTES)
    spec = catalog.ExamSpec(
        title=field(body, "title", str),
        discipline_code=field(body, "discipline", str),
        session_code=field(body, "session", str),
        group_codes=groups,
        bank_versions=banks,
        question_count=field(body, "question_count", int, bound=b.QUESTION_COUNT),
        duration_s=int(timedelta(minutes=minutes).total_seconds()),
        opens_at=_parse_datetime(body, "opens_at"),
        closes_at=_parse_datetime(body, "closes_at"),
        timeout_policy=field(body, "timeout_policy", str, required=False, default="unsatisfactory"),
        pass_score=field(body, "pass_score", int, required=False, default=50, bound=b.PASS_SCORE),
        requires_proctoring=field(body, "requires_proctoring", bool, required=False, default=False),
        blueprint=blueprint_field(body),
    )
    return {"id": await catalog.add_exam(conn, actor, spec, now=services_of(request).clock.now())}


@endpoint(
    "GET", "/api/v1/exams", summary="Scheduled exams (staff)", response_schema=s.LIST, permission=Permission.VIEW_EXAMS
)
async def list_exams(request: web.Request, conn: Any, actor: Actor) -> dict:
    return {"items": await catalog.list_exams(conn, actor)}


@endpoint(
    "POST",
    "/api/v1/admin/exams/{exam_id}/extra-time",
    summary="Extra time for one student (accommodation)",
    request_schema=s.EXTRA_TIME,
    response_schema=s.OK,
    errors=("reason_required", "user_not_found", "out_of_range"),
    permission=Permission.MANAGE_EXAMS,
    resource=Kind.EXAM,
)
async def extra_time(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    student_id = await catalog.user_id_by_login(conn, field(body, "student", str))
    await catalog.set_extra_time(
        conn,
        actor,
        exam_id=path_int(request, "exam_id"),
        student_id=student_id,
        extra_s=field(body, "extra_minutes", int, bound=b.EXTRA_MINUTES) * 60,
        reason=field(body, "reason", str),
        now=services_of(request).clock.now(),
    )
    return {"ok": True}


async def _contingent_body(request: web.Request) -> bytes:
    """The whole file (``content.read(n)`` answers what has arrived so far, not n bytes)."""
    if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
        raise InvalidInput("body_too_large", N_("The request is too large."))
    data = bytearray()
    while chunk := await request.content.read(256 * 1024):
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidInput("body_too_large", N_("The request is too large."))
    return bytes(data)


@endpoint(
    "POST",
    "/api/v1/admin/contingent",
    summary="Import groups, students and teachers (CSV or XLSX body)",
    response_schema=s.CONTINGENT_REPORT,
    errors=("contingent_invalid", "missing_columns"),
    permission=Permission.MANAGE_CATALOG,
    reader=_contingent_body,
)
async def import_contingent(request: web.Request, conn: Any, actor: Actor) -> dict:
    actor.require(Permission.MANAGE_ACCOUNTS)
    data = request[PAYLOAD]
    rows = contingent.parse(data, request.query.get("filename"))
    report = await contingent.apply(conn, actor, rows, now=services_of(request).clock.now())
    return {
        "created_users": report.created_users,
        "existing_users": report.existing_users,
        "groups": report.groups,
        "faculties": report.faculties,
    }
