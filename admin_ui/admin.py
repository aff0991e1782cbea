"""The academic administrator's pages: accounts, contingent upload, disciplines, exam sessions,
groups, exams and extra time.

Every form is a CSRF-checked POST (``pages.page`` checks the hidden ``_csrf``) handled with the
same use cases the JSON API calls, inside a savepoint: a refused form changes nothing and comes
back with the values typed and each error next to its field, in the reader's language. Pages
name the permission their use case checks (R3: the sysadmin holds none of them, so his start
page lists none and these routes answer 403). The sysadmin's page is in ``admin_system.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web
from babel.dates import format_date
from sqlalchemy import select

from exam_engine import api
from exam_engine.i18n import N_

from . import admin_system, dates
from .pages import NAV, ROLE_NAMES, nav_link, page, render
from .routes import BABEL_LOCALE, when

P = api.Permission
T = api.tables
nav_link(P.MANAGE_ACCOUNTS, "/admin/users", N_("Accounts"))
nav_link(P.MANAGE_CATALOG, "/admin/contingent", N_("Contingent upload (CSV or XLSX)"))
nav_link(P.MANAGE_CATALOG, "/admin/disciplines", N_("Disciplines"))
nav_link(P.MANAGE_CATALOG, "/admin/sessions", N_("Exam sessions"))
nav_link(P.MANAGE_CATALOG, "/admin/groups", N_("Groups and their students"))
nav_link(P.MANAGE_EXAMS, "/admin/exams", N_("Exams and extra time"))

# Which form field a refusal is about, when the error does not name it (``params["field"]``).
FIELD_OF_CODE = {
    "invalid_login": "login",
    "login_taken": "login",
    "user_not_found": "student",
    "invalid_full_name": "full_name",
    "invalid_role": "role",
    "unsupported_language": "language",
    "invalid_code": "code",
    "discipline_exists": "code",
    "session_exists": "code",
    "invalid_name": "name",
    "invalid_credits": "credits",
    "invalid_dates": "ends_on",
    "invalid_title": "title",
    "invalid_window": "closes_at",
    "invalid_question_count": "question_count",
    "invalid_duration": "duration_minutes",
    "invalid_pass_score": "pass_score",
    "invalid_timeout_policy": "timeout_policy",
    "no_groups": "groups",
    "group_not_found": "groups",
    "no_bank": "banks",
    "bank_not_found": "banks",
    "bank_not_published": "banks",
    "bank_mismatch": "banks",
    "bank_too_small": "question_count",
    "blueprint_shortfall": "banks",
    "discipline_not_found": "discipline",
    "exam_session_not_found": "session",
    "reason_required": "reason",
    "reason_too_long": "reason",
    "invalid_extra_time": "extra_minutes",
    "exam_not_found": "exam",
    "missing_columns": "file",
    "empty_file": "file",
    "unreadable_file": "file",
    "contingent_invalid": "file",
    "role_mismatch": "file",
}
TIMEOUT_POLICIES = {"unsatisfactory": N_("unsatisfactory"), "grade_saved": N_("grade the saved answers")}
CONTINGENT_BYTES = 10 * 1024 * 1024


class FormInvalid(Exception):
    """A field the page itself could not read (a number, a date); reported like a service refusal."""

    def __init__(self, name: str, msgid: str, **params: Any) -> None:
        super().__init__(name)
        self.name, self.msgid, self.params = name, msgid, params

    def text(self, language: str) -> str:
        return api.translate(language, self.msgid, **self.params)


def errors_of(error: api.DomainError, language: str) -> dict[str, str]:
    name = error.params.get("field") or FIELD_OF_CODE.get(error.code, "_form")
    return {str(name): api.translate(language, error.msgid, **error.params)}


async def attempt(conn: Any, actor: api.Actor, action: Callable[[], Awaitable[Any]]) -> tuple[Any, dict[str, str]]:
    """Run a use case in a savepoint: its result, or nothing written and the errors by field."""
    try:
        async with conn.begin_nested():
            return await action(), {}
    except FormInvalid as bad:
        return None, {bad.name: bad.text(actor.language)}
    except api.DomainError as error:
        return None, errors_of(error, actor.language)


def text(form: Any, name: str) -> str:
    return str(form.get(name, "")).strip()


def integer(form: Any, name: str, *, optional: bool = False) -> int | None:
    raw = text(form, name)
    if not raw and optional:
        return None
    if not raw.isdecimal() or len(raw) > 9:
        raise FormInvalid(name, N_("Enter a whole number."))
    return int(raw)


def day(form: Any, name: str) -> date:
    """A date field (``07.12.2026`` or ISO), see ``dates``."""
    try:
        return dates.read_day(text(form, name))
    except dates.DateUnreadable as bad:
        raise FormInvalid(name, bad.msgid, **bad.params) from None


def moment(form: Any, name: str) -> datetime:
    """A date-and-time field (``07.12.2026 16:15`` or ISO), meant in the academy's time zone."""
    try:
        return dates.read_moment(text(form, name))
    except dates.DateUnreadable as bad:
        raise FormInvalid(name, bad.msgid, **bad.params) from None


