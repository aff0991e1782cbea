"""The academic administration's assignments (issue 19): who watches which exam, who heads which
faculty and department, which department teaches which discipline.

Authority is data: these pages write the rows ``services/authority.py`` reads on every request.
An exam's proctors can be changed during the exam too (the change applies at the proctor's next
request). Every change is audited with the values before and after (``services/assignments.py``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from exam_engine import api
from exam_engine.i18n import N_

from .admin import P, T, attempt, by_name, see_other, show, text
from .pages import nav_link, page

nav_link(P.MANAGE_CATALOG, "/admin/assignments", N_("Assignments: proctors, faculty and department heads"))

DONE = {
    "faculty_head": N_("The faculty head is assigned."),
    "department": N_("The department is added."),
    "department_head": N_("The head of department is assigned."),
    "discipline": N_("The discipline's department is set."),
    "proctors": N_("The exam's proctors are saved."),
}


async def _people(conn: Any, role: api.Role) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(T.users.c.login, T.users.c.full_name).where(T.users.c.role == role.value, T.users.c.is_active.is_(True))
    )
    return by_name([dict(r._mapping) for r in rows])


async def _overview(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    data = await api.assignment_service.overview(conn, actor)
    departments = [d for f in data["faculties"] for d in f["departments"]]
    disciplines = [
        dict(r._mapping)
        for r in await conn.execute(select(T.disciplines.c.code, T.disciplines.c.name).order_by(T.disciplines.c.code))
    ]
    exams = await api.list_exams(conn, actor)
    done = request.query.get("done", "")
    return show(
        request,
        actor,
        "admin/assignments.html",
        {
            **data,
            "exams": exams,
            "form": form or {},
            "faculty_options": [(f["code"], f"{f['code']} — {f['name']}") for f in data["faculties"]],
            "department_options": [(d["code"], f"{d['code']} — {d['name']}") for d in departments],
            "discipline_options": [(d["code"], f"{d['code']} — {d['name']}") for d in disciplines],
            "faculty_head_options": [
                (p["login"], f"{p['full_name']} ({p['login']})") for p in await _people(conn, api.Role.FACULTY_HEAD)
            ],
            "department_head_options": [
                (p["login"], f"{p['full_name']} ({p['login']})") for p in await _people(conn, api.Role.DEPARTMENT_HEAD)
            ],
            "notice": api.translate(actor.language, DONE[done]) if done in DONE else None,
        },
        errors=errors,
    )


@page(permission=P.MANAGE_CATALOG)
async def assignments_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    if request.method != "POST":
        return await _overview(request, conn, actor)
    form = await request.post()
    action = text(form, "action")
    now = api.services_of(request).clock.now()
    service = api.assignment_service
    actions = {
        "faculty_head": lambda: service.set_faculty_head(
            conn, actor, text(form, "login"), text(form, "faculty") or None, now=now
        ),
        "department": lambda: service.add_department(
            conn, actor, code=text(form, "code"), name=text(form, "name"), faculty_code=text(form, "faculty"), now=now
        ),
        "department_head": lambda: service.set_department_head(
            conn, actor, text(form, "login"), text(form, "department") or None, now=now
        ),
        "discipline": lambda: service.set_discipline_department(
            conn, actor, text(form, "discipline"), text(form, "department") or None, now=now
        ),
    }
    if action not in actions:
        raise web.HTTPBadRequest()
    _, errors = await attempt(conn, actor, actions[action])
    if not errors:
        return see_other(f"/admin/assignments?done={action}")
    # One page, four forms: each error is shown next to its field of the form that was sent.
    errors = {(k if k == "_form" else f"{action}-{k}"): v for k, v in errors.items()}
    return await _overview(request, conn, actor, form={f"{action}-{k}": text(form, k) for k in form}, errors=errors)


async def _proctors_page(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    exam_id: int,
    *,
    chosen: list[str] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    view = await api.assignment_service.exam_proctors_view(conn, actor, exam_id)
    assigned = chosen if chosen is not None else [p["login"] for p in view["proctors"]]
    done = request.query.get("done", "")
    return show(
        request,
        actor,
        "admin/exam_proctors.html",
        {
            "exam": view,
            "proctors": await _people(conn, api.Role.PROCTOR),
            "assigned": set(assigned),
            "notice": api.translate(actor.language, DONE[done]) if done in DONE else None,
        },
        errors=errors,
    )


@page(permission=P.MANAGE_EXAMS, resource=api.Kind.EXAM)
async def exam_proctors_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    exam_id = int(request.match_info["exam_id"])
    if request.method != "POST":
        return await _proctors_page(request, conn, actor, exam_id)
    form = await request.post()
    chosen = [str(v).strip() for v in form.getall("proctor", [])]
    _, errors = await attempt(
        conn,
        actor,
        lambda: api.assignment_service.set_exam_proctors(
            conn, actor, exam_id, chosen, now=api.services_of(request).clock.now()
        ),
    )
    if not errors:
        return see_other(f"/admin/exams/{exam_id}/proctors?done=proctors")
    return await _proctors_page(request, conn, actor, exam_id, chosen=chosen, errors=errors)


def register(app: web.Application) -> None:
    app.router.add_route("*", "/admin/assignments", assignments_page)
    app.router.add_route("*", "/admin/exams/{exam_id}/proctors", exam_proctors_page)
