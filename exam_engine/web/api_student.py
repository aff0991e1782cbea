"""Sign-in and the student's exam routes under /api/v1."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..errors import Conflict, InvalidInput, NotAuthenticated
from ..i18n import N_
from ..observability import count_autosave
from ..services import attempt_checks, auth
from ..services import attempts as attempt_service
from ..services.attempt_binding import AttemptOpenElsewhere
from . import schemas as s
from .http import (
    PAYLOAD,
    SESSION,
    SESSION_COOKIE,
    check_sign_in_request,
    device_key,
    endpoint,
    error_response,
    field,
    flat_json_response,
    json_response,
    path_int,
    path_uuid,
    read_json,
    request_language,
    services_of,
    set_language_cookie,
    set_session_cookie,
    set_session_cookies,
    sign_in,
)
from .refusals import keep_refusals


def _me(actor: Actor) -> dict[str, Any]:
    return {
        "id": actor.user_id,
        "login": actor.login,
        "full_name": actor.full_name,
        "role": actor.role,
        "language": actor.language,
    }


@endpoint(
    "GET",
    "/api/v1/time",
    summary="Server time, for the exam page's countdown",
    auth_required=False,
    response_schema=s.TIME,
)
async def server_time(request: web.Request, conn: Any, actor: None) -> dict:
    return {"server_now": services_of(request).clock.now().isoformat()}


@endpoint(
    "POST",
    "/api/v1/auth/login",
    summary="Sign in; sets the session cookie and returns the CSRF token",
    auth_required=False,
    request_schema=s.LOGIN,
    response_schema=s.SIGNED_IN,
    errors=(
        "bad_credentials",
        "account_disabled",
        "too_many_attempts",
        "too_many_sign_ins",
        "account_protected",
        "json_required",
        "foreign_origin",
    ),
    transactional=False,
)
async def login(request: web.Request, conn: Any, actor: None) -> web.Response:
    check_sign_in_request(request)  # JSON from this origin: no login CSRF from another site
    body = await read_json(request)
    signed = await sign_in(request, field(body, "login", str)[:64], field(body, "password", str))
    if signed is None:
        # The failure is recorded (committed by the wrapper); then refused.
        code, msgid = auth.BAD_CREDENTIALS
        return error_response(NotAuthenticated(code, msgid), request_language(request))
    response = json_response(
        {
            "user": _me(signed.actor),
            "csrf_token": signed.csrf_token,
            "must_change_password": signed.must_change_password,
        }
    )
    set_session_cookies(response, request, signed)
    return response


# permission=None: any signed-in person signs out, changes their password or language, asks who they are.
@endpoint("POST", "/api/v1/auth/logout", summary="Sign out (revokes this session)", response_schema=s.OK)
async def logout(request: web.Request, conn: Any, actor: Actor) -> web.Response:
    await auth.sign_out(conn, request[SESSION].token_hash, services_of(request).clock.now(), actor)
    services_of(request).sessions.evict(request[SESSION].token_hash)
    response = json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@endpoint("GET", "/api/v1/me", summary="Who is signed in", response_schema=s.ME)
async def me(request: web.Request, conn: Any, actor: Actor) -> dict:
    return {
        "user": _me(actor),
        "csrf_token": request[SESSION].csrf_token,
        "must_change_password": request[SESSION].must_change_password,
    }


@endpoint(
    "POST",
    "/api/v1/me/password",
    summary="Change my password (ends every session; this one goes on under a new cookie, same CSRF token)",
    request_schema=s.PASSWORD_CHANGE,
    response_schema=s.OK,
    errors=(
        "bad_current_password",
        "password_unchanged",
        "password_too_short",
        "password_too_common",
        "too_many_attempts",
    ),
)
async def change_password(request: web.Request, conn: Any, actor: Actor) -> web.Response | dict:
    body = await read_json(request)
    services = services_of(request)
    try:
        renewed = await auth.change_password(
            conn,
            actor,
            current=field(body, "current", str),
            new=field(body, "new", str),
            now=services.clock.now(),
            keep_session=request[SESSION].token_hash,
            throttle=services.throttle,
        )
    except InvalidInput as refused:
        # Answered, not raised: the wrapper then commits the refusal's audit row (nothing else was changed).
        return error_response(refused, actor.language)
    services.sessions.evict_user(actor.user_id)
    response = json_response({"ok": True})
    if renewed is not None:  # this browser goes on under a new token; the old cookie is worth nothing now
        set_session_cookie(response, request, renewed)
    return response


@endpoint(
    "PUT",
    "/api/v1/me/language",
    summary="Choose the interface language (kk or ru)",
    request_schema=s.LANGUAGE,
    response_schema=s.LANGUAGE,
    errors=("unsupported_language",),
)
async def set_language(request: web.Request, conn: Any, actor: Actor) -> web.Response:
    body = await read_json(request)
    lang = await auth.set_language(conn, actor, field(body, "language", str))
    services_of(request).sessions.evict_user(actor.user_id)
    response = json_response({"language": lang})
    set_language_cookie(response, request, lang)
    return response


@endpoint(
    "GET",
    "/api/v1/student/exams",
    summary="My exams and the state of my attempts",
    response_schema=s.STUDENT_EXAMS,
    permission=Permission.SIT_EXAM,
)
async def my_exams(request: web.Request, conn: Any, actor: Actor) -> dict:
    services = services_of(request)
    return {
        "exams": await attempt_service.student_exams(conn, actor, now=services.clock.now()),
        "server_now": services.clock.now().isoformat(),
    }


@endpoint(
    "POST",
    "/api/v1/exams/{exam_id}/start",
    summary="Start the exam, or resume my attempt in progress",
    request_schema=s.START,
    response_schema=s.ATTEMPT_VIEW,
    errors=(
        "retake_forbidden",
        "exam_not_open",
        "exam_closed",
        "exam_not_found",
        "language_unavailable",
        "attempt_open_elsewhere",
    ),
    permission=Permission.SIT_EXAM,
    resource=Kind.EXAM,
)
@keep_refusals  # exam day: the attempt is open in another session (refused, and the refusal recorded)
async def start(request: web.Request, conn: Any, actor: Actor) -> dict:
    services = services_of(request)
    body = await read_json(request)
    language = field(body, "language", str, required=False, nullable=True)
    now = services.clock.now()
    started = await attempt_service.start_with_page(
        conn,
        actor,
        path_int(request, "exam_id"),
        language=language,
        now=now,
        bank_cache=services.bank_cache,
        session=device_key(request),
    )
    if started.page is not None:  # a new attempt: its page is what was just written
        return started.page
    return await attempt_service.view(
        conn, actor, started.attempt_id, now=now, grace_s=services.settings.network_grace_s, session=device_key(request)
    )


@endpoint(
    "GET",
    "/api/v1/attempts/{attempt_id}",
    summary="My attempt: questions, saved answers, deadline",
    response_schema=s.ATTEMPT_VIEW,
    errors=("attempt_not_found", "attempt_open_elsewhere"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
@keep_refusals
async def get_attempt(request: web.Request, conn: Any, actor: Actor) -> dict:
    services = services_of(request)
    return await attempt_service.view(
        conn,
        actor,
        path_uuid(request, "attempt_id"),
        now=services.clock.now(),
        grace_s=services.settings.network_grace_s,
        session=device_key(request),
    )


# SIT_EXAM, then ownership: another student's attempt answers 404, like a missing one.
# hot: no transaction around the route; on PostgreSQL the common case is written by a group commit
# (services/fast_save.py: one statement and one commit for the saves waiting together, each
# answered after it), and anything else — every refusal included — takes the general path.
@endpoint(
    "PUT",
    "/api/v1/attempts/{attempt_id}/answers/{position}",
    summary="Save one answer; replies after the commit with a receipt",
    request_schema=s.ANSWER,
    response_schema=s.RECEIPT,
    errors=(
        "attempt_not_found",
        "deadline_passed",
        "attempt_finished",
        "invalid_choice",
        "invalid_position",
        "invalid_seq",
        "attempt_paused",
        "attempt_open_elsewhere",
    ),
    permission=Permission.SIT_EXAM,
    hot=True,
    resource=Kind.ATTEMPT,
)
@keep_refusals
async def save_answer(request: web.Request, conn: None, actor: Actor) -> web.Response:
    services = services_of(request)
    body = await read_json(request)
    choice = field(body, "choice", int, nullable=True)
    seq = field(body, "seq", int)
    attempt_id, position = path_uuid(request, "attempt_id"), path_int(request, "position")
    session, now, grace_s = device_key(request), services.clock.now(), services.settings.network_grace_s
    receipt = None
    if services.fast_saves is not None and seq >= 1 and 0 < position <= attempt_service.MAX_POSITION:
        saved_at = await services.fast_saves.save(
            student_id=actor.user_id,
            attempt_id=attempt_id,
            position=position,
            choice=choice,
            seq=seq,
            now=now,
            grace_s=grace_s,
            session=session,
        )
        if saved_at is not None:
            receipt = attempt_service.applied_receipt(attempt_id, position, choice, seq, saved_at)
            count_autosave("fast")
    if receipt is None:
        refused = None
        async with services.engine.begin() as tx:
            try:
                receipt = await attempt_service.save_answer(
                    tx, actor, attempt_id, position, choice, seq, now=now, grace_s=grace_s, session=session
                )
            except AttemptOpenElsewhere as error:
                refused = error  # recorded in this transaction: commit it, then refuse
        if refused is not None:
            raise refused
        count_autosave("general")
    return flat_json_response(  # the receipt as json_response writes it, faster (its values are plain)
        {
            "attempt_id": str(receipt.attempt_id),
            "position": receipt.position,
            "choice": receipt.choice,
            "seq": receipt.seq,
            "saved_at": receipt.saved_at.isoformat(),
            "applied": receipt.applied,
            "digest": receipt.digest,
            "server_now": services.clock.now().isoformat(),
        }
    )


@endpoint(
    "POST",
    "/api/v1/attempts/{attempt_id}/submit",
    summary="Hand in; repeating returns the same result",
    response_schema=s.ATTEMPT_SUMMARY,
    errors=("attempt_not_found", "attempt_paused", "attempt_open_elsewhere"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
@keep_refusals
async def submit(request: web.Request, conn: Any, actor: Actor) -> dict:
    services = services_of(request)
    return await attempt_service.submit(
        conn,
        actor,
        path_uuid(request, "attempt_id"),
        now=services.clock.now(),
        grace_s=services.settings.network_grace_s,
        session=device_key(request),
    )


@endpoint(
    "GET",
    "/api/v1/attempts/{attempt_id}/result",
    summary="My result, the same day (E3)",
    response_schema=s.ATTEMPT_SUMMARY,
    errors=("attempt_not_found", "result_not_ready", "attempt_open_elsewhere"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
@keep_refusals
async def result(request: web.Request, conn: Any, actor: Actor) -> dict:
    services = services_of(request)
    summary = await attempt_service.summary(
        conn,
        actor,
        path_uuid(request, "attempt_id"),
        now=services.clock.now(),
        grace_s=services.settings.network_grace_s,
        session=device_key(request),
    )
    if summary["status"] in ("in_progress", "paused"):
        raise Conflict("result_not_ready", N_("The attempt is still in progress."))
    return summary


# ------------------------------------------------------------------------- the checks before the clock (issue 20)

MAX_CHECK_FRAME_BYTES = 2 * 1024 * 1024
CAMERA_CHECK = s.obj(
    ["ok", "reason", "faces", "at"],
    ok=s.BOOL,
    reason={"type": "string", "enum": list(attempt_checks.CAMERA_REASONS)},
    faces=s.INT,
    at=s.TS,
)


async def _check_frame(request: web.Request) -> bytes:
    """The check frame, at most MAX_CHECK_FRAME_BYTES, read (within the body deadline) before any connection."""
    from ..services import proctoring

    if request.content_length is not None and request.content_length > MAX_CHECK_FRAME_BYTES:
        raise proctoring.too_large(MAX_CHECK_FRAME_BYTES)
    data = bytearray()
    while chunk := await request.content.read(64 * 1024):
        data += chunk
        if len(data) > MAX_CHECK_FRAME_BYTES:
            raise proctoring.too_large(MAX_CHECK_FRAME_BYTES)
    return bytes(data)


@endpoint(
    "POST",
    "/api/v1/attempts/{attempt_id}/camera-check",
    summary="The server looks for one face in this camera frame (image/jpeg body, at most 2 MB); "
    "the verdict is kept for the checks before the clock",
    response_schema=CAMERA_CHECK,
    errors=("attempt_not_found", "attempt_finished", "image_invalid", "upload_too_large", "attempt_open_elsewhere"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
    reader=_check_frame,
)
@keep_refusals
async def post_camera_check(request: web.Request, conn: Any, actor: Actor) -> dict:
    from ..services import proctoring

    services = services_of(request)
    attempt_id = path_uuid(request, "attempt_id")
    jpeg = request[PAYLOAD]
    await proctoring.check_jpeg(jpeg)
    settings = proctoring.runtime_of(services).settings
    return await attempt_checks.camera_check(
        conn, actor, attempt_id, jpeg, settings=settings, now=services.clock.now(), session=device_key(request)
    )


@endpoint(
    "POST",
    "/api/v1/attempts/{attempt_id}/begin",
    summary="The checks before a proctored exam are done: the server verifies them (consent, a face in the "
    "camera, the identity photo, the room scan) and starts the clock now; repeating is harmless",
    response_schema=s.ATTEMPT_VIEW,
    errors=(
        "attempt_not_found",
        "attempt_finished",
        "exam_closed",
        "consent_required",
        "camera_check_required",
        "identity_photo_required",
        "room_scan_required",
        "attempt_open_elsewhere",
    ),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
@keep_refusals
async def post_begin(request: web.Request, conn: Any, actor: Actor) -> dict:
    from ..services import proctoring

    services = services_of(request)
    attempt_id, now, device = path_uuid(request, "attempt_id"), services.clock.now(), device_key(request)
    summary = await attempt_service.summary(
        conn, actor, attempt_id, now=now, grace_s=services.settings.network_grace_s, session=device
    )
    capture = await proctoring.exam_capture_settings(conn, proctoring.runtime_of(services), summary["exam_id"])
    await attempt_checks.begin(conn, actor, attempt_id, capture_settings=capture, now=now, session=device)
    return await attempt_service.view(
        conn, actor, attempt_id, now=now, grace_s=services.settings.network_grace_s, session=device
    )