def show(
    request: web.Request,
    actor: api.Actor,
    template: str,
    context: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    """Render an admin page with its sub-menu, the values typed and the errors by field."""
    tabs = [link for link in NAV if link.path.startswith("/admin/") and api.allows(actor.role, link.permission)]
    errors = errors or {}
    base = {
        "tabs": tabs,
        "errors": errors,
        "form": {},
        "done": request.query.get("done", "")[:64],
        "when": lambda v: when(v, actor.language),
        "day": lambda v: format_date(v, "d MMMM y", locale=BABEL_LOCALE[actor.language]),
    }
    return render(request, template, {**base, **context}, actor=actor, status=422 if errors else status)


def see_other(location: str) -> web.Response:
    """Post/redirect/get. Returned, never raised: an exception would roll back the page's transaction."""
    return web.Response(status=303, headers={"Location": location})


def by_name(rows: list[dict[str, Any]], key: str = "full_name") -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: api.kazakh_sort_key(r[key] or ""))


# ---------------------------------------------------------------------------------------- accounts


async def _users_page(
    request: web.Request, conn: Any, actor: api.Actor, *, errors: dict[str, str] | None = None, **context: Any
) -> web.Response:
    role = request.query.get("role", "")
    people = by_name(await api.user_service.list_users(conn, actor, role if role in set(api.Role) else None))
    return show(
        request,
        actor,
        "admin/users.html",
        {
            "people": people,
            "role": role,
            "roles": list(api.Role),
            "role_options": [(r.value, api.translate(actor.language, ROLE_NAMES[r.value])) for r in api.Role],
            "created": None,
            "reset": None,
            "confirm_reset": None,
            **context,
        },
        errors=errors,
    )


@page(permission=P.MANAGE_ACCOUNTS)
async def users_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return await _users_page(request, conn, actor)


