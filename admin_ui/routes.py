"""The pages every role uses: sign-in, language, account, the student's exams and the exam page."""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web
from babel.dates import format_datetime

from exam_engine import api
from exam_engine.i18n import N_

from .pages import page, render, same_origin

BABEL_LOCALE = {"kk": "kk_KZ", "ru": "ru_RU"}
# Exams are held in Kazakhstan; times are shown in the country's time zone.
DISPLAY_TZ = "Asia/Almaty"


def when(value: str | datetime | None, language: str) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(moment, "d MMMM y, HH:mm", tzinfo=DISPLAY_TZ, locale=BABEL_LOCALE[language])


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", {"error": None, "next": _safe_next(request.query.get("next")), "login": ""})


async def login_submit(request: web.Request) -> web.StreamResponse:
    services = api.services_of(request)
    form = await request.post()
    login = str(form.get("login", ""))[:64]
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    language = api.request_language(request)
    if not same_origin(request):
        return render(request, "login.html", {"error": api.translate(
            language, N_("The form has expired; reload the page and try again.")), "next": target, "login": login},
            status=403)
    try:
        signed = await api.auth_service.sign_in(
            services.engine, login=login, password=password, ip=api.client_ip(request),
            user_agent=request.headers.get("User-Agent"), clock=services.clock,
            ttl_s=services.settings.session_ttl_s, throttle=services.throttle)
    except api.DomainError as error:
        return render(request, "login.html", {"error": api.translate(language, error.msgid, **error.params),
                                              "next": target, "login": login}, status=error.status)
    if signed is None:
        code, msgid = api.auth_service.BAD_CREDENTIALS
        return render(request, "login.html", {"error": api.translate(language, msgid), "next": target,
                                              "login": login}, status=401)
    destination = "/account?first=1" if signed.must_change_password else target
    response = web.HTTPFound(destination)
    response.set_cookie(api.SESSION_COOKIE, signed.token, httponly=True, samesite="Strict", path="/",
                        secure=services.settings.cookie_secure, max_age=services.settings.session_ttl_s)
    response.set_cookie("lang", signed.actor.language, samesite="Strict", path="/")
    raise response


