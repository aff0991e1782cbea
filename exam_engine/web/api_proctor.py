"""Proctoring routes under /api/v1/proctor: the student page's capture API and the proctor's review API.

Binary uploads (frames, screenshots, photos, room scans) do not use the shared
``endpoint`` wrapper: their body is read, size-limited, *before* the transaction
opens, so a slow upload never holds a database connection, and the analysis job
is queued only *after* the commit. Everything else goes through ``endpoint``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from proctor.runtime import ProctorRuntime
from proctor.store import ItemKind

from .. import bounds as b
from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..errors import Conflict, InvalidInput
from ..i18n import N_, translate
from ..services import proctor_admin as admin
from ..services import proctor_review as review
from ..services import proctoring as capture
from . import schemas as s
from .http import (
    BODY,
    ROUTES,
    BodyFramingError,
    RouteDoc,
    authenticate,
    check_authority,
    endpoint,
    error_response,
    field,
    json_response,
    path_int,
    path_uuid,
    read_body,
    read_json,
    services_of,
    within_deadline,
)

log = logging.getLogger(__name__)

BASE = "/api/v1/proctor"
RECEIPTS = s.obj(
    ["items"],
    items={
        "type": "array",
        "items": s.obj(
            ["kind", "seq", "evidence_seq", "received_at", "stored"],
            kind=s.STR,
            seq=s.INT,
            evidence_seq=s.INT,
            received_at=s.TS,
            stored=s.BOOL,
        ),
    },
)
PLAN = {"type": "object", "description": "capture plan: intervals, limits, enrolment state, pending requests"}
ANY = {"type": "object"}
UPLOAD_ERRORS = (
    "attempt_not_found",
    "consent_required",
    "attempt_finished",
    "deadline_passed",
    "image_invalid",
    "upload_too_large",
    "multipart_expected",
    "exam_not_proctored",
    "evidence_rate_exceeded",
    "evidence_quota_exceeded",
)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise capture.too_large(limit)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise capture.too_large(limit)
    return bytes(body)


async def _read_frames(request: web.Request, limit: int) -> list[bytes]:
    """The parts named ``frame`` of a multipart body, within ``limit`` bytes in all."""
    if request.content_length is not None and request.content_length > limit:
        raise capture.too_large(limit)
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise InvalidInput("multipart_expected", N_("Send the room scan as multipart/form-data.")) from None
    frames, total = [], 0
    try:
        while (part := await reader.next()) is not None:
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):  # type: ignore[union-attr]
                total += len(chunk)
                if total > limit:
                    raise capture.too_large(limit)
                data += chunk
            if getattr(part, "name", None) == "frame":
                frames.append(bytes(data))
    except BodyFramingError:
        raise  # the request's own framing: http.within_deadline says so
    except (HttpProcessingError, ValueError, AssertionError):
        # A part's header line over aiohttp's bound, a broken part: the form's fault.
        raise InvalidInput("multipart_expected", N_("Send the room scan as multipart/form-data.")) from None
    return frames


Upload = Callable[[web.Request, Any, Actor, ProctorRuntime, Any], Awaitable[Any]]


def upload(
    method: str,
    path: str,
    *,
    summary: str,
    body: str | None,
    errors: tuple[str, ...] = UPLOAD_ERRORS,
    response_schema: dict = RECEIPTS,
    permission: Permission | None = None,
    resource: Kind | None = None,
) -> Callable[[Upload], Upload]:
    """Register a capture route: who is asking and whether the role may (no connection held
    while the body arrives), then the body read and checked (``jpeg`` / ``multipart`` / none),
    then one transaction, then the analysis jobs of what was stored. ``webm`` (a recording
    chunk): the handler gets no connection and opens its own short transactions, so none is
    held while the chunk is encrypted and synced."""

    def decorate(handler: Upload) -> Upload:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            services = services_of(request)
            # A refused person costs no upload, no JPEG decode and no pooled connection during either.
            # The session cache answers most (a miss is one query on the hot path's pool), so no
            # pooled connection is taken just to ask: a webcam frame every few seconds per student.
            actor = (await authenticate(None, request, csrf=True)).actor
            await check_authority(services, None, actor, permission, resource, request)
            runtime = capture.runtime_of(services)
            config = runtime.config
            # A student's evidence is bounded per attempt: uploads a minute (before the body is read)
            # and bytes in all (once its size is known). Refusals are 429s; the first is recorded.
            attempt_id = path_uuid(request, "attempt_id") if "attempt_id" in request.match_info else None
            if attempt_id is not None:
                await capture.check_upload_rate(services, runtime, actor, attempt_id, now=services.clock.now())
            payload: Any = None
            # Every body arrives within the body deadline (408 otherwise), before any connection is taken.
            if body == "jpeg":
                payload = await within_deadline(request, _read_limited(request, config.max_frame_bytes))
            elif body == "multipart":
                payload = await within_deadline(request, _read_frames(request, config.max_burst_bytes))
            elif body == "webm":
                payload = await within_deadline(request, _read_limited(request, config.max_chunk_bytes))
            else:
                await read_body(request)  # the JSON of events and loudness batches; read_json returns it
            if attempt_id is not None:
                size = (
                    len(payload)
                    if body in ("jpeg", "webm")
                    else sum(map(len, payload))
                    if body == "multipart"
                    else len(request.get(BODY, b""))
                )
                await capture.check_upload_bytes(services, runtime, actor, attempt_id, size, now=services.clock.now())
            if body == "jpeg":
                await capture.check_jpeg(payload)
            elif body == "multipart":
                for frame in payload:
                    await capture.check_jpeg(frame)
            # The person was established above, moments ago in this same request: asking again would
            # cost a query and count the request twice against the session's rate limit.
            if body == "webm":
                result = await handler(request, None, actor, runtime, payload)
            else:
                async with services.engine.begin() as conn:
                    result = await handler(request, conn, actor, runtime, payload)
            if isinstance(result, capture.Stored):
                for attempt_id, seq, kind in result.to_analyse:
                    try:
                        await runtime.submit(attempt_id, seq, kind)
                    except Exception:  # noqa: BLE001 - stored and committed; re-queued at the next start
                        log.exception("could not queue %s item %s of %s for analysis", kind, seq, attempt_id)
                return json_response({"items": result.receipts})
            return json_response(result)

        ROUTES.append(
            (
                RouteDoc(
                    method, path, summary, True, None, response_schema, errors, permission=permission, resource=resource
                ),
                wrapped,
            )
        )
        return handler

    return decorate


def _seq(request: web.Request) -> int:
    raw = request.query.get("seq", "")
    if not raw.isdecimal() or len(raw) > 9:
        raise InvalidInput("invalid_seq", N_("The sequence number must be a positive whole number."))
    return int(raw)


def _trigger(request: web.Request) -> str:
    return (request.query.get("trigger") or "interval")[:32]


def _clock(request: web.Request) -> tuple[Any, float]:
    services = services_of(request)
    return services.clock.now(), services.settings.network_grace_s


# ----------------------------------------------------------------------------------- student's page


@endpoint(
    "GET",
    BASE + "/attempts/{attempt_id}/plan",
    summary="What my exam page must capture, and how often",
    response_schema=PLAN,
    errors=("attempt_not_found", "attempt_finished", "deadline_passed"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def get_plan(request: web.Request, conn: Any, actor: Actor) -> dict:
    now, grace = _clock(request)
    runtime = capture.runtime_of(services_of(request))
    return await capture.plan(conn, runtime, actor, path_uuid(request, "attempt_id"), now=now, grace_s=grace)


@endpoint(
    "POST",
    BASE + "/attempts/{attempt_id}/consent",
    summary="Consent to proctoring (opens the evidence store)",
    request_schema=s.obj(["consent"], consent=s.BOOL, camera=s.BOOL, microphone=s.BOOL, screen_surface=s.STR),
    response_schema=PLAN,
    errors=("attempt_not_found", "consent_required", "attempt_finished"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_consent(request: web.Request, conn: Any, actor: Actor) -> dict:
    now, grace = _clock(request)
    body = await read_json(request)
    answers = {k: body[k] for k in ("consent", "camera", "microphone", "screen_surface") if k in body}
    return await capture.consent(
        conn,
        capture.runtime_of(services_of(request)),
        actor,
        path_uuid(request, "attempt_id"),
        answers,
        now=now,
        grace_s=grace,
    )


@endpoint(
    "POST",
    BASE + "/attempts/{attempt_id}/heartbeat",
    summary="The live exam page is alive; a second page for the attempt is refused (second_exam_page)",
    request_schema=s.obj(["page_id"], page_id=s.STR),
    response_schema=PLAN,
    errors=("attempt_not_found", "second_exam_page", "consent_required", "attempt_finished"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_heartbeat(request: web.Request, conn: Any, actor: Actor) -> Any:
    now, grace = _clock(request)
    page_id = field(await read_json(request), "page_id", str)
    result = await capture.heartbeat(
        conn,
        capture.runtime_of(services_of(request)),
        actor,
        path_uuid(request, "attempt_id"),
        page_id,
        now=now,
        grace_s=grace,
    )
    if result is None:  # the refusal is an event worth keeping: commit it, then answer 409
        return error_response(
            Conflict("second_exam_page", N_("This exam is already open in another tab or browser.")), actor.language
        )
    return result


@upload(
    "POST",
    BASE + "/attempts/{attempt_id}/enrolment",
    summary="Enrolment photo (JPEG body, ?seq=N)",
    body="jpeg",
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_enrolment(request: web.Request, conn: Any, actor: Actor, runtime: ProctorRuntime, jpeg: bytes) -> Any:
    now, grace = _clock(request)
    return await capture.store_image(
        conn,
        runtime,
        actor,
        path_uuid(request, "attempt_id"),
        ItemKind.ENROLMENT,
        _seq(request),
        jpeg,
        trigger="enrolment",
        now=now,
        grace_s=grace,
    )


@upload(
    "POST",
    BASE + "/attempts/{attempt_id}/enrolment/reference",
    body=None,
    summary="Use the reference photo an administrator uploaded instead of a new enrolment photo",
    errors=("attempt_not_found", "no_reference_photo", "consent_required", "attempt_finished"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_enrolment_reference(
    request: web.Request, conn: Any, actor: Actor, runtime: ProctorRuntime, _: None
) -> Any:
    now, grace = _clock(request)
    return await capture.enrol_from_reference(
        conn, runtime, actor, path_uuid(request, "attempt_id"), now=now, grace_s=grace
    )


@upload(
    "POST",
    BASE + "/attempts/{attempt_id}/frames",
    body="jpeg",
    summary="A webcam frame (JPEG body, ?seq=N&trigger=interval|<event type>)",
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_frame(request: web.Request, conn: Any, actor: Actor, runtime: ProctorRuntime, jpeg: bytes) -> Any:
    now, grace = _clock(request)
    return await capture.store_image(
        conn,
        runtime,
        actor,
        path_uuid(request, "attempt_id"),
        ItemKind.FRAME,
        _seq(request),
        jpeg,
        trigger=_trigger(request),
        now=now,
        grace_s=grace,
    )


@upload(
    "POST",
    BASE + "/attempts/{attempt_id}/screens",
    body="jpeg",
    summary="A screenshot of the shared screen (JPEG body, ?seq=N&trigger=interval|<event type>)",
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_screen(request: web.Request, conn: Any, actor: Actor, runtime: ProctorRuntime, jpeg: bytes) -> Any:
    now, grace = _clock(request)
    return await capture.store_image(
        conn,
        runtime,
        actor,
        path_uuid(request, "attempt_id"),
        ItemKind.SCREEN,
        _seq(request),
        jpeg,
        trigger=_trigger(request),
        now=now,
        grace_s=grace,
    )


@upload(
    "POST",
    BASE + "/attempts/{attempt_id}/room-scans",
    body="multipart",
    summary="A 360° room scan: multipart parts named 'frame' (JPEG each), stored as one item (?seq=N)",
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_room_scan(
    request: web.Request, conn: Any, actor: Actor, runtime: ProctorRuntime, frames: list[bytes]
) -> Any:
    now, grace = _clock(request)
    return await capture.store_room_scan(
        conn, runtime, actor, path_uuid(request, "attempt_id"), _seq(request), frames, now=now, grace_s=grace
    )


@upload(
    "POST",
    BASE + "/attempts/{attempt_id}/events",
    body=None,
    summary="Browser events: {events: [{seq, type, started_at, duration_s, detail}]}",
    errors=("attempt_not_found", "invalid_event_type", "too_many_items", "consent_required", "attempt_finished"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_events(request: web.Request, conn: Any, actor: Actor, runtime: ProctorRuntime, _: None) -> Any:
    now, grace = _clock(request)
    events = field(await read_json(request), "events", list)
    return await capture.store_events(
        conn, runtime, actor, path_uuid(request, "attempt_id"), events, now=now, grace_s=grace
    )


@upload(
    "POST",
    BASE + "/attempts/{attempt_id}/noise",
    body=None,
    summary="Microphone loudness: {seq, started_at, interval_s, dbfs: [RMS dBFS, ...]}",
    errors=("attempt_not_found", "too_many_items", "invalid_number", "consent_required", "attempt_finished"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_noise(request: web.Request, conn: Any, actor: Actor, runtime: ProctorRuntime, _: None) -> Any:
    now, grace = _clock(request)
    return await capture.store_noise(
        conn, runtime, actor, path_uuid(request, "attempt_id"), await read_json(request), now=now, grace_s=grace
    )


# -------------------------------------------------------------------------------------- proctors


@endpoint(
    "GET",
    BASE + "/live",
    summary="Running proctored attempts with their latest flags, riskiest first",
    response_schema=s.obj(["attempts"], attempts={"type": "array", "items": ANY}),
    permission=Permission.PROCTOR_REVIEW,
)
async def get_live(request: web.Request, conn: Any, actor: Actor) -> dict:
    return {"attempts": await review.live(conn, actor), "server_now": services_of(request).clock.now().isoformat()}


@endpoint(
    "GET",
    BASE + "/queue",
    summary="Review queue: flagged or appealed attempts by risk",
    response_schema=s.obj(["attempts"], attempts={"type": "array", "items": ANY}),
    permission=Permission.PROCTOR_REVIEW,
)
async def get_queue(request: web.Request, conn: Any, actor: Actor) -> dict:
    return {"attempts": await review.queue(conn, actor)}


@endpoint(
    "GET",
    BASE + "/attempts/{attempt_id}/timeline",
    summary="An attempt's evidence, events, flags, decisions",
    response_schema=ANY,
    errors=("proctoring_not_found",),
    permission=Permission.PROCTOR_REVIEW,
    resource=Kind.ATTEMPT,
)
async def get_timeline(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await review.timeline(conn, actor, path_uuid(request, "attempt_id"), now=services_of(request).clock.now())


@endpoint(
    "GET",
    BASE + "/attempts/{attempt_id}/evidence/{seq}",
    summary="One evidence item, decrypted (?thumb=1 for a 160 px JPEG, ?frame=i of a room scan); audited",
    response_schema={"type": "string", "format": "binary"},
    errors=("evidence_not_found",),
    permission=Permission.PROCTOR_REVIEW,
    produces=("image/jpeg", "application/json"),
    resource=Kind.ATTEMPT,
)
async def get_evidence(request: web.Request, conn: Any, actor: Actor) -> web.Response:
    frame = request.query.get("frame")
    content, media = await review.view_evidence(
        conn,
        capture.runtime_of(services_of(request)),
        actor,
        path_uuid(request, "attempt_id"),
        path_int(request, "seq"),
        thumb=request.query.get("thumb") in ("1", "true"),
        frame=int(frame) if frame and frame.isdecimal() else None,
        now=services_of(request).clock.now(),
    )
    return web.Response(body=content, content_type=media, headers={"Cache-Control": "no-store, private"})


@endpoint(
    "GET",
    BASE + "/attempts/{attempt_id}/verify",
    summary="Check the attempt's evidence chain",
    response_schema=s.obj(["ok", "code"], ok=s.BOOL, code=s.STR, seq=s.NULL_INT, checked=s.INT, message=s.STR),
    errors=("proctoring_not_found",),
    permission=Permission.PROCTOR_REVIEW,
    resource=Kind.ATTEMPT,
)
async def get_verify(request: web.Request, conn: Any, actor: Actor) -> dict:
    verdict = await admin.verify(
        conn,
        capture.runtime_of(services_of(request)),
        path_uuid(request, "attempt_id"),
        actor,
        now=services_of(request).clock.now(),
    )
    return {
        "ok": verdict.ok,
        "code": verdict.code,
        "seq": verdict.seq,
        "checked": verdict.checked,
        "message": translate(actor.language, verdict.msgid, **verdict.params),
    }


@endpoint(
    "POST",
    BASE + "/flags/{flag_id}/review",
    summary="Confirm or dismiss a flag",
    request_schema=s.obj(["status"], status={"type": "string", "enum": ["confirmed", "dismissed"]}, note=s.STR),
    response_schema=ANY,
    errors=("flag_not_found", "flag_status_invalid"),
    permission=Permission.PROCTOR_REVIEW,
    resource=Kind.FLAG,
)
async def post_flag_review(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    return await review.review_flag(
        conn,
        capture.runtime_of(services_of(request)),
        actor,
        path_int(request, "flag_id"),
        field(body, "status", str),
        field(body, "note", str, required=False, nullable=True),
        now=services_of(request).clock.now(),
    )


@endpoint(
    "POST",
    BASE + "/attempts/{attempt_id}/decisions",
    summary="Decide: clean, suspicious or violation (annuls the attempt), with a reason; with latest (the id of "
    "the newest decision the reviewer saw, 0 for none) a decision recorded since — another reviewer's, or this "
    "request sent twice — refuses it (409 decision_changed)",
    request_schema=s.obj(
        ["decision", "reason"],
        decision={"type": "string", "enum": ["clean", "suspicious", "violation"]},
        reason=s.STR,
        latest=b.SEEN_DECISION.schema(),
    ),
    response_schema=ANY,
    errors=("second_reviewer_required", "violation_final", "reason_required", "decision_changed"),
    permission=Permission.PROCTOR_REVIEW,
    resource=Kind.ATTEMPT,
)
async def post_decision(request: web.Request, conn: Any, actor: Actor) -> dict:
    now, grace = _clock(request)
    body = await read_json(request)
    return await review.decide(
        conn,
        actor,
        path_uuid(request, "attempt_id"),
        field(body, "decision", str),
        field(body, "reason", str),
        now=now,
        grace_s=grace,
        seen_latest=field(body, "latest", int, required=False, nullable=True, bound=b.SEEN_DECISION),
    )


@endpoint(
    "POST",
    BASE + "/attempts/{attempt_id}/room-scan-requests",
    summary="Ask the student's page for a 360° room scan now",
    response_schema=ANY,
    errors=("attempt_finished", "proctoring_not_found"),
    permission=Permission.PROCTOR_REVIEW,
    resource=Kind.ATTEMPT,
)
async def post_room_scan_request(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await review.request_room_scan(
        conn, actor, path_uuid(request, "attempt_id"), now=services_of(request).clock.now()
    )


@endpoint(
    "POST",
    BASE + "/attempts/{attempt_id}/appeal",
    summary="Record an appeal: back to the review queue, evidence kept past retention",
    request_schema=s.obj(["reason"], reason=s.STR),
    response_schema=ANY,
    errors=("reason_required",),
    permission=Permission.PROCTOR_REVIEW,
    resource=Kind.ATTEMPT,
)
async def post_appeal(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    return await review.mark_appeal(
        conn, actor, path_uuid(request, "attempt_id"), field(body, "reason", str), now=services_of(request).clock.now()
    )


# --------------------------------------------------------------------------------- administrators


@upload(
    "PUT",
    BASE + "/students/{user_id}/reference-photo",
    body="jpeg",
    summary="A student's reference photo (JPEG body), compared with the face at the exam",
    errors=("student_not_found", "image_invalid", "upload_too_large"),
    response_schema=ANY,
    permission=Permission.MANAGE_ACCOUNTS,
)
async def put_reference(request: web.Request, conn: Any, actor: Actor, runtime: ProctorRuntime, jpeg: bytes) -> Any:
    return await admin.put_reference_photo(
        conn, runtime, actor, path_int(request, "user_id"), jpeg, now=services_of(request).clock.now()
    )


EXAM_SETTINGS = s.obj(
    frame_interval_s=b.FRAME_INTERVAL_S.schema(),
    screen_interval_s=b.SCREEN_INTERVAL_S.schema(),
    room_scan_at_start=s.BOOL,
    screen_policy={"type": "string", "enum": ["require", "flag", "off"]},
)


@endpoint(
    "GET",
    BASE + "/exams/{exam_id}/settings",
    summary="An exam's capture settings (or the global defaults)",
    response_schema=EXAM_SETTINGS,
    errors=("exam_not_found",),
    permission=Permission.VIEW_EXAMS,
    resource=Kind.EXAM,
)
async def get_exam_settings(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await admin.exam_settings(
        conn, capture.runtime_of(services_of(request)), actor, path_int(request, "exam_id")
    )


@endpoint(
    "PUT",
    BASE + "/exams/{exam_id}/settings",
    summary="Set an exam's capture intervals and policies",
    request_schema=EXAM_SETTINGS,
    response_schema=EXAM_SETTINGS,
    errors=("exam_not_found", "screen_policy_invalid", "invalid_number"),
    permission=Permission.MANAGE_EXAMS,
    resource=Kind.EXAM,
)
async def put_exam_settings(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await admin.set_exam_settings(
        conn,
        capture.runtime_of(services_of(request)),
        actor,
        path_int(request, "exam_id"),
        await read_json(request),
        now=services_of(request).clock.now(),
    )
