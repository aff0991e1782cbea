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

from .pages import expired_form_page, page, render

BABEL_LOCALE = {"kk": "kk_KZ", "ru": "ru_RU"}
CHOSEN_COOKIE = "lang_chosen"
"""Set when a language is picked before sign-in; the sign-in that follows adopts it (see ``login_submit``)."""
# Exams are held in Kazakhstan; times are shown in the country's time zone.
DISPLAY_TZ = "Asia/Almaty"


def when(value: str | datetime | None, language: str) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(moment, "d MMMM y, HH:mm", tzinfo=DISPLAY_TZ, locale=BABEL_LOCALE[language])


def _safe_next(value: str | None) -> str:
    """A place on this site to go back to, else the start page. Browsers (and yarl, writing the
    ``Location``) drop tabs and line breaks from a URL, so ``/<TAB>/evil.example`` became
    ``//evil.example`` — another site, right after a real sign-in. The addresses the pages send
    (``quote``d paths) hold no blank, control character or backslash: any of them refuses the value."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if any(c <= " " or c == "\x7f" or c == "\\" for c in value):
        return "/"
    return value


def _login_page(request: web.Request, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """The sign-in page. Its form is checked by origin (no session, no CSRF token yet), and under the
    site-wide ``Referrer-Policy: no-referrer`` a browser sends ``Origin: null`` even to its own site —
    which is exactly what a foreign page can send too. ``same-origin`` here: our own form names us."""
    response = render(request, "login.html", context, status=status)
    response.headers["Referrer-Policy"] = "same-origin"
    return response


async def login_form(request: web.Request) -> web.Response:
    return _login_page(request, {"error": None, "next": _safe_next(request.query.get("next")), "login": ""})


async def login_submit(request: web.Request) -> web.StreamResponse:
    services = api.services_of(request)
    form = await request.post()
    login = str(form.get("login", ""))[:64]
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    language = api.request_language(request)
    if not api.same_origin(request):
        return _login_page(
            request,
            {
                "error": api.translate(language, N_("The form has expired; reload the page and try again.")),
                "next": target,
                "login": login,
            },
            status=403,
        )
    try:
        signed = await api.sign_in(request, login, password)
    except api.DomainError as error:
        refused = _login_page(
            request,
            {"error": api.translate(language, error.msgid, **error.params), "next": target, "login": login},
            status=error.status,
        )
        if isinstance(error, api.TooManyRequests):  # as the API says it: when to try again
            refused.headers["Retry-After"] = str(error.retry_after)
        return refused
    if signed is None:
        code, msgid = api.auth_service.BAD_CREDENTIALS
        return _login_page(
            request, {"error": api.translate(language, msgid), "next": target, "login": login}, status=401
        )
    destination = api.PASSWORD_CHANGE_PAGE if signed.must_change_password else target
    response = web.HTTPFound(destination)
    api.set_session_cookies(response, request, signed)  # the session, its language and the device cookie
    chosen = request.cookies.get(CHOSEN_COOKIE)
    if chosen in api.LANGUAGES and chosen != signed.actor.language and signed.actor.user_id is not None:
        # A language picked on the sign-in page is the person's latest explicit choice: it wins over the
        # account's and is stored, so the next sign-in (and every page of this session) is in it.
        async with services.engine.begin() as conn:
            await api.auth_service.set_language(conn, signed.actor, chosen)
        services.sessions.evict_user(signed.actor.user_id)
        api.set_language_cookie(response, request, chosen)
    response.del_cookie(CHOSEN_COOKIE, path="/")
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
    info = None
    if request.cookies.get(api.SESSION_COOKIE):
        async with services.engine.begin() as conn:
            try:
                info = await api.authenticate(conn, request, csrf=False)
            except api.NotAuthenticated:
                info = None
            if info is not None:
                if not hmac.compare_digest(str(form.get("_csrf", "")).encode(), info.csrf_token.encode()):
                    return await expired_form_page(request, info.actor, conn, back=back)
                await api.auth_service.set_language(conn, info.actor, lang)
                services.sessions.evict_user(info.actor.user_id)
    response = web.HTTPFound(back)
    api.set_language_cookie(response, request, lang, max_age=365 * 24 * 3600)
    if info is None:  # chosen before sign-in: marks the choice for the sign-in that follows (this browser session)
        api.set_language_cookie(response, request, lang, name=CHOSEN_COOKIE, httponly=True)
    raise response


@page()
async def home(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    if actor.role == api.Role.STUDENT:
        raise web.HTTPFound("/student")
    return render(request, "staff_home.html", {}, actor=actor)


@page(permission=api.Permission.SIT_EXAM)
async def student_home(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    services = api.services_of(request)
    now = services.clock.now()
    exams = await api.attempt_service.student_exams(conn, actor, now=now)
    running = ("checks", "in_progress", "paused")
    upcoming = [e for e in exams if not e["attempt"] or e["attempt"]["status"] in running]
    finished = [e for e in exams if e["attempt"] and e["attempt"]["status"] not in running]
    return render(
        request,
        "student_home.html",
        {
            "upcoming": upcoming,
            "finished": finished,
            "when": lambda v: when(v, actor.language),
            "closed": _window_closed(now),
        },
        actor=actor,
    )


def _window_closed(now: datetime):  # type: ignore[no-untyped-def]
    """For the student's pages: an exam not started whose window has closed (not «not open yet»)."""
    return lambda e: not e["open_now"] and datetime.fromisoformat(e["closes_at"]) <= now


