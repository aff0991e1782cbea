"""Server-rendered pages (aiohttp-jinja2). State changes go through the JSON API or CSRF-checked forms.

Every page is rendered in the signed-in person's language (or the ``lang`` cookie before
sign-in); templates call ``_("English msgid", name=value)``. Scripts are files under
``/static`` (the Content-Security-Policy allows no inline script); data a script needs is
passed in a ``<script type="application/json">`` block, which browsers never execute.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from exam_engine import api
from exam_engine.i18n import N_

HERE = Path(__file__).parent


def static_version(folder: Path) -> str:
    """A digest of every file under ``static/`` (names and contents): the pages ask for
    ``/static/x.js?v=<digest>``, so a browser that kept yesterday's script (heuristic caching of a
    file served with only Last-Modified) fetches the new one the first time after an upgrade —
    never today's exam page with an older script."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


STATIC_VERSION = static_version(HERE / "static")

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
# The order of the links, whatever order the page modules happen to be imported in (it differed between
# a server and a process that had imported some page module earlier). A path not listed goes last.
NAV_ORDER = (
    "/admin/system",
    "/admin/users",
    "/admin/contingent",
    "/admin/disciplines",
    "/admin/sessions",
    "/admin/groups",
    "/admin/exams",
    "/admin/access",
    "/admin/assignments",
    "/proctor/live",
    "/journals",
    "/journal/corrections",
    "/journal/substitutes",
    "/proctor",
    "/proctor/queue",
    "/quality",
    "/quality/analysis",
    "/quality/holds",
    "/journal/result-corrections",
    "/admin/journals",
    "/admin/audit",
)


def nav_link(permission: api.Permission, path: str, msgid: str) -> None:
    NAV.append(NavLink(permission, path, msgid))
    rank = {p: i for i, p in enumerate(NAV_ORDER)}
    NAV.sort(key=lambda link: rank.get(link.path, len(NAV_ORDER)))  # stable: unlisted ones keep their order


# The browser's own words for its form checks and file fields, in the reader's language (static/forms.js).
FORM_MESSAGES = {
    "missing": N_("Fill in this field."),
    "choose": N_("Choose one of the options."),
    "tick": N_("Tick this box to go on."),
    "file_missing": N_("Choose a file."),
    "too_short": N_("At least {min} characters."),
    "too_long": N_("At most {max} characters."),
    "too_small": N_("The smallest value allowed is {min}."),
    "too_large": N_("The largest value allowed is {max}."),
    "number": N_("Enter a number."),
    "whole": N_("Enter a whole number."),
    "format": N_("Enter the value in the form this field expects."),
    "choose_file": N_("Choose file"),
    "no_file": N_("No file chosen"),
}


@functools.cache
def form_messages(language: str) -> dict[str, str]:
    return {key: api.gettext(language, msgid) for key, msgid in FORM_MESSAGES.items()}


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
    from . import dates  # the examples the date fields show (``_forms.html``'s ``date``)

    env.globals["date_examples"] = {"day": dates.DAY_EXAMPLE, "moment": dates.MOMENT_EXAMPLE}
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
    from . import exam_day, staff  # the exam-day page; journal set-up and the audit log

    exam_day.register(app)
    staff.register(app)
    app.middlewares.append(page_not_found)
    app[api.PAGE_REFUSAL] = too_large_page


def _page_above(request: web.Request, path: str) -> str | None:
    """``path`` or the nearest path above it that a GET opens (at most four steps up). Read from the
    routes' descriptions, not by resolving a clone of the request: a request whose form was read
    cannot be cloned."""
    for _ in range(5):
        if _opens_with_get(request.app, path):
            return path
        if path == "/":
            return None
        path = path.rsplit("/", 1)[0] or "/"
    return None


def _opens_with_get(app: web.Application, path: str) -> bool:
    for resource in app.router.resources():
        info = resource.get_info()
        pattern = info.get("pattern")
        if info.get("path") == path or (pattern is not None and pattern.fullmatch(path)):
            if any(route.method in ("GET", "*") for route in resource):
                return True
    return False


EXPIRED_FORM = N_("The form has expired; reload the page and try again.")


async def expired_form_page(
    request: web.Request, actor: api.Actor, conn: Any = None, back: str | None = None
) -> web.StreamResponse:
    """A form sent with a stale CSRF token (a page left open while the person signed in again
    elsewhere, or another site's form): refused and recorded as a denial, and answered with a page
    in the person's language and the way back — it was raw JSON, or aiohttp's "403: Forbidden"."""
    error = api.PermissionDenied("csrf_failed", EXPIRED_FORM)
    await api.audit_denial(request, error, conn, actor)
    return render(
        request,
        "error.html",
        {
            "heading": api.translate(actor.language, N_("The form has expired")),
            "message": api.translate(actor.language, EXPIRED_FORM),
            "back": back or _page_above(request, request.path),
        },
        status=403,
        actor=actor,
    )


