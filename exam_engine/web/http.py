"""HTTP plumbing shared by every route: auth, CSRF, transactions, errors, headers.

A route is a coroutine ``(request, conn, actor) -> dict | web.Response`` wrapped by
:func:`endpoint`. The wrapper opens one transaction, authenticates inside it,
runs the handler, commits, and only then answers: an acknowledgement always
means the data is committed.

Nobody can hold what others need (issue 18): the request body is read — bounded in size and
in time (``EXAM_BODY_TIMEOUT_S``, else 408) — *before* any database connection is taken, so a
client that sends its headers and then nothing holds only its own socket; and every wait for
a connection is bounded (``EXAM_DB_WAIT_S``) and refused with a JSON 503 and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from psycopg.errors import LockNotAvailable
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolWaitTimeout

from .. import bounds
from ..bootstrap import Services
from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..errors import (
    DomainError,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
    RequestTimeout,
    ServerBusy,
    TooManyRequests,
)
from ..i18n import N_, Word, normalise_language, translate
from ..services import auth, authority
from ..services.audit import record

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)
# How a page (not the API) answers a refusal raised before any handler ran — e.g. a form's body over
# the server's size bound (413), read by form_deadline_middleware: admin_ui registers a page in the
# reader's language; without one, aiohttp's own plain text.
PAGE_REFUSAL: web.AppKey[Callable[[web.Request, int], Awaitable[web.StreamResponse]]] = web.AppKey("page_refusal")
ACTOR = web.RequestKey("actor", Actor)
SESSION = web.RequestKey("session", auth.SessionInfo)
SESSION_COOKIE = "exam_session"
DEVICE_COOKIE = "exam_device"
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie (Chromium caps it at 400 days)
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_JSON_BYTES = 64 * 1024
BODY = web.RequestKey("body", bytes)
"""The request's body, read (bounded) by the endpoint wrapper before any connection was taken."""
PAYLOAD = web.RequestKey("payload", object)
"""What an upload route's ``reader`` made of its body, before its transaction opened."""
BUSY_RETRY_AFTER_S = 5


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default, separators=(",", ":"))


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


_PLAIN = (str, int, bool, type(None))


def flat_json_response(data: dict[str, str | int | bool | None]) -> web.Response:
    """:func:`json_response` of a flat object of strings, integers, booleans and nulls (a hot route's
    answer, e.g. the autosave's receipt), byte for byte, at a fraction of the cost: for these types
    orjson writes what ``dumps`` writes. Anything else — or an integer orjson cannot hold — goes the
    usual way."""
    if all(type(v) in _PLAIN for v in data.values()):
        try:
            body = orjson.dumps(data)
        except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits
            return json_response(data)
        return web.Response(body=body, content_type="application/json", charset="utf-8")
    return json_response(data)


def request_language(request: web.Request) -> str:
    actor: Actor | None = request.get(ACTOR)
    if actor is not None:
        return actor.language
    return normalise_language(
        request.query.get("lang") or request.cookies.get("lang") or request.headers.get("Accept-Language")
    )


LOCATIONS = (
    (("row", "column"), N_("Row {row}, column {column}: {message}")),
    (("line", "question"), N_("Line {line}, question {question}: {message}")),
    (("line",), N_("Line {line}: {message}")),
    (("row",), N_("Row {row}: {message}")),
)


def render_detail(language: str, detail: dict[str, Any]) -> str:
    """One problem's message, prefixed with where it is (row/column, line/question)."""
    message = translate(language, detail["msgid"], **detail.get("params", {}))
    for keys, msgid in LOCATIONS:
        if all(detail.get(k) is not None for k in keys):
            return translate(language, msgid, message=message, **{k: detail[k] for k in keys})
    return message


def error_body(error: DomainError, language: str) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": translate(language, error.msgid, **error.params)}
    if error.details:
        body["details"] = [
            {**{k: v for k, v in d.items() if k not in ("msgid", "params")}, "message": render_detail(language, d)}
            for d in error.details
        ]
    return {"error": body}


