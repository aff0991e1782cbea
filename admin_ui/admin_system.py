"""The technical system administrator's page: readiness, versions, backlogs, the audit chain, backups.

R3: the sysadmin maintains the servers and sees everything's health, but changes no academic
data, so this page offers nothing academic and the academic admin's pages refuse him.

The page does not use ``pages.page``: that decorator holds one database connection for the
whole handler, while the checks here (and the audit-chain verification, which streams the
whole log in its own snapshot) open their own. On SQLite the pool has exactly one connection,
so the sign-in check runs first in a short transaction that is closed before anything else.
"""

from __future__ import annotations

import hmac
import logging
import platform
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text

from exam_engine import api
from exam_engine.i18n import N_

from .pages import expired_form_page, login_redirect, nav_link, render
from .routes import when

log = logging.getLogger(__name__)
P = api.Permission
T = api.tables
nav_link(P.VIEW_HEALTH, "/admin/system", N_("System health, audit chain and backups"))


@dataclass(frozen=True)
class Check:
    """One line of the readiness table: what, whether it answers, and what it said."""

    msgid: str
    ok: bool
    detail: str


async def _signed_in(request: web.Request, permission: api.Permission) -> api.Actor | web.Response:
    services = api.services_of(request)
    async with services.engine.begin() as conn:
        try:
            info = await api.authenticate(conn, request, csrf=False)
        except api.NotAuthenticated:
            raise login_redirect(request) from None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = str((await request.post()).get("_csrf", ""))
        if not hmac.compare_digest(sent.encode(), info.csrf_token.encode()):
            return await expired_form_page(request, info.actor)
    if not api.allows(info.actor.role, permission):
        log.warning("denied %s %s to %s: forbidden", request.method, request.path, info.actor.label)
        return render(
            request,
            "error.html",
            {
                "message": api.translate(
                    info.actor.language, N_("Your role ({role}) may not do this."), role=api.role_name(info.actor.role)
                )
            },
            status=403,
            actor=info.actor,
        )
    return info.actor


async def _database(services: Any) -> tuple[Check, dict[str, str], int | None]:
    """The database answers; its version and schema revision; the journal outbox backlog."""
    try:
        async with services.engine.connect() as conn:
            dialect = conn.dialect.name
            version = (
                await conn.execute(
                    text("SHOW server_version" if dialect == "postgresql" else "SELECT sqlite_version()")
                )
            ).scalar()
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            backlog = (
                await conn.execute(select(func.count()).select_from(T.outbox).where(T.outbox.c.delivered_at.is_(None)))
            ).scalar_one()
    except Exception:  # noqa: BLE001 - the page reports, it does not fail
        log.exception("health page: database unreachable")
        # The reason in words on the page; the exception itself is for the log, above.
        return Check(N_("Database"), False, N_("no answer; the server log has the reason")), {}, None
    name = "PostgreSQL" if dialect == "postgresql" else "SQLite"
    return (
        Check(N_("Database"), True, f"{name} {version}"),
        {name: str(version), N_("database schema"): str(revision)},
        backlog,
    )


async def _health(services: Any) -> dict[str, Any]:
    database, db_versions, backlog = await _database(services)
    kind = "Redis" if services.settings.redis_url else N_("in this server's process")
    checks = [database, Check(N_("Shared store"), await services.kv.ping(), kind)]
    queue = None
    if services.proctor is not None:
        try:
            queue = await services.proctor.queue.length()
        except Exception:  # noqa: BLE001 - a broken queue shows as unknown, the rest still renders
            log.exception("health page: frame queue length unknown")
    versions = {
        "exam-engine": _version("exam-engine"),
        "Python": platform.python_version(),
        "aiohttp": _version("aiohttp"),
        "SQLAlchemy": _version("sqlalchemy"),
        **db_versions,
    }
    return {
        "checks": checks,
        "ready": all(c.ok for c in checks),
        "versions": versions,
        "outbox_backlog": backlog,
        "frame_queue": queue,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "—"


async def _verify(services: Any) -> dict[str, Any]:
    """Recompute the whole audit chain, as ``exam-engine audit verify`` does."""
    try:
        report = await api.verify_audit_chain(services.engine, api.verifier_for(services.settings))
    except Exception as error:  # noqa: BLE001 - shown on the page; the details go to the log
        log.exception("audit chain verification could not run")
        return {"ran": False, "detail": type(error).__name__}  # a name for the log search, shown as code
    broken = report.first_break
    return {
        "ran": True,
        "ok": report.ok,
        "seals": report.seals,
        "sealed_rows": report.sealed_rows,
        "unsealed_rows": report.unsealed_rows,
        "head": report.head_hash,
        "seal_id": broken.seal_id if broken else None,
        "row_id": broken.row_id if broken else None,
        "detail": broken.describe() if broken else "",
    }


async def system_page(request: web.Request) -> web.StreamResponse:
    actor = await _signed_in(request, P.VIEW_HEALTH)
    if isinstance(actor, web.Response):
        return actor
    services = api.services_of(request)
    audit = await _verify(services) if request.method == "POST" else None
    context = {
        **await _health(services),
        "audit": audit,
        "checked_at": when(services.clock.now(), actor.language),
        "data_dir": str(services.settings.data_dir),
    }
    return render(request, "admin/system.html", context, actor=actor)


def register(app: web.Application) -> None:
    app.router.add_get("/admin/system", system_page)
    app.router.add_post("/admin/system", system_page)