def _exam_messages(language: str) -> dict[str, str]:
    ids = {
        "question_of": N_("Question {n} of {total}"),
        "saved_at": N_("All answers saved · {time} · receipt #{seq}"),
        "saving": N_("Saving…"),
        "waiting": N_("No connection: {count} answers waiting, they will be sent automatically"),
        "busy": N_("The server is busy: {count} answers waiting, they will be sent automatically"),
        "remaining": N_("Time left"),
        # Issue 20: the warnings say the real time left and what running out means (E1).
        "warn_unsatisfactory": N_(
            "Less than {minutes} min left. When the time runs out the exam is graded "
            "«unsatisfactory»: your answers are NOT handed in automatically. Press «Hand in» "
            "before then."
        ),
        "warn_grade_saved": N_(
            "Less than {minutes} min left. When the time runs out, the answers you have saved are graded as they are."
        ),
        "time_up_unsatisfactory": N_("Time is up and the exam was not handed in: it is graded «unsatisfactory»."),
        "time_up_grade_saved": N_("Time is up. Your saved answers are graded as they are."),
        "confirm_submit": N_("Hand in your answers now? Unanswered questions: {count}."),
        "answered": N_("answered"),
        "unanswered": N_("not answered"),
        "question_label": N_("Question {n}, {state}"),
        "error": N_("Something went wrong: {message}"),
        "paused": N_("The proctor has paused your exam. Your time is not running; please wait."),
        "handed_in_recording": N_("Your answers are handed in. Sending the end of the video recording, a few seconds…"),
        "all_saved": N_("All answers saved"),
        "start_offline": N_("No connection to the server. The page tries again by itself; please wait."),
        # A hand-in that could not reach the server (offline) says so: nothing was handed in.
        "not_handed_in": N_(
            "NOT handed in: there is no connection to the server. Your answers are kept in this browser "
            "and the time keeps running. Press «Hand in» again when the connection returns."
        ),
        "back_not_handed_in": N_(
            "The connection is back and your answers are saved. The exam is NOT handed in yet: press «Hand in»."
        ),
        # The server failed one answer again and again (a 500): the later answers went on without it.
        "not_saved": N_(
            "The server could not save your answer to question {number}. Call the proctor. "
            "Your other answers are being saved; choose that answer again when the proctor says so."
        ),
        "not_saved_short": N_("Not saved: question {number}"),
        # The time ran out while offline: the page waits for the server instead of opening the browser's
        # own "no internet" page in its language.
        "result_when_online": N_(
            "There is no connection to the server: your result opens here when the connection returns."
        ),
        # The remaining-time warning as the sticky time bar shows it (the message box has the whole rule).
        "warn_short": N_("Less than {minutes} min left: press «Hand in»."),
        "waiting_sign_in": N_("{count} answers waiting: they are sent when you sign in again"),
        # The session ended mid-exam (401): the page stays and leads back to the same attempt.
        "session_lost": N_(
            "Your sign-in has ended. Your answers are kept in this browser and the time keeps running: "
            "sign in again in this browser to continue the same exam, and the waiting answers are sent."
        ),
        "sign_in_again": N_("Sign in again"),
        # Answers that waited in the browser (a laptop asleep past the deadline) and were refused: named.
        "late_not_saved": N_(
            "Your answers to questions {number} reached the server after the time had ended and were NOT "
            "saved. The result counts only the answers saved before the end."
        ),
        "ended_not_saved": N_(
            "The exam had already ended when your answers to questions {number} reached the server: they "
            "were NOT saved. The result counts only the answers saved before the end."
        ),
        "see_result": N_("See the result"),
        # The window closed (or is not open) when «Start» was pressed: said without the server's raw time.
        "exam_closed": N_(
            "The exam window has closed: this exam can no longer be started. If you missed it for a valid "
            "reason, ask the academic office for a new time (a document is needed)."
        ),
        "exam_not_open": N_("The exam is not open yet. Come back at the time written under «My exams»."),
        "back_home": N_("Back to my exams"),
    }
    return {key: api.gettext(language, msgid) for key, msgid in ids.items()}