def error_response(error: DomainError, language: str) -> web.Response:
    response = json_response(error_body(error, language), status=error.status)
    if isinstance(error, (TooManyRequests, ServerBusy)):
        response.headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, (RequestTimeout, MalformedBody)):
        response.force_close()  # the rest of the body may never come: do not wait for it on this socket
    return response


BODY_TIMEOUT = N_("The request did not arrive within {seconds} seconds. Check the connection and try again.")
BAD_BODY_FRAMING = N_(
    "The length or the chunked encoding of the request body is malformed. The request was not processed; send it again."
)


class BodyFramingError(HttpProcessingError):
    """The body's framing (its chunks) could not be parsed: set on the body by ``protocol.GuardedHandler``.
    A reader of a multipart body tells it from the multipart reader's own refusals (a part's header over
    aiohttp's bound), which are the form's fault, not the framing's."""


class MalformedBody(DomainError):
    """aiohttp's parser failed on a body its route was reading (a bad chunk): 400, the connection closed."""

    status = 400


def server_busy() -> ServerBusy:
    return ServerBusy(
        "server_busy", N_("The server is busy. Try again in a few seconds."), retry_after=BUSY_RETRY_AFTER_S
    )


# aiohttp's own refusals of an API request, in the person's language (a page shows the message).
HTTP_REFUSALS = {
    404: ("not_found", N_("There is nothing at this address.")),
    405: ("method_not_allowed", N_("This address does not accept this kind of request.")),
    413: ("too_large", N_("The request is too large.")),
}


def _nul_field(request: web.Request) -> str:
    """The first query parameter (or, failing that, the path) that holds a NUL, for the refusal's words."""
    for key, value in request.query.items():
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "")[:100]
    return request.path.replace("\x00", "")[:100]


@web.middleware
async def errors_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    try:
        if "%00" in request.raw_path and request.path.startswith("/api/"):
            # A NUL in the address's query or path reached PostgreSQL (a role or discipline filter): a 500.
            raise InvalidInput(
                "invalid_text",
                N_("The address's parameter «{field}» contains the NUL character; remove it."),
                field=_nul_field(request),
            )
        return await handler(request)
    except DomainError as error:
        if isinstance(error, (PermissionDenied, authority.OutOfReach)):
            log.warning(
                "denied %s %s to %s: %s",
                request.method,
                request.path,
                getattr(request.get(ACTOR), "label", "anonymous"),
                error.code,
            )
            await _audit_denial(request, error)
        return error_response(error, request_language(request))
    except (PoolWaitTimeout, PoolTimeout) as exc:
        # A bounded wait for a database connection ran out: a clear refusal, never a 500.
        log.warning("no database connection for %s %s within its bound: %s", request.method, request.path, exc)
        return error_response(server_busy(), request_language(request))
    except DBAPIError as exc:
        if not isinstance(exc.orig, LockNotAvailable):
            raise
        log.warning("a lock for %s %s was not granted within its bound", request.method, request.path)
        return error_response(server_busy(), request_language(request))
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            code, msgid = HTTP_REFUSALS.get(exc.status, ("http_error", None))
            message = translate(request_language(request), msgid) if msgid else exc.reason
            return json_response({"error": {"code": code, "message": message}}, status=exc.status)
        page = request.app.get(PAGE_REFUSAL)
        if exc.status == 413 and page is not None:
            return await page(request, exc.status)
        raise


async def _audit_denial(request: web.Request, error: DomainError, conn: Any = None, actor: Any = None) -> None:
    """Refused accesses go to the audit log too: in their own transaction when the request's rolled
    back, or in ``conn`` when the refusal is an answer of a transaction that commits (a page: on
    SQLite's single connection a second one would wait for the first)."""
    actor = actor if actor is not None else request.get(ACTOR)
    services = services_of(request)

    async def write(into: Any) -> None:
        await record(
            into,
            services.clock.now(),
            actor if actor is not None else f"anon:{client_ip(request) or '-'}",
            "access.denied",
            f"route:{request.method} {request.path}"[:120],
            None,
            {"code": error.code},
        )

    try:
        if conn is not None:
            await write(conn)
            return
        async with services.engine.begin() as own:
            await write(own)
    except Exception:  # noqa: BLE001 - the refusal stands even if it could not be recorded
        log.exception("could not record a refused access")