async def too_large_page(request: web.Request, status: int) -> web.StreamResponse:
    """A form whose body is over the server's bound (a bank file of 15 MiB, say) — refused before any
    handler ran, so nothing was stored: a page in the reader's language with the way back to the
    form, not aiohttp's "Maximum request body size 12582912 exceeded."."""
    language = api.request_language(request)
    return render(
        request,
        "error.html",
        {
            "heading": api.translate(language, N_("The file is too large")),
            "message": api.translate(
                language,
                N_(
                    "The form was larger than the server accepts and nothing was stored. "
                    "Choose a smaller file (the form says how large it may be) and send it again."
                ),
            ),
            "back": _page_above(request, request.path),
        },
        status=status,
    )


@web.middleware
async def page_not_found(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A missing page answers a page in the reader's language (the API keeps its JSON errors)."""
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed:
        # A GET of a form's target (the language switch on a page that answered a form returns there):
        # go to the nearest page above it, e.g. /admin/users/reset → /admin/users.
        if request.path.startswith("/api/") or request.method != "GET":
            raise
        above = _page_above(request, request.path.rsplit("/", 1)[0] or "/")
        if above is None:
            raise
        raise web.HTTPSeeOther(above) from None
    except web.HTTPNotFound:
        if request.path.startswith(("/api/", "/static/")) or request.method != "GET":
            raise
        language = api.request_language(request)
        return render(
            request,
            "error.html",
            {
                "heading": api.translate(language, N_("Page not found")),
                "message": api.translate(language, N_("There is no page at this address. Go back to the start page.")),
            },
            status=404,
        )


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200, actor: api.Actor | None = None
) -> web.Response:
    language = actor.language if actor else api.request_language(request)
    session = request.get(api.SESSION)
    base = {
        "_": _translator(language),
        "lang": language,
        "languages": api.LANGUAGES,
        "user": actor,
        "csrf_token": session.csrf_token if session else "",
        "path": request.path,
        "here": request.path_qs if request.method == "GET" else request.path,  # the language switch returns here
        "static_version": STATIC_VERSION,
        "role_names": ROLE_NAMES,
        "nav": [link for link in NAV if actor and api.allows(actor.role, link.permission)],
        "form_messages": form_messages(language),
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def decided_notice(request: web.Request, language: str, applied: str, rejected: str) -> str | None:
    """The line a review queue shows after a decision redirected back to it (``?state=applied|rejected&id=N``):
    ``applied`` or ``rejected`` (msgids with an ``{id}`` placeholder) in the reader's language, else nothing."""
    done = request.query.get("state")
    if done not in ("applied", "rejected") or not request.query.get("id", "").isdecimal():
        return None
    return api.translate(language, applied if done == "applied" else rejected, id=request.query["id"])


def login_redirect(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")


PageHandler = Callable[[web.Request, Any, api.Actor], Awaitable[web.StreamResponse]]


def page(
    *, permission: api.Permission | None = None, resource: api.Kind | None = None
) -> Callable[[PageHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A signed-in page: one read transaction; not signed in → the sign-in page.

    ``permission`` and ``resource`` (what the page acts on, from its ``{<kind>_id}`` path
    parameter) go through the same check as the API (``services/authority.authorize``) before
    the handler: a role without the permission sees 403, a thing outside the person's
    assignments 404, exactly like a missing one."""

    def decorate(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            services = api.services_of(request)
            async with services.engine.begin() as conn:
                try:
                    info = await api.authenticate(conn, request, csrf=False)
                except api.NotAuthenticated:
                    raise login_redirect(request) from None
                if request.method not in ("GET", "HEAD", "OPTIONS"):  # a page's "*" route also answers PUT, DELETE…
                    form = await request.post()
                    sent = str(form.get("_csrf", ""))
                    if not hmac.compare_digest(sent.encode(), info.csrf_token.encode()):
                        return await expired_form_page(request, info.actor, conn)
                if permission is not None and not api.allows(info.actor.role, permission):
                    return render(
                        request,
                        "error.html",
                        {
                            "message": api.translate(
                                info.actor.language,
                                N_("Your role ({role}) may not do this."),
                                role=api.role_name(info.actor.role),
                            )
                        },
                        status=403,
                        actor=info.actor,
                    )
                if permission is not None and resource is not None:
                    try:
                        await api.authorize(conn, info.actor, permission, api.resource_of(request, resource))
                    except (api.NotFound, api.InvalidInput) as missing:
                        if isinstance(missing, api.OutOfReach):
                            await api.audit_denial(request, missing, conn, info.actor)
                        return render(
                            request,
                            "error.html",
                            {"message": api.translate(info.actor.language, missing.msgid, **missing.params)},
                            status=404,
                            actor=info.actor,
                        )
                try:
                    return await handler(request, conn, info.actor)
                except web.HTTPRedirection as redirect:
                    # A redirect after a successful form is not a failure: commit first, then send it.
                    done = redirect
            raise done

        wrapped.page_permission = permission  # type: ignore[attr-defined] - read by the permission matrix test
        wrapped.page_resource = resource  # type: ignore[attr-defined]
        return wrapped

    return decorate