@page(permission=api.Permission.SIT_EXAM, resource=api.Kind.EXAM)
async def exam_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    exam_id = request.match_info["exam_id"]
    if not exam_id.isdecimal():
        raise web.HTTPNotFound()
    from .proctoring import student_capture

    exam = await _my_exam(request, conn, actor, int(exam_id))
    attempt = exam["attempt"]
    if exam["requires_proctoring"] and (attempt is None or attempt["status"] == "checks"):
        raise web.HTTPFound(f"/exam/{exam_id}/check")  # a proctored attempt's clock starts after the checks
    if attempt is None and request.query.get("begin") != "1":
        raise web.HTTPFound(f"/exam/{exam_id}/rules")  # the rules first: the clock starts on this page
    capture = await student_capture(request, conn, actor, int(exam_id), check=False)
    config = {
        "exam_id": int(exam_id),
        "csrf": request[api.SESSION].csrf_token,
        "messages": _exam_messages(actor.language),
        "language": actor.language,
        "time_zone": DISPLAY_TZ,  # the receipt's time as the rest of the pages write times, whatever the computer's zone
        "proctoring": capture,
        "warn_at_s": list(api.WARN_AT_S),
    }
    return render(request, "exam.html", {"config": config}, actor=actor)


async def _my_exam(request: web.Request, conn: Any, actor: api.Actor, exam_id: int) -> dict[str, Any]:
    """The student's exam for a page of the sitting. One whose attempt has ended (handed in, timed
    out, annulled) shows its result on every such page — the rules, the checks, the questions (a
    bookmark, the back button) — instead of a refusal with nowhere to go."""
    exams = await api.attempt_service.student_exams(conn, actor, now=api.services_of(request).clock.now())
    exam = next((e for e in exams if e["id"] == exam_id), None)
    if exam is None:
        raise web.HTTPNotFound()
    attempt = exam["attempt"]
    if attempt is not None and attempt["status"] not in ("checks", "in_progress", "paused"):
        raise web.HTTPFound(f"/attempt/{attempt['id']}/result")
    return exam