@web.middleware
async def form_deadline_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
):
    """A page's form (sign-in, every ``page`` form, uploads through pages) arrives within the body
    deadline and before the handler takes a connection: ``request.post()`` keeps what it read, so
    the handler's own call returns it at once. API routes read their bodies in ``endpoint``."""
    if request.method in UNSAFE_METHODS and not request.path.startswith("/api/") and request.body_exists:
        await within_deadline(request, request.post())
    return await handler(request)


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(), payment=(), usb=()",
}


@web.middleware
async def headers_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    response = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/") or request.path.startswith("/exam"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _device_token(request: web.Request) -> str | None:
    token = request.cookies.get(DEVICE_COOKIE, "")
    return token if 32 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum() else None


def device_key(request: web.Request) -> str:
    """Who may act on an open attempt: this browser, not this session (issue 20).

    The SHA-256 of the long-lived device cookie (random, HttpOnly, SameSite=Strict, set at the
    first sign-in in a browser), so signing out and in again in the same browser resumes the
    attempt; another browser has another cookie and is refused (``attempt_open_elsewhere``). A
    client without the cookie (an API script) is bound to its session, as before.
    """
    token = _device_token(request)
    if token is None:
        return request[SESSION].token_hash
    return hashlib.sha256(("device:" + token).encode()).hexdigest()