@page(permission=P.MANAGE_ACCOUNTS)
async def create_user(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """The one-time password is shown on this response only (the page is never cached)."""
    form = await request.post()
    new, errors = await attempt(
        conn,
        actor,
        lambda: api.user_service.add_user(
            conn,
            actor,
            login=text(form, "login"),
            full_name=text(form, "full_name"),
            role=text(form, "role"),
            language=text(form, "language") or "kk",
            now=api.services_of(request).clock.now(),
        ),
    )
    return await _users_page(
        request,
        conn,
        actor,
        created=new,
        errors=errors,
        form={} if new else {k: text(form, k) for k in ("login", "full_name", "role", "language")},
    )


@page(permission=P.MANAGE_ACCOUNTS)
async def reset_password(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    form = await request.post()
    login = text(form, "login")
    if text(form, "confirm") != "1":  # first ask: resetting ends the person's sessions
        person = (
            await conn.execute(
                select(T.users.c.login, T.users.c.full_name, T.users.c.is_active).where(T.users.c.login == login)
            )
        ).first()
        if person is not None:
            return await _users_page(request, conn, actor, confirm_reset=dict(person._mapping))
    otp, errors = await attempt(
        conn,
        actor,
        lambda: api.user_service.reset_password(conn, actor, login, now=api.services_of(request).clock.now()),
    )
    if otp is not None:
        api.services_of(request).sessions.evict_user(
            (await conn.execute(select(T.users.c.id).where(T.users.c.login == login))).scalar()
        )
        await api.services_of(request).throttle.forgive(login)  # other people's failures hold the new password no more
    return await _users_page(
        request,
        conn,
        actor,
        reset={"login": login, "otp": otp} if otp else None,
        errors={"_form": next(iter(errors.values()))} if errors else None,
    )


# ---------------------------------------------------------------------------------------- contingent


@page(permission=P.MANAGE_CATALOG)
async def contingent_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return show(request, actor, "admin/contingent.html", {"problems": [], "report": None})


@page(permission=P.MANAGE_CATALOG)
async def contingent_upload(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """All or nothing: every problem with its row and column, or the report with new one-time passwords."""
    form = await request.post()
    upload = form.get("file")
    data = upload.file.read(CONTINGENT_BYTES + 1) if isinstance(upload, web.FileField) else b""
    filename = upload.filename if isinstance(upload, web.FileField) else None
    problems: list[str] = []

    async def run() -> Any:
        if not data:
            raise FormInvalid("file", N_("Choose a CSV or XLSX file."))
        if len(data) > CONTINGENT_BYTES:
            raise FormInvalid("file", N_("The file is larger than 10 MB."))
        try:
            rows = api.contingent_service.parse(data, filename)
        except api.DomainError as error:
            problems.extend(api.render_detail(actor.language, d) for d in error.details)
            raise
        return await api.contingent_service.apply(conn, actor, rows, now=api.services_of(request).clock.now())

    report, errors = await attempt(conn, actor, run)
    if report is not None:
        report = {**asdict(report), "created_users": by_name(list(report.created_users))}
    return show(
        request,
        actor,
        "admin/contingent.html",
        {"problems": problems, "report": report, "filename": filename or ""},
        errors=errors,
    )


# ---------------------------------------------------------------------------------------- catalog


async def _catalog(conn: Any) -> dict[str, Any]:
    disciplines = [dict(r._mapping) for r in await conn.execute(select(T.disciplines).order_by(T.disciplines.c.code))]
    sessions = [
        dict(r._mapping)
        for r in await conn.execute(
            select(T.exam_sessions).order_by(T.exam_sessions.c.starts_on.desc(), T.exam_sessions.c.code)
        )
    ]
    return {"disciplines": disciplines, "sessions": sessions}


@page(permission=P.MANAGE_CATALOG)
async def disciplines_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    if request.method == "POST":
        form = await request.post()
        new, errors = await attempt(
            conn,
            actor,
            lambda: api.catalog_service.add_discipline(
                conn,
                actor,
                code=text(form, "code"),
                name=text(form, "name"),
                credits=integer(form, "credits", optional=True),
                now=api.services_of(request).clock.now(),
            ),
        )
        if new is not None:
            return see_other(f"/admin/disciplines?done={quote(text(form, 'code'))}")
        return show(
            request,
            actor,
            "admin/disciplines.html",
            {**await _catalog(conn), "form": {k: text(form, k) for k in ("code", "name", "credits")}},
            errors=errors,
        )
    return show(request, actor, "admin/disciplines.html", await _catalog(conn))


@page(permission=P.MANAGE_CATALOG)
async def sessions_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    if request.method == "POST":
        form = await request.post()
        errors: dict[str, str] = {}
        days: dict[str, date] = {}
        for name in ("starts_on", "ends_on"):  # both dates' problems in one answer
            try:
                days[name] = day(form, name)
            except FormInvalid as bad:
                errors[name] = bad.text(actor.language)
        new = None
        if not errors:
            new, errors = await attempt(
                conn,
                actor,
                lambda: api.catalog_service.add_exam_session(
                    conn,
                    actor,
                    code=text(form, "code"),
                    name=text(form, "name"),
                    now=api.services_of(request).clock.now(),
                    **days,
                ),
            )
        if new is not None:
            return see_other(f"/admin/sessions?done={quote(text(form, 'code'))}")
        return show(
            request,
            actor,
            "admin/sessions.html",
            {
                **await _catalog(conn),
                "form": {
                    **{k: text(form, k) for k in ("code", "name")},
                    **{k: dates.shown_day(text(form, k)) for k in ("starts_on", "ends_on")},
                },
            },
            errors=errors,
        )
    return show(request, actor, "admin/sessions.html", await _catalog(conn))


async def _groups(conn: Any) -> list[dict[str, Any]]:
    """Every group with its faculty and current students (J11: those who left are kept, not shown)."""
    rows = await conn.execute(
        select(T.groups.c.id, T.groups.c.code, T.faculties.c.name.label("faculty"))
        .select_from(T.groups.outerjoin(T.faculties))
        .order_by(T.groups.c.code)
    )
    found = {r.id: {"code": r.code, "faculty": r.faculty or "", "students": []} for r in rows}
    members = await conn.execute(
        select(T.group_members.c.group_id, T.users.c.login, T.users.c.full_name)
        .select_from(T.group_members.join(T.users, T.users.c.id == T.group_members.c.student_id))
        .where(T.group_members.c.left_at.is_(None))
    )
    for m in members:
        found[m.group_id]["students"].append({"login": m.login, "full_name": m.full_name})
    return [{**g, "students": by_name(g["students"])} for g in found.values()]


@page(permission=P.MANAGE_CATALOG)
async def groups_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return show(request, actor, "admin/groups.html", {"groups": await _groups(conn)})


# ---------------------------------------------------------------------------------------- exams


EXAM_FIELDS = (
    "title",
    "discipline",
    "session",
    "question_count",
    "duration_minutes",
    "opens_at",
    "closes_at",
    "timeout_policy",
    "pass_score",
    "bank_kk",
    "bank_ru",
    "requires_proctoring",
)


async def _exams_page(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    versions = [v.as_dict() for v in await api.bank_service.versions(conn, actor)]
    extra = by_name(
        [
            dict(r._mapping)
            for r in await conn.execute(
                select(
                    T.exams.c.title,
                    T.users.c.login,
                    T.users.c.full_name,
                    T.accommodations.c.extra_s,
                    T.accommodations.c.reason,
                ).select_from(
                    T.accommodations.join(T.exams).join(T.users, T.users.c.id == T.accommodations.c.student_id)
                )
            )
        ]
    )
    catalog = await _catalog(conn)
    exams = await api.list_exams(conn, actor)
    context = {
        **catalog,
        "exams": exams,
        "groups": await _groups(conn),
        "accommodations": extra,
        "published": sorted(
            (v for v in versions if v["status"] == "published"),
            key=lambda v: (v["discipline"], v["language"], v["version"]),
        ),
        "discipline_options": [(d["code"], f"{d['code']} — {d['name']}") for d in catalog["disciplines"]],
        "session_options": [(x["code"], f"{x['code']} — {x['name']}") for x in catalog["sessions"]],
        "exam_options": [
            (e["id"], f"{e['title']} ({e['discipline']}, {when(e['opens_at'], actor.language)})") for e in exams
        ],
        "policy_options": [(k, api.translate(actor.language, v)) for k, v in TIMEOUT_POLICIES.items()],
        "form": form or {"timeout_policy": "unsatisfactory", "pass_score": "50"},
        "chosen_groups": (form or {}).get("groups", []),
    }
    return show(request, actor, "admin/exams.html", context, errors=errors)


@page(permission=P.MANAGE_EXAMS)
async def exams_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return await _exams_page(request, conn, actor)


def exam_form_errors(form: Any, language: str) -> dict[str, str]:
    """Every missing or unreadable field of the new-exam form at once (the service then checks the rest)."""
    errors: dict[str, str] = {}

    def say(name: str, msgid: str, **params: Any) -> None:
        errors.setdefault(name, api.translate(language, msgid, **params))

    if not text(form, "title"):
        say("title", N_("The exam title is empty."))
    for name in ("discipline", "session"):
        if not text(form, name):
            say(name, N_("Choose from the list."))
    if not form.getall("groups", []):
        say("groups", N_("Assign the exam to at least one group."))
    if not any(text(form, f"bank_{lang}") for lang in api.LANGUAGES):
        say("banks", N_("Pin at least one published bank version."))
    readers: list[tuple[str, Callable[[Any, str], Any]]] = [
        ("question_count", integer),
        ("duration_minutes", integer),
        ("pass_score", integer),
        ("opens_at", moment),
        ("closes_at", moment),
    ]
    for name, read in readers:
        try:
            read(form, name)
        except FormInvalid as bad:
            say(name, bad.msgid, **bad.params)
    if "opens_at" not in errors and "closes_at" not in errors and moment(form, "closes_at") <= moment(form, "opens_at"):
        say("closes_at", N_("The exam window closes before it opens."))
    return errors


@page(permission=P.MANAGE_EXAMS)
async def create_exam(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    form = await request.post()

    def spec() -> Any:
        banks = {lang: integer(form, f"bank_{lang}") for lang in api.LANGUAGES if text(form, f"bank_{lang}")}
        return api.catalog_service.ExamSpec(
            title=text(form, "title"),
            discipline_code=text(form, "discipline"),
            session_code=text(form, "session"),
            group_codes=[str(g) for g in form.getall("groups", [])],
            bank_versions=banks,  # type: ignore[misc]
            question_count=integer(form, "question_count") or 0,
            duration_s=int(timedelta(minutes=integer(form, "duration_minutes") or 0).total_seconds()),
            opens_at=moment(form, "opens_at"),
            closes_at=moment(form, "closes_at"),
            timeout_policy=text(form, "timeout_policy"),
            pass_score=integer(form, "pass_score") or 0,
            requires_proctoring=bool(text(form, "requires_proctoring")),
        )

    errors = exam_form_errors(form, actor.language)
    new = None
    if not errors:  # every field the page can check is checked first, so one answer names every problem
        new, errors = await attempt(
            conn,
            actor,
            lambda: api.catalog_service.add_exam(conn, actor, spec(), now=api.services_of(request).clock.now()),
        )
    if new is not None:
        return see_other(f"/admin/exams?done={new}#exam-{new}")
    kept: dict[str, Any] = {k: text(form, k) for k in EXAM_FIELDS}
    kept.update({k: dates.shown_moment(kept[k]) for k in ("opens_at", "closes_at")})
    kept["groups"] = [str(g) for g in form.getall("groups", [])]
    return await _exams_page(request, conn, actor, form=kept, errors=errors)


@page(permission=P.MANAGE_EXAMS)
async def extra_time(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    form = await request.post()

    async def run() -> bool:
        exam_id = integer(form, "exam") or 0
        if (await conn.execute(select(T.exams.c.id).where(T.exams.c.id == exam_id))).first() is None:
            raise FormInvalid("exam", N_("Choose an exam from the list."))
        minutes = integer(form, "extra_minutes") or 0
        student = await api.user_id_by_login(conn, text(form, "student"))
        await api.catalog_service.set_extra_time(
            conn,
            actor,
            exam_id=exam_id,
            student_id=student,
            extra_s=minutes * 60,
            reason=text(form, "reason"),
            now=api.services_of(request).clock.now(),
        )
        return True

    done, errors = await attempt(conn, actor, run)
    if done:
        return see_other(f"/admin/exams?done=extra-{quote(text(form, 'student'))}#extra-time")
    kept = {f"x_{k}": text(form, k) for k in ("exam", "student", "extra_minutes", "reason")}
    return await _exams_page(
        request,
        conn,
        actor,
        form={"timeout_policy": "unsatisfactory", **kept},
        errors={f"x_{k}" if k != "_form" else k: v for k, v in errors.items()},
    )


def register(app: web.Application) -> None:
    app.router.add_get("/admin/users", users_page)
    app.router.add_post("/admin/users", create_user)
    app.router.add_post("/admin/users/reset", reset_password)
    app.router.add_get("/admin/contingent", contingent_page)
    app.router.add_post("/admin/contingent", contingent_upload)
    app.router.add_route("*", "/admin/disciplines", disciplines_page)
    app.router.add_route("*", "/admin/sessions", sessions_page)
    app.router.add_get("/admin/groups", groups_page)
    app.router.add_get("/admin/exams", exams_page)
    app.router.add_post("/admin/exams", create_exam)
    app.router.add_post("/admin/exams/extra-time", extra_time)
    admin_system.register(app)
    from . import admin_assignments  # imports this module's helpers: registered last

    admin_assignments.register(app)
    from . import admin_access

    admin_access.register(app)