@page(permission=api.Permission.SIT_EXAM, resource=api.Kind.EXAM)
async def rules_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Before anything starts: the exam's rules in the student's language (issue 20)."""
    exam_id = request.match_info["exam_id"]
    if not exam_id.isdecimal():
        raise web.HTTPNotFound()
    exam = await _my_exam(request, conn, actor, int(exam_id))
    closed = _window_closed(api.services_of(request).clock.now())
    return render(
        request, "rules.html", {"exam": exam, "when": lambda v: when(v, actor.language), "closed": closed}, actor=actor
    )


@page(permission=api.Permission.SIT_EXAM, resource=api.Kind.EXAM)
async def check_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    exam_id = request.match_info["exam_id"]
    if not exam_id.isdecimal():
        raise web.HTTPNotFound()
    ids = {
        "camera_ok": N_("Camera: there is a picture. Whether your face is visible is checked when you continue."),
        "camera_dark": N_("Camera: the picture is black or covered."),
        "camera_denied": N_("Camera: no access. Allow the camera in the browser and reload the page."),
        "mic_ok": N_("Microphone: works."),
        "mic_denied": N_("Microphone: no access. Allow the microphone in the browser and reload the page."),
        # Why the browser gave no camera decides what helps: «allow» is no use for a camera that is
        # missing or held by another program (a video call), the commonest trouble in a hall.
        "media_busy": N_(
            "Camera or microphone: another program is using it (a video call, another browser). Close that "
            "program and reload the page."
        ),
        "media_missing": N_(
            "Camera or microphone: the computer has none connected. Connect a camera and a microphone and "
            "reload the page."
        ),
    }
    from .proctoring import student_capture

    ids.update(
        {
            "step_camera": N_("Camera check: the server looks for your face…"),
            "camera_face_ok": N_("Camera check: your face is visible."),
            "camera_no_face": N_(
                "Camera check failed: no face is visible. Sit in front of the camera in good light "
                "and press «Continue to the exam» again. Your time has not started."
            ),
            "camera_several_faces": N_(
                "Camera check failed: more than one face is visible. Only you may be in front "
                "of the camera. Your time has not started."
            ),
            "camera_dark": N_(
                "Camera check failed: the picture is too dark or covered. Uncover the camera, turn on "
                "the light and press «Continue to the exam» again. Your time has not started."
            ),
            "step_begin": N_("The checks passed. Your time starts now."),
            "not_started": N_(
                "Your time has not started yet; it starts when all checks pass. If they keep failing, "
                "ask the proctor for help."
            ),
        }
    )
    exam = await _my_exam(request, conn, actor, int(exam_id))
    if exam["attempt"] is not None and exam["attempt"]["status"] in ("in_progress", "paused"):
        raise web.HTTPFound(f"/exam/{exam_id}")  # the checks passed already: back to the questions
    config = {
        "exam_id": int(exam_id),
        "messages": {k: api.gettext(actor.language, v) for k, v in ids.items()},
        "csrf": request[api.SESSION].csrf_token,
        "proctoring": await student_capture(request, conn, actor, int(exam_id), check=True),
    }
    return render(
        request, "check.html", {"config": config, "exam": exam, "in_checks": exam["attempt"] is not None}, actor=actor
    )


@page(permission=api.Permission.SIT_EXAM, resource=api.Kind.ATTEMPT)
async def result_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    services = api.services_of(request)
    try:
        attempt_id = uuid.UUID(request.match_info["attempt_id"])
        data = await api.attempt_service.view(
            conn, actor, attempt_id, now=services.clock.now(), grace_s=services.settings.network_grace_s
        )
    except (ValueError, api.DomainError):
        raise web.HTTPNotFound() from None
    note = None
    if data["attempt"]["status"] not in ("in_progress", "paused"):  # provisional / held / regraded (issue 25)
        note = await api.hold_service.result_note(conn, attempt_id, data["attempt"]["exam_id"], language=actor.language)
    return render(
        request,
        "result.html",
        {
            "attempt": data["attempt"],
            "answered": sum(1 for q in data["questions"] if q["choice"] is not None),
            "when": lambda v: when(v, actor.language),
            "result_note": note,
            # What the exam page's video recorder left queued when it left is sent from here (recorder.js).
            "recording_tail": {"attempt_id": str(attempt_id), "csrf": request[api.SESSION].csrf_token}
            if data["attempt"]["status"] in ("submitted", "timed_out")
            else None,
            # Answers the exam page left waiting in this browser (closed or reloaded offline, then the
            # time ran out) are compared with what the server holds and named (result-queue.js).
            "held": None
            if data["attempt"]["status"] in ("checks", "in_progress", "paused")
            else {
                "attempt_id": str(attempt_id),
                "numbers": {str(q["position"]): i + 1 for i, q in enumerate(data["questions"])},
                "choices": {str(q["position"]): q["choice"] for q in data["questions"] if q["seq"] is not None},
                "message": api.gettext(
                    actor.language,
                    N_(
                        "Your answers to questions {number} were still waiting in this browser when the exam "
                        "ended and were NOT saved. The result counts only the answers saved before the end."
                    ),
                ),
            },
        },
        actor=actor,
    )


@page()
async def account(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    message = error = renewed = None
    if request.method == "POST":
        form = await request.post()
        services = api.services_of(request)
        try:
            # Nothing changes unless every check passes; a refusal's audit row commits with this page.
            renewed = await api.auth_service.change_password(
                conn,
                actor,
                current=str(form.get("current", "")),
                new=str(form.get("new", "")),
                now=services.clock.now(),
                keep_session=request[api.SESSION].token_hash,
                throttle=services.throttle,
            )
            services.sessions.evict_user(actor.user_id)
            message = api.translate(actor.language, N_("Your password has been changed."))
        except api.DomainError as e:
            error = api.translate(actor.language, e.msgid, **e.params)
    first = request.query.get("first") == "1"
    # After the change, the way on: a student's exams (issue 20), anyone else's start page.
    onward = "/student" if actor.role == api.Role.STUDENT else "/"
    response = render(
        request,
        "account.html",
        {"message": message, "error": error, "first": first, "onward": onward},
        actor=actor,
        status=422 if error else 200,
    )
    if renewed is not None:  # this browser goes on under a new token (the same CSRF token: open tabs keep working)
        api.set_session_cookie(response, request, renewed)
    return response


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
    app.router.add_get("/exam/{exam_id}/rules", rules_page)
    app.router.add_get("/attempt/{attempt_id}/result", result_page)
    app.router.add_get("/account", account)
    app.router.add_post("/account", account)