def ensure_device_cookie(request: web.Request, response: web.StreamResponse, *, secure: bool) -> None:
    """Give this browser its device cookie at sign-in, once; an existing one is kept."""
    if _device_token(request) is None:
        response.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(32),
            httponly=True,
            samesite="Strict",
            path="/",
            secure=secure,
            max_age=DEVICE_COOKIE_MAX_AGE,
        )


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CLIENT_IP = web.RequestKey("client_ip", str)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def forwarded_client(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str | None:
    """The client's address: the socket's peer, unless the peer is a trusted proxy.

    Then the ``X-Forwarded-For`` hops are read from the right (the hop nearest to us first),
    skipping trusted proxies: the first untrusted hop is the client. Anything to its left
    was written by the client itself and is ignored. A hop that is not an address ends the
    walk at the last trusted one (a proxy sending garbage is not believed further).
    """
    if peer is None or not trusted:
        return peer
    address = _address(peer)
    if address is None or not any(address in net for net in trusted):
        return peer
    client = str(address)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        hop_address = _address(hop)
        if hop_address is None:
            break
        client = str(hop_address)
        if not any(hop_address in net for net in trusted):
            break
    return client


# Parsing addresses costs about 40 µs a request; the same few (peer, header) pairs repeat for every
# autosave of a hall, so they are remembered per list of trusted proxies (bounded: forged headers only evict).
_RESOLVERS: dict[int, tuple[tuple[Network, ...], Callable[[str, tuple[str, ...]], str | None]]] = {}


def _resolver(trusted: tuple[Network, ...]) -> Callable[[str, tuple[str, ...]], str | None]:
    known = _RESOLVERS.get(id(trusted))
    if known is not None and known[0] is trusted:
        return known[1]

    @functools.lru_cache(maxsize=8192)
    def resolve(peer: str, forwarded_for: tuple[str, ...]) -> str | None:
        return forwarded_client(peer, forwarded_for, trusted)

    if len(_RESOLVERS) > 16:
        _RESOLVERS.clear()
    _RESOLVERS[id(trusted)] = (trusted, resolve)
    return resolve


_warned_untrusted = False


def _warn_untrusted(peer: str | None) -> None:
    global _warned_untrusted
    _warned_untrusted = True
    log.warning(
        "X-Forwarded-For received from %s but EXAM_TRUSTED_PROXIES is not set: the header is ignored "
        "and that peer counts as the client (behind a proxy: every client alike; see docs/deploy.md)",
        peer,
    )


def client_ip(request: web.Request) -> str | None:
    """The client's address, for throttles, rate limits, sessions and the audit log (one place)."""
    known = request.get(CLIENT_IP)
    if known is not None:
        return known
    trusted = services_of(request).settings.trusted_proxies
    peer = request.remote
    if not trusted or peer is None:
        ip = peer
        if not trusted and not _warned_untrusted and "X-Forwarded-For" in request.headers:
            _warn_untrusted(peer)
    else:
        ip = _resolver(trusted)(peer, tuple(request.headers.getall("X-Forwarded-For", ())))
    if ip is not None:
        request[CLIENT_IP] = ip
    return ip


def same_origin(request: web.Request) -> bool:
    """A state change with no session yet (sign-in) has no CSRF token: refuse other origins instead.

    ``Origin`` (or, without it, ``Referer``) must name this host; ``null`` (a sandboxed or
    privacy-redirected request) is foreign. Neither header: not a browser's cross-site form,
    allowed (the API's sign-in also demands a JSON body, which a cross-site form cannot send).
    """
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin is None or origin == "":
        return True
    return urlsplit(origin).netloc == request.host


class UnsupportedMediaType(DomainError):
    status = 415


def check_sign_in_request(request: web.Request) -> None:
    """The API's sign-in: a JSON body from this origin (a cross-site page cannot sign a browser in)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("json_required", N_("Send the sign-in as JSON (Content-Type: application/json)."))
    if not same_origin(request):
        raise PermissionDenied("foreign_origin", N_("The form has expired; reload the page and try again."))


async def sign_in(request: web.Request, login: str, password: str) -> auth.SignedIn | None:
    """Sign in from this request (the API's and the sign-in page's one way): client address,
    throttle, session cap and cache from the installation's services."""
    services = services_of(request)
    settings = services.settings
    return await auth.sign_in(
        services.engine,
        login=login,
        password=password,
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent"),
        clock=services.clock,
        ttl_s=settings.session_ttl_s,
        throttle=services.throttle,
        max_sessions=settings.max_sessions_per_user,
        cache=services.sessions,
        replaces=auth.token_hash(request.cookies[SESSION_COOKIE]) if request.cookies.get(SESSION_COOKIE) else None,
    )


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    """The session cookie alone (a session renewed by a password change keeps its language and device)."""
    settings = services_of(request).settings
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=settings.cookie_secure,
        max_age=settings.session_ttl_s,
    )


def set_language_cookie(
    response: web.StreamResponse, request: web.Request, lang: str, *, name: str = "lang", **extra: Any
) -> None:
    """The interface language's cookie (read by the pages' scripts, so not HttpOnly unless asked), ``Secure``
    like the session's when the installation runs behind TLS (``EXAM_COOKIE_SECURE``)."""
    response.set_cookie(
        name, lang, samesite="Strict", path="/", secure=services_of(request).settings.cookie_secure, **extra
    )


def set_session_cookies(response: web.StreamResponse, request: web.Request, signed: auth.SignedIn) -> None:
    settings = services_of(request).settings
    set_session_cookie(response, request, signed.token)
    set_language_cookie(response, request, signed.actor.language)
    ensure_device_cookie(request, response, secure=settings.cookie_secure)


# While the one-time password is in use, a session may only do these (route method, route path).
BEFORE_PASSWORD_CHANGE = frozenset(
    {
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/me/password"),
        ("POST", "/api/v1/auth/logout"),
        ("PUT", "/api/v1/me/language"),
        ("GET", "/account"),
        ("POST", "/account"),
        ("POST", "/logout"),
        ("POST", "/language"),
    }
)
PASSWORD_CHANGE_PAGE = "/account?first=1"


