"""Server-rendered pages (aiohttp-jinja2). State changes go through the JSON API or CSRF-checked forms.

Every page is rendered in the signed-in person's language (or the ``lang`` cookie before
sign-in); templates call ``_("English msgid", name=value)``. Scripts are files under
``/static`` (the Content-Security-Policy allows no inline script); data a script needs is
passed in a ``<script type="application/json">`` block, which browsers never execute.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
import hmac
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from exam_engine import api
from exam_engine.i18n import N_

HERE = Path(__file__).parent
STATIC_VERSION = "1"

ROLE_NAMES = {
    "student": N_("student"),
    "teacher": N_("teacher"),
    "proctor": N_("proctor"),
    "quality": N_("quality department"),
    "methodologist": N_("methodologist"),
    "department_head": N_("head of department"),
    "faculty_head": N_("faculty head"),
    "deputy_head": N_("deputy head"),
    "academic_admin": N_("academic administrator"),
    "sysadmin": N_("system administrator"),
}


@dataclass(frozen=True)
class NavLink:
    permission: api.Permission
    path: str
    msgid: str


# The staff start page lists every area the signed-in role may open; each page module adds its own.
NAV: list[NavLink] = []


def nav_link(permission: api.Permission, path: str, msgid: str) -> None:
    NAV.append(NavLink(permission, path, msgid))


def _translator(language: str) -> Callable[..., str]:
    def _(msgid: str, **params: Any) -> str:
        return api.translate(language, msgid, **params)

    return _


def setup_pages(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    app.router.add_static("/static", HERE / "static", name="static", append_version=False)
    from . import routes

    routes.register(app)
    from . import journal, quality  # the quality department's and the journal's pages

    quality.register(app)
    journal.register(app)
    from . import admin  # the academic admin's and the sysadmin's pages

    admin.register(app)
    from . import proctoring  # the proctor's pages (and the capture config of the student's pages)

    proctoring.register(app)


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200,
           actor: api.Actor | None = None) -> web.Response:
    language = actor.language if actor else api.request_language(request)
    session = request.get(api.SESSION)
    base = {
        "_": _translator(language),
        "lang": language,
        "languages": api.LANGUAGES,
        "user": actor,
        "csrf_token": session.csrf_token if session else "",
        "path": request.path,
        "static_version": STATIC_VERSION,
        "role_names": ROLE_NAMES,
        "nav": [link for link in NAV if actor and api.allows(actor.role, link.permission)],
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def login_redirect(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")


PageHandler = Callable[[web.Request, Any, api.Actor], Awaitable[web.StreamResponse]]


def page(*, permission: api.Permission | None = None) -> Callable[[PageHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A signed-in page: one read transaction; not signed in → the sign-in page."""

    def decorate(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            services = api.services_of(request)
            async with services.engine.begin() as conn:
                try:
                    info = await api.authenticate(conn, request, csrf=False)
                except api.NotAuthenticated:
                    raise login_redirect(request) from None
                if request.method == "POST":
                    form = await request.post()
                    sent = str(form.get("_csrf", ""))
                    if not hmac.compare_digest(sent.encode(), info.csrf_token.encode()):
                        raise api.PermissionDenied("csrf_failed",
                                                   N_("The form has expired; reload the page and try again."))
                if permission is not None and not api.allows(info.actor.role, permission):
                    return render(request, "error.html", {"message": api.translate(
                        info.actor.language, N_("Your role ({role}) may not do this."), role=str(info.actor.role))},
                        status=403, actor=info.actor)
                try:
                    return await handler(request, conn, info.actor)
                except web.HTTPRedirection as redirect:
                    # A redirect after a successful form is not a failure: commit first, then send it.
                    done = redirect
            raise done

        return wrapped

    return decorate
