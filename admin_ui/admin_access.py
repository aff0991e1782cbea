"""Disable or enable a person's sign-in (the system administrator and the academic administrator).

A dismissed officer, a leaked password, a student removed from the academy: the account stops
working at once — every open session of the person is ended in the same transaction and dropped
from every server process's session cache (``SessionCache.evict_user``; over Redis at once) — and
the change is audited with who, when, the reason and the previous value. Nothing academic changes
(R3): an exam the person is sitting keeps its answers and closes by its own deadline rules; the
confirmation says so and names the exam. See docs/security.md, *Disabling an account*.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from exam_engine import api
from exam_engine.i18n import N_

from .admin import attempt, by_name, show, text
from .pages import nav_link, page

P = api.Permission
T = api.tables
nav_link(P.DISABLE_ACCOUNTS, "/admin/access", N_("Disable or enable sign-in"))
LIST_LIMIT = 300


async def _people(conn: Any, role: str, query: str) -> tuple[list[dict[str, Any]], bool]:
    stmt = select(T.users.c.id, T.users.c.login, T.users.c.full_name, T.users.c.role, T.users.c.is_active)
    if role:
        stmt = stmt.where(T.users.c.role == role)
    if query:
        # Compared in Python: SQLite's LIKE ignores the case of Latin letters only ("әлия" must find "Әлия").
        wanted = query.casefold()
        rows = [
            dict(r._mapping)
            for r in await conn.execute(stmt.order_by(T.users.c.login))
            if wanted in r.login.casefold() or wanted in (r.full_name or "").casefold()
        ][: LIST_LIMIT + 1]
    else:
        rows = [dict(r._mapping) for r in await conn.execute(stmt.order_by(T.users.c.login).limit(LIST_LIMIT + 1))]
    return by_name(rows[:LIST_LIMIT]), len(rows) > LIST_LIMIT


async def _who(conn: Any, labels: set[str], language: str) -> dict[str, str]:
    """An audit row's actor ("user:<login>", "cli:<os user>") as a person reads it: a full name."""
    logins = {label.removeprefix("user:") for label in labels if label.startswith("user:")}
    names: dict[str, str] = {}
    if logins:
        for r in await conn.execute(select(T.users.c.login, T.users.c.full_name).where(T.users.c.login.in_(logins))):
            names[f"user:{r.login}"] = r.full_name
    for label in labels - set(names):
        names[label] = api.translate(language, N_("command line ({user})"), user=label.partition(":")[2] or label)
    return names


async def _page(
    request: web.Request, conn: Any, actor: api.Actor, *, errors: dict[str, str] | None = None, **context: Any
) -> web.Response:
    role = request.query.get("role", "")
    role = role if role in set(api.Role) else ""
    query = request.query.get("q", "").strip()[:64]
    people, more = await _people(conn, role, query)
    history = await api.user_service.access_history(conn, actor, [p["id"] for p in people if not p["is_active"]])
    names = await _who(conn, {h["by"] for h in history.values()}, actor.language)
    for p in people:
        change = history.get(p["id"])
        p["change"] = {**change, "by_name": names.get(change["by"], change["by"])} if change else None
    confirm = context.pop("confirm", None)
    if confirm is None and request.method == "GET" and request.query.get("person"):
        confirm = await _confirmation(conn, request.query["person"][:64])
    return show(
        request,
        actor,
        "admin/access.html",
        {
            "people": people,
            "more": more,
            "role": role,
            "query": query,
            "roles": list(api.Role),
            "confirm": confirm,
            "changed": None,
            **context,
        },
        errors=errors,
    )


async def _confirmation(conn: Any, login: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(T.users.c.id, T.users.c.login, T.users.c.full_name, T.users.c.role, T.users.c.is_active).where(
                T.users.c.login == login
            )
        )
    ).first()
    if row is None:
        return None
    return {**row._mapping, "open_attempts": await api.user_service.open_attempts(conn, row.id)}


@page(permission=P.DISABLE_ACCOUNTS)
async def access_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return await _page(request, conn, actor)


@page(permission=P.DISABLE_ACCOUNTS)
async def change_access(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    form = await request.post()
    login = text(form, "login")[:64]
    active = text(form, "active") == "1"
    services = api.services_of(request)
    changed, errors = await attempt(
        conn,
        actor,
        lambda: api.user_service.set_active(
            conn, actor, login, active=active, reason=text(form, "reason"), now=services.clock.now()
        ),
    )
    if changed is not None and not changed.active:
        # Every process drops the person's cached sessions now (the bus); tombstones keep a read that
        # began before this transaction commits from caching them again.
        services.sessions.evict_user(changed.user_id)
    # A refusal is said next to the reason it is about, or above the form (the person, the last administrator).
    errors = {("reason" if key == "reason" else "_form"): message for key, message in errors.items()}
    confirm = None
    if errors:
        confirm = await _confirmation(conn, login)
        if confirm is not None:
            confirm["reason"] = text(form, "reason")
    return await _page(request, conn, actor, errors=errors, changed=changed, confirm=confirm)


def register(app: web.Application) -> None:
    app.router.add_get("/admin/access", access_page)
    app.router.add_post("/admin/access", change_access)