def _require_password_changed(request: web.Request, info: auth.SessionInfo) -> None:
    route = request.match_info.route.resource
    if (request.method, route.canonical if route is not None else request.path) in BEFORE_PASSWORD_CHANGE:
        return
    request[ACTOR] = info.actor  # the refusal in the person's language, and recorded under their name
    if request.path.startswith("/api/"):
        raise PermissionDenied(
            "password_change_required", N_("Change the one-time password first; until then nothing else is allowed.")
        )
    raise web.HTTPFound(PASSWORD_CHANGE_PAGE)


async def authenticate(conn: Any, request: web.Request, *, csrf: bool) -> auth.SessionInfo:
    token = request.cookies.get(SESSION_COOKIE)
    services = services_of(request)
    info = None
    if token and conn is None:  # a hot route, outside any transaction
        info = await auth.resolve_session_outside(
            services.engine,
            token,
            services.clock.now(),
            client_ip(request),
            services.sessions,
            lookup=services.fast_saves.session_row if services.fast_saves is not None else None,
        )
    elif token:
        info = await auth.resolve_session(conn, token, services.clock.now(), client_ip(request), services.sessions)
    if info is None:
        raise NotAuthenticated("not_signed_in", N_("Please sign in."))
    if info.must_change_password:
        _require_password_changed(request, info)
    if services.session_rate is not None:
        await services.session_rate.check(info.token_hash)
    if csrf and request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), info.csrf_token.encode()):
            raise PermissionDenied("csrf_failed", N_("The form has expired; reload the page and try again."))
    request[ACTOR] = info.actor
    request[SESSION] = info
    return info


Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class RouteDoc:
    method: str
    path: str
    summary: str
    auth: bool
    request_schema: dict | None
    response_schema: dict | None
    errors: tuple[str, ...]
    status: int = 200
    # The one permission this route needs (checked before the handler runs); None: any signed-in role,
    # the handler then decides by ownership (a student's own attempt, a teacher's own journal).
    permission: Permission | None = None
    # The media types of a successful answer (a download may have several: ?format=pdf|xlsx|csv).
    produces: tuple[str, ...] = ("application/json",)
    # What the route acts on, named by its path parameter ``{<kind>_id}``: the permission is checked
    # together with the person's reach over that thing (``services/authority.authorize``).
    resource: Kind | None = None


def resource_of(request: web.Request, kind: Kind | None) -> authority.Resource | None:
    """The thing a request acts on, from its path (``{attempt_id}`` is a UUID, the others integers)."""
    if kind is None:
        return None
    name = f"{kind.value}_id"
    return authority.Resource(kind, path_uuid(request, name) if kind is Kind.ATTEMPT else path_int(request, name))


async def check_authority(
    services: Services, conn: Any, actor: Actor, permission: Permission | None, kind: Kind | None, request: web.Request
) -> None:
    """The one check before a handler: role × permission × reach. A route without a transaction
    (the hot autosave, uploads) gets a connection only when the reach needs one read."""
    if permission is None:
        return
    resource = resource_of(request, kind)
    if conn is not None or resource is None or not authority.needs_lookup(actor.role, resource.kind):
        await authority.authorize(conn, actor, permission, resource)
        return
    async with services.engine.connect() as own:
        await authority.authorize(own, actor, permission, resource)


def _check_path(path: str, resource: Kind | None) -> None:
    if resource is not None and "{" + f"{resource.value}_id" + "}" not in path:
        raise ValueError(f"{path}: a {resource.value} route needs a {{{resource.value}_id}} path parameter")