@page()
async def logout(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    await api.auth_service.sign_out(conn, request[api.SESSION].token_hash, api.services_of(request).clock.now(), actor)
    api.services_of(request).sessions.evict(request[api.SESSION].token_hash)
    response = web.HTTPFound("/login")
    response.del_cookie(api.SESSION_COOKIE, path="/")
    raise response


async def choose_language(request: web.Request) -> web.StreamResponse:
    """Works signed in (sticks to the account) and before sign-in (a cookie)."""
    form = await request.post()
    lang = api.normalise_language(str(form.get("lang", "")))
    back = _safe_next(str(form.get("next", "/")))
    services = api.services_of(request)
    if request.cookies.get(api.SESSION_COOKIE):
        async with services.engine.begin() as conn:
            try:
                info = await api.authenticate(conn, request, csrf=False)
            except api.NotAuthenticated:
                info = None
            if info is not None:
                if not hmac.compare_digest(str(form.get("_csrf", "")).encode(), info.csrf_token.encode()):
                    raise web.HTTPForbidden()
                await api.auth_service.set_language(conn, info.actor, lang)
                services.sessions.evict_user(info.actor.user_id)
    response = web.HTTPFound(back)
    response.set_cookie("lang", lang, samesite="Strict", path="/", max_age=365 * 24 * 3600)
    raise response


@page()
async def home(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    if actor.role == api.Role.STUDENT:
        raise web.HTTPFound("/student")
    return render(request, "staff_home.html", {}, actor=actor)


@page(permission=api.Permission.SIT_EXAM)
async def student_home(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    services = api.services_of(request)
    exams = await api.attempt_service.student_exams(conn, actor, now=services.clock.now())
    upcoming = [e for e in exams if not e["attempt"] or e["attempt"]["status"] == "in_progress"]
    finished = [e for e in exams if e["attempt"] and e["attempt"]["status"] != "in_progress"]
    return render(request, "student_home.html", {
        "upcoming": upcoming, "finished": finished, "when": lambda v: when(v, actor.language)}, actor=actor)


def _exam_messages(language: str) -> dict[str, str]:
    ids = {
        "question_of": N_("Question {n} of {total}"),
        "saved_at": N_("All answers saved · {time} · receipt #{seq}"),
        "saving": N_("Saving…"),
        "waiting": N_("No connection: {count} answers waiting, they will be sent automatically"),
        "remaining": N_("Time left"),
        "warn5": N_("5 minutes left."),
        "warn1": N_("1 minute left. Your saved answers will be handed in automatically."),
        "time_up": N_("Time is up. Your saved answers have been handed in."),
        "confirm_submit": N_("Hand in your answers now? Unanswered questions: {count}."),
        "answered": N_("answered"),
        "unanswered": N_("not answered"),
        "question_label": N_("Question {n}, {state}"),
        "error": N_("Something went wrong: {message}"),
        "paused": N_("The proctor has paused your exam. Your time is not running; please wait."),
    }
    return {key: api.gettext(language, msgid) for key, msgid in ids.items()}


@page(permission=api.Permission.SIT_EXAM)
async def exam_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    exam_id = request.match_info["exam_id"]
    if not exam_id.isdigit():
        raise web.HTTPNotFound()
    from .proctoring import student_capture

    capture = await student_capture(request, conn, actor, int(exam_id), check=False)
    if capture is not None and capture["needs_check"]:
        raise web.HTTPFound(f"/exam/{exam_id}/check")  # a proctored attempt starts at the check
    config = {"exam_id": int(exam_id), "csrf": request[api.SESSION].csrf_token,
              "messages": _exam_messages(actor.language), "language": actor.language, "proctoring": capture}
    return render(request, "exam.html", {"config": config}, actor=actor)


@page(permission=api.Permission.SIT_EXAM)
async def check_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    exam_id = request.match_info["exam_id"]
    if not exam_id.isdigit():
        raise web.HTTPNotFound()
    ids = {
        "camera_ok": N_("Camera: works."),
        "camera_dark": N_("Camera: the picture is black or covered."),
        "camera_denied": N_("Camera: no access. Allow the camera in the browser and reload the page."),
        "mic_ok": N_("Microphone: works."),
        "mic_denied": N_("Microphone: no access. Allow the microphone in the browser and reload the page."),
    }
    from .proctoring import student_capture

    config = {"exam_id": int(exam_id), "messages": {k: api.gettext(actor.language, v) for k, v in ids.items()},
              "proctoring": await student_capture(request, conn, actor, int(exam_id), check=True)}
    return render(request, "check.html", {"config": config}, actor=actor)


@page(permission=api.Permission.SIT_EXAM)
async def result_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    services = api.services_of(request)
    try:
        attempt_id = uuid.UUID(request.match_info["attempt_id"])
        data = await api.attempt_service.view(conn, actor, attempt_id, now=services.clock.now(),
                                              grace_s=services.settings.network_grace_s)
    except (ValueError, api.DomainError):
        raise web.HTTPNotFound() from None
    note = None
    if data["attempt"]["status"] not in ("in_progress", "paused"):  # provisional / held / regraded (issue 25)
        note = await api.hold_service.result_note(conn, attempt_id, data["attempt"]["exam_id"],
                                                  language=actor.language)
    return render(request, "result.html", {"attempt": data["attempt"], "answered": sum(
        1 for q in data["questions"] if q["choice"] is not None), "when": lambda v: when(v, actor.language),
        "result_note": note}, actor=actor)


@page()
async def account(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    message = error = None
    if request.method == "POST":
        form = await request.post()
        services = api.services_of(request)
        try:
            async with conn.begin_nested():
                await api.auth_service.change_password(
                    conn, actor, current=str(form.get("current", "")), new=str(form.get("new", "")),
                    now=services.clock.now(), keep_session=request[api.SESSION].token_hash)
            services.sessions.evict_user(actor.user_id)
            message = api.translate(actor.language, N_("Your password has been changed."))
        except api.DomainError as e:
            error = api.translate(actor.language, e.msgid, **e.params)
    first = request.query.get("first") == "1"
    return render(request, "account.html", {"message": message, "error": error, "first": first}, actor=actor,
                  status=422 if error else 200)


async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


def register(app: web.Application) -> None:
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_post("/language", choose_language)
    app.router.add_get("/", home)
    app.router.add_get("/student", student_home)
    app.router.add_get("/exam/{exam_id}", exam_page)
    app.router.add_get("/exam/{exam_id}/check", check_page)
    app.router.add_get("/attempt/{attempt_id}/result", result_page)
    app.router.add_get("/account", account)
    app.router.add_post("/account", account)