ROUTES: list[tuple[RouteDoc, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = []

# Refusals a route can answer because of what it is, besides the ones its ``errors=`` declare.
# The OpenAPI document adds them by kind of route and files every code under the status its
# error class answers with (web/error_catalog.py); a new generic refusal is added here.
SIGNED_IN_ERRORS = ("not_signed_in", "rate_limited")  # authenticate(), the session's request budget
CSRF_ERRORS = ("csrf_failed",)  # authenticate() on POST, PUT, PATCH, DELETE
PERMISSION_ERRORS = ("forbidden",)  # Actor.require(permission)
BODY_ERRORS = (
    "invalid_json",
    "duplicate_key",
    "body_too_large",
    "invalid_text",
    "missing_field",
    "invalid_field",
    "out_of_range",
)  # read_json, field (its bounds: exam_engine/bounds.py)
PATH_ERRORS = ("invalid_id",)  # path_int, path_uuid
UNSAFE_ERRORS = ("body_timeout",)  # every POST/PUT/PATCH/DELETE body is read within EXAM_BODY_TIMEOUT_S first
WAIT_ERRORS = ("server_busy",)  # every bounded wait: a database connection, the fast-save turn, a row lock


def endpoint(
    method: str,
    path: str,
    *,
    summary: str,
    auth_required: bool = True,
    request_schema: dict | None = None,
    response_schema: dict | None = None,
    errors: tuple[str, ...] = (),
    status: int = 200,
    permission: Permission | None = None,
    transactional: bool = True,
    hot: bool = False,
    resource: Kind | None = None,
    reader: Callable[[web.Request], Awaitable[Any]] | None = None,
    produces: tuple[str, ...] = ("application/json",),
) -> Callable[[Handler], Handler]:
    """Register an API route with its OpenAPI description (one place for both).

    ``transactional=False``: the handler gets neither connection nor actor and does its own
    authentication (sign-in). ``hot=True``: authenticated and permission-checked like any
    route, but no transaction is opened for it: the handler gets ``conn=None`` and manages
    its own statements (the autosave's one-statement path).

    Every route's JSON body (at most ``MAX_JSON_BYTES``) is read before anything else, within
    the body deadline. ``reader``: an upload route's own body reader (a file larger than a JSON
    body); the person is authenticated and checked without a transaction first (nobody unknown
    uploads megabytes), then ``reader`` runs within the deadline, then the transaction opens
    (none with ``hot=True``); the handler finds what it returned in ``request[PAYLOAD]``.
    """

    _check_path(path, resource)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            services = services_of(request)
            if reader is None and request.method in UNSAFE_METHODS:
                await read_body(request)  # before any connection: a slow body holds nothing but its socket
            if reader is not None:
                actor = (await authenticate(None, request, csrf=True)).actor
                await check_authority(services, None, actor, permission, resource, request)
                request[PAYLOAD] = await within_deadline(request, reader(request))
                if hot:  # the handler opens its own short transactions (a bank upload's parse holds none)
                    result = await handler(request, None, actor)
                else:
                    async with services.engine.begin() as conn:
                        result = await handler(request, conn, actor)
                return result if isinstance(result, web.StreamResponse) else json_response(result, status=status)
            if not transactional:  # the handler opens its own, short transactions (sign-in)
                result = await handler(request, None, None)
                return result if isinstance(result, web.StreamResponse) else json_response(result, status=status)
            if hot:
                actor = (await authenticate(None, request, csrf=True)).actor
                await check_authority(services, None, actor, permission, resource, request)
                result = await handler(request, None, actor)
                return result if isinstance(result, web.StreamResponse) else json_response(result, status=status)
            async with services.engine.begin() as conn:
                actor = (await authenticate(conn, request, csrf=True)).actor if auth_required else None
                if actor is not None:
                    await check_authority(services, conn, actor, permission, resource, request)
                result = await handler(request, conn, actor)
            if isinstance(result, web.StreamResponse):
                return result
            return json_response(result, status=status)

        if reader is None:
            setattr(wrapped, BODY_LIMIT, MAX_JSON_BYTES)
        ROUTES.append(
            (
                RouteDoc(
                    method,
                    path,
                    summary,
                    auth_required,
                    request_schema,
                    response_schema,
                    errors,
                    status,
                    permission,
                    produces,
                    resource,
                ),
                wrapped,
            )
        )
        return handler

    return decorate


BODY_LIMIT = "body_limit"
"""Attribute of an ``endpoint``'s handler: the most its body may be (JSON routes), read by :func:`expect_handler`."""


class ExpectationFailed(DomainError):
    status = 417


def expect_handler(limit: int) -> Callable[[web.Request], Awaitable[web.StreamResponse | None]]:
    """The answer to ``Expect: 100-continue`` of a route whose body may be at most ``limit`` bytes.

    aiohttp's own answered "100 Continue" to every request before any check, so a client announcing a
    terabyte was invited to send it (and then refused); an ``Expect`` other than ``100-continue`` got an
    English 417. Here a body announced over the bound is refused before it is sent — the refusal the route
    would give, in the reader's language, and the connection closed — and any other ``Expect`` is a 417."""

    async def handle(request: web.Request) -> web.StreamResponse | None:
        language = request_language(request)
        if request.headers.get("Expect", "").lower() != "100-continue":
            error: DomainError = ExpectationFailed(
                "expectation_failed", N_("The server cannot meet the request's Expect header; send it without it.")
            )
        elif request.content_length is not None and request.content_length > limit:
            error = InvalidInput("body_too_large", N_("The request is too large."))
        else:
            if request.version >= (1, 1):
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.writer.output_size = 0  # the answer proper has not begun
            return None
        response = error_response(error, language)
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "no-store"
        response.force_close()  # the body was not invited: nothing more is read on this socket
        return response

    return handle


def body_timeout_s(request: web.Request) -> float:
    return services_of(request).settings.body_timeout_s


async def within_deadline(request: web.Request, reading: Awaitable[Any]) -> Any:
    """Await a body ``reading`` within the body deadline; a 408 (JSON) when the body does not arrive."""
    seconds = body_timeout_s(request)
    try:
        async with asyncio.timeout(seconds):
            return await reading
    except HttpProcessingError as exc:  # set on the body by protocol.GuardedHandler
        detail = " ".join(str(exc).split())[:160]
        log.warning("%s %s: the body from %s is malformed: %s", request.method, request.path, request.remote, detail)
        raise MalformedBody("bad_body_framing", BAD_BODY_FRAMING) from None
    except TimeoutError:
        log.info(
            "%s %s: the body did not arrive within %.0f s (from %s)",
            request.method,
            request.path,
            seconds,
            request.remote,
        )
        raise RequestTimeout("body_timeout", BODY_TIMEOUT, seconds=round(seconds)) from None


async def read_body(request: web.Request, limit: int = MAX_JSON_BYTES) -> bytes:
    """The request's body, at most ``limit`` bytes, within the body deadline (read once, then kept)."""
    cached = request.get(BODY)
    if cached is not None:
        return cached
    if request.content_length is not None and request.content_length > limit:
        raise InvalidInput("body_too_large", N_("The request is too large."))

    async def read() -> bytes:
        data = bytearray()
        while chunk := await request.content.read(64 * 1024):
            data += chunk
            if len(data) > limit:
                raise InvalidInput("body_too_large", N_("The request is too large."))
        return bytes(data)

    if not request.body_exists:
        raw = b""
    elif request.content.is_eof():
        # Already all here (a small JSON body usually is, e.g. every autosave): no deadline to arm.
        raw = request.content.read_nowait(-1)
        if len(raw) > limit:
            raise InvalidInput("body_too_large", N_("The request is too large."))
    else:
        raw = await within_deadline(request, read())
    request[BODY] = raw
    return raw


async def read_json(request: web.Request) -> dict[str, Any]:
    raw = await read_body(request) or b"{}"
    try:
        body = loads(raw)
        twice = duplicate_key(raw, body)  # before anything is read from it: one meaning or none
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("invalid_json", N_("The request body is not valid JSON.")) from None
    except RecursionError:  # nesting deeper than the parser's stack (within the size bound: "[[[[…")
        raise InvalidInput("invalid_json", N_("The request body is nested too deeply to be read.")) from None
    if not isinstance(body, dict):
        raise InvalidInput("invalid_json", N_("The request body must be a JSON object."))
    if twice is not None:
        raise AmbiguousBody(
            "duplicate_key",
            N_("The request body names the field «{field}» more than once; send it once."),
            field=twice[:100],
        )
    if _has_nul(body):
        # PostgreSQL text cannot hold NUL: refuse it here, once, for every route.
        raise InvalidInput("invalid_text", N_("Text fields must not contain the NUL character."))
    return body


class AmbiguousBody(DomainError):
    """A JSON body whose meaning depends on the parser (a key given twice): 400, nothing done."""

    status = 400


class _Twice(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Twice(key)
            seen.add(key)
    return out


def duplicate_key(raw: bytes, body: Any) -> str | None:
    """The first key some object of the JSON text ``raw`` gives twice (``body``: ``raw`` parsed), else None.

    Both parsers keep the last of a repeated key silently: ``{"choice": 1, "choice": 2}`` is a save of 2
    to one reader and of 1 to another (a proxy, a log, an audit), so such a body is refused. Cheap first:
    every key of the text is followed by a colon, so when the colons in ``raw`` are no more than the keys
    the parsed value holds, no key was dropped (a colon in a string only adds to the count; then, or when
    a key was dropped, the text is parsed again with every object's pairs checked)."""
    colons = raw.count(b":")
    if colons <= len(body) if type(body) is dict else colons == 0:  # a flat object (every autosave): no walk
        return None
    if colons <= _key_count(body):
        return None
    try:
        json.loads(raw, object_pairs_hook=_unique_pairs)
    except _Twice as twice:
        return twice.key
    return None


def _key_count(value: Any) -> int:
    """How many keys the objects in a parsed JSON value hold, all levels together (walked with a list)."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
    return count


def loads(raw: bytes) -> Any:
    """``json.loads(raw)``, the same value, at a fraction of the cost: orjson parses, and whatever
    it refuses (JSON's extensions such as NaN, other encodings, lone surrogates, invalid text) or
    reads as a float (orjson turns an integer beyond 64 bits into one) is parsed by ``json`` again,
    so the value and every refusal are ``json``'s."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
    return json.loads(raw) if _any_leaf(value, _is_float) else value


def _is_float(value: Any) -> bool:
    return isinstance(value, float)


def _has_nul(value: Any) -> bool:
    return _any_leaf(value, _is_text_with_nul)


def _is_text_with_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


def _any_leaf(value: Any, test: Callable[[Any], bool]) -> bool:
    """Whether ``test`` holds for a leaf or an object key of a parsed JSON value. Walked with a list,
    not by recursion: a body nested as deep as the parser allows cannot exhaust the stack here."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif test(item):
            return True
    return False


MAX_SAFE_INT = bounds.MAX_SAFE_INT
_TYPE_NAMES = {
    int: Word(N_("integer")),
    str: Word(N_("string")),
    bool: Word(N_("boolean")),
    list: Word(N_("list")),
    dict: Word(N_("object")),
}


def field(
    body: dict[str, Any],
    name: str,
    kind: type,
    *,
    required: bool = True,
    default: Any = None,
    nullable: bool = False,
    bound: bounds.Bound | None = None,
) -> Any:
    """One body field of the expected type (and within ``bound``), or a precise 422 naming it."""
    if name not in body:
        if required:
            raise InvalidInput("missing_field", N_("Field «{field}» is required."), field=name)
        return default
    value = body[name]
    if value is None and nullable:
        return None
    if bound is not None:
        return bound.check(value, name)
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise InvalidInput(
            "invalid_field",
            N_("Field «{field}» must be a {expected}."),
            field=name,
            expected=_TYPE_NAMES.get(kind, kind.__name__),
        )
    if kind is int and not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise InvalidInput("invalid_field", N_("Field «{field}» is out of range."), field=name)
    return value


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise InvalidInput(
            "invalid_id", N_("«{value}» is not a valid identifier."), value=request.match_info[name][:64]
        ) from None


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdecimal() or len(raw) > 12:
        raise InvalidInput("invalid_id", N_("«{value}» is not a valid identifier."), value=raw[:64])
    return int(raw)
