"""Exam-day routes: the student's lobby and presence ping, the live view and its actions,
accommodations and reschedules; and the background task that records uptime and
prepares forms before the opening. See docs/exam-day.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from aiohttp import web

from .. import bounds as b
from ..bootstrap import Services
from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..errors import ConfigError, InvalidInput
from ..i18n import N_
from ..services import attempts as attempt_service
from ..services import live_control, lobby, terms, uptime
from ..services.live_view import DEFAULT_SILENT_AFTER_S, exam_live
from . import schemas as s
from .http import SERVICES, device_key, endpoint, field, path_int, path_uuid, read_json, services_of
from .refusals import keep_refusals

log = logging.getLogger(__name__)

LIVE = "/api/v1/live"
REASON = s.obj(["reason"], reason=s.STR)
ANY = {"type": "object"}
NUM = {"type": "number"}
LIVE_ATTEMPT = s.obj(["attempt", "server_now"], attempt=ANY, student_id=s.INT, server_now=s.TS)
ACTION_ERRORS = ("reason_required", "attempt_finished", "attempt_not_found")


def _now(request: web.Request) -> datetime:
    return services_of(request).clock.now()


def _reason(body: dict[str, Any]) -> str:
    return field(body, "reason", str)


def _when(body: dict[str, Any], name: str, *, required: bool = True) -> datetime | None:
    raw = field(body, name, str, required=required, nullable=not required)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            "invalid_field", N_("Field «{field}» must be a date and time like 2026-06-01T09:00:00+05:00."), field=name
        ) from None
    if value.tzinfo is None:
        raise InvalidInput("invalid_field", N_("Field «{field}» must include the time zone, e.g. +05:00."), field=name)
    return b.moment(value, name)


# ------------------------------------------------------------------------------------ student


@endpoint(
    "POST",
    "/api/v1/exams/{exam_id}/lobby",
    summary="I am here before the opening (and these checks passed); prepares my form when it is time",
    request_schema=s.obj(checks=s.obj(camera=s.BOOL, microphone=s.BOOL, consent=s.BOOL)),
    response_schema=s.obj(
        ["exam", "server_now", "can_start", "attempt"],
        exam=ANY,
        server_now=s.TS,
        opens_in_s=NUM,
        can_start=s.BOOL,
        checks=ANY,
        form_prepared=s.BOOL,
        attempt={
            **s.obj(["id", "status"], id=s.STR, status=s.STR),
            "type": ["object", "null"],
            "description": "the attempt already started, or null before the start",
        },
    ),
    errors=("exam_not_found", "exam_closed", "retake_forbidden"),
    permission=Permission.SIT_EXAM,
    resource=Kind.EXAM,
)
async def post_lobby(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    services = services_of(request)
    return await lobby.join_lobby(
        conn,
        actor,
        path_int(request, "exam_id"),
        checks=body.get("checks"),
        now=_now(request),
        bank_cache=services.bank_cache,
        lead_s=request.app.get(PREPARE_LEAD, lobby.DEFAULT_LEAD_S),
    )


@endpoint(
    "POST",
    "/api/v1/attempts/{attempt_id}/presence",
    summary="The exam page is alive; answers the attempt's state, deadline and remaining time "
    "(it may have been paused, resumed or given extra time)",
    response_schema=s.ATTEMPT_SUMMARY,
    errors=("attempt_open_elsewhere", "attempt_not_found"),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
@keep_refusals
async def post_presence(request: web.Request, conn: Any, actor: Actor) -> dict:
    services = services_of(request)
    return await attempt_service.summary(
        conn,
        actor,
        path_uuid(request, "attempt_id"),
        now=_now(request),
        grace_s=services.settings.network_grace_s,
        session=device_key(request),
    )


# ------------------------------------------------------------------------------------ staff


@endpoint(
    "GET",
    LIVE + "/exams/{exam_id}",
    summary="Live view: every assigned student (absent, lobby, writing, silent, paused, finished), remaining "
    "time, measured downtime, refused requests from other devices (?silent_after_s=60)",
    response_schema=s.obj(
        ["exam", "server_now", "counts", "students"],
        exam=ANY,
        server_now=s.TS,
        silent_after_s=NUM,
        counts=ANY,
        students={"type": "array", "items": ANY},
    ),
    errors=("exam_not_found",),
    permission=Permission.LIVE_CONTROL,
    resource=Kind.EXAM,
)
async def get_live(request: web.Request, conn: Any, actor: Actor) -> dict:
    raw = request.query.get("silent_after_s", "")
    try:
        silent = float(raw) if raw else DEFAULT_SILENT_AFTER_S
    except ValueError:
        silent = math.nan
    if not b.SILENT_AFTER_S.low <= silent <= b.SILENT_AFTER_S.high:  # NaN too
        raise b.SILENT_AFTER_S.refusal("silent_after_s")
    return await exam_live(conn, actor, path_int(request, "exam_id"), now=_now(request), silent_after_s=silent)


@endpoint(
    "POST",
    LIVE + "/exams/{exam_id}/prepare",
    summary="Prepare forms now (one batch of students with neither a form nor an attempt)",
    request_schema=s.obj(limit=b.PREPARE_LIMIT.schema()),
    response_schema=s.obj(["prepared", "more"], exam_id=s.INT, prepared=s.INT, more=s.BOOL),
    errors=("exam_not_found",),
    permission=Permission.MANAGE_EXAMS,
    resource=Kind.EXAM,
)
async def post_prepare(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    limit = field(body, "limit", int, required=False, default=lobby.DEFAULT_BATCH, bound=b.PREPARE_LIMIT)
    return await lobby.prepare_forms(
        conn,
        actor,
        path_int(request, "exam_id"),
        now=_now(request),
        bank_cache=services_of(request).bank_cache,
        limit=limit,
    )


@endpoint(
    "POST",
    LIVE + "/attempts/{attempt_id}/pause",
    summary="Pause: the clock stands still, no answers",
    request_schema=REASON,
    response_schema=LIVE_ATTEMPT,
    errors=(*ACTION_ERRORS, "attempt_already_paused", "attempt_time_up", "attempt_in_checks"),
    permission=Permission.LIVE_CONTROL,
    resource=Kind.ATTEMPT,
)
async def post_pause(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await live_control.pause(
        conn, actor, path_uuid(request, "attempt_id"), reason=_reason(await read_json(request)), now=_now(request)
    )


@endpoint(
    "POST",
    LIVE + "/attempts/{attempt_id}/resume",
    summary="Resume: the deadline moves by the paused time",
    request_schema=REASON,
    response_schema=LIVE_ATTEMPT,
    errors=(*ACTION_ERRORS, "attempt_not_paused"),
    permission=Permission.LIVE_CONTROL,
    resource=Kind.ATTEMPT,
)
async def post_resume(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await live_control.resume(
        conn, actor, path_uuid(request, "attempt_id"), reason=_reason(await read_json(request)), now=_now(request)
    )


@endpoint(
    "POST",
    LIVE + "/attempts/{attempt_id}/extra-time",
    summary="Extra minutes for one attempt, capped by the student's window unless the academic administrator "
    "widens it (widen_window); with deadline_at (the deadline the proctor saw) a grant on a deadline that moved "
    "since — the same request sent twice, another grant — changes nothing (409 attempt_time_changed)",
    request_schema=s.obj(
        ["minutes", "reason"], minutes=b.GRANT_MINUTES.schema(), reason=s.STR, widen_window=s.BOOL, deadline_at=s.TS
    ),
    response_schema=LIVE_ATTEMPT,
    errors=(*ACTION_ERRORS, "window_cap_reached", "invalid_minutes", "attempt_in_checks", "attempt_time_changed"),
    permission=Permission.LIVE_CONTROL,
    resource=Kind.ATTEMPT,
)
async def post_extra_time(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    return await live_control.grant_time(
        conn,
        actor,
        path_uuid(request, "attempt_id"),
        minutes=field(body, "minutes", int, bound=b.GRANT_MINUTES),
        reason=_reason(body),
        now=_now(request),
        widen_window=field(body, "widen_window", bool, required=False, default=False),
        seen_deadline=_when(body, "deadline_at", required=False),
    )


@endpoint(
    "POST",
    LIVE + "/attempts/{attempt_id}/downtime-credit",
    summary="Credit the measured server downtime during this attempt (recorded like a grant)",
    request_schema=s.obj(["reason"], reason=s.STR, widen_window=s.BOOL),
    response_schema=LIVE_ATTEMPT,
    errors=(*ACTION_ERRORS, "no_downtime_to_credit", "window_cap_reached", "attempt_in_checks"),
    permission=Permission.LIVE_CONTROL,
    resource=Kind.ATTEMPT,
)
async def post_downtime_credit(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    return await live_control.credit_downtime(
        conn,
        actor,
        path_uuid(request, "attempt_id"),
        reason=_reason(body),
        now=_now(request),
        widen_window=field(body, "widen_window", bool, required=False, default=False),
    )


@endpoint(
    "POST",
    LIVE + "/attempts/{attempt_id}/terminate",
    summary="Terminate for a violation: finish now and annul (unsatisfactory, raw score kept)",
    request_schema=REASON,
    response_schema=LIVE_ATTEMPT,
    errors=("reason_required", "attempt_not_found"),
    permission=Permission.LIVE_CONTROL,
    resource=Kind.ATTEMPT,
)
async def post_terminate(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await live_control.terminate(
        conn,
        actor,
        path_uuid(request, "attempt_id"),
        reason=_reason(await read_json(request)),
        now=_now(request),
        grace_s=services_of(request).settings.network_grace_s,
    )


@endpoint(
    "POST",
    LIVE + "/attempts/{attempt_id}/release-device",
    summary="Move to another device: the attempt leaves its session; the student's next session claims it",
    request_schema=REASON,
    response_schema=LIVE_ATTEMPT,
    errors=ACTION_ERRORS,
    permission=Permission.LIVE_CONTROL,
    resource=Kind.ATTEMPT,
)
async def post_release_device(request: web.Request, conn: Any, actor: Actor) -> dict:
    return await live_control.release_device(
        conn, actor, path_uuid(request, "attempt_id"), reason=_reason(await read_json(request)), now=_now(request)
    )


@endpoint(
    "POST",
    LIVE + "/attempts/{attempt_id}/admit",
    summary="Let a student in whose checks before the exam do not pass (camera, photo): the clock starts now",
    request_schema=REASON,
    response_schema=LIVE_ATTEMPT,
    errors=(*ACTION_ERRORS, "attempt_not_in_checks", "exam_closed"),
    permission=Permission.LIVE_CONTROL,
    resource=Kind.ATTEMPT,
)
async def post_admit(request: web.Request, conn: Any, actor: Actor) -> dict:
    from ..services import attempt_checks
    from ..services.live_view import live_attempt

    body = await read_json(request)
    attempt_id = path_uuid(request, "attempt_id")
    await attempt_checks.admit(conn, actor, attempt_id, reason=_reason(body), now=_now(request))
    return await live_attempt(conn, attempt_id, now=_now(request))


@endpoint(
    "PUT",
    LIVE + "/exams/{exam_id}/students/{student_id}/accommodation",
    summary="Accommodation before the start: extra minutes and/or a multiplier, optionally a wider window",
    request_schema=s.obj(
        ["reason"],
        reason=s.STR,
        extra_minutes=b.EXTRA_MINUTES.schema(nullable=True),
        multiplier={**b.MULTIPLIER.schema(nullable=True), "exclusiveMinimum": 1},
        window_closes_at=s.TS,
    ),
    response_schema=ANY,
    errors=("accommodation_after_start", "student_not_assigned", "reason_required"),
    permission=Permission.MANAGE_EXAMS,
    resource=Kind.EXAM,
)
async def put_accommodation(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    multiplier = field(body, "multiplier", float, required=False, nullable=True, bound=b.MULTIPLIER)
    return await terms.set_accommodation(
        conn,
        actor,
        exam_id=path_int(request, "exam_id"),
        student_id=path_int(request, "student_id"),
        reason=_reason(body),
        now=_now(request),
        multiplier=None if multiplier is None else float(multiplier),
        extra_minutes=field(body, "extra_minutes", int, required=False, nullable=True, bound=b.EXTRA_MINUTES),
        window_closes_at=_when(body, "window_closes_at", required=False),
    )


@endpoint(
    "POST",
    LIVE + "/exams/{exam_id}/students/{student_id}/reschedule",
    summary="Valid-reason reschedule (003 §5.16): a personal window later in the session for a student who "
    "did not start",
    request_schema=s.obj(
        ["opens_at", "closes_at", "reason", "document_ref"],
        opens_at=s.TS,
        closes_at=s.TS,
        reason=s.STR,
        document_ref=s.STR,
    ),
    response_schema=ANY,
    errors=("reschedule_is_retake", "student_not_assigned", "document_required"),
    permission=Permission.MANAGE_EXAMS,
    resource=Kind.EXAM,
)
async def post_reschedule(request: web.Request, conn: Any, actor: Actor) -> dict:
    body = await read_json(request)
    return await terms.reschedule(
        conn,
        actor,
        exam_id=path_int(request, "exam_id"),
        student_id=path_int(request, "student_id"),
        opens_at=_when(body, "opens_at"),
        closes_at=_when(body, "closes_at"),  # type: ignore[arg-type]
        reason=_reason(body),
        document_ref=field(body, "document_ref", str),
        now=_now(request),
    )


# ------------------------------------------------------------------------------------ background

PREPARE_LEAD = web.AppKey("exam_day_prepare_lead_s", float)
EXAM_DAY_TASK = web.AppKey("exam_day_task", asyncio.Task)
PREPARE_EVERY_S = 30.0
PREPARE_PAUSE_RATIO = 3.0
"""After each batch, preparation waits this many times as long as the batch took: it takes at
most a quarter of the process, so a sign-in storm beside it keeps its pace (at full speed 2,000
forms, then 2.5 s, pushed the storm's p95 sign-in from ~50 ms to 0.65-1.1 s; 12,000 forms, ~6 s
of work now, paced this way are ready in well under a minute of the 30-minute lead)."""


def prepare_lead_s(env: dict[str, str] | None = None) -> float:
    """``EXAM_PREPARE_LEAD_S``: how long before the opening forms are prepared (default 30 min)."""
    raw = (env if env is not None else os.environ).get("EXAM_PREPARE_LEAD_S", "")
    try:
        value = float(raw) if raw else float(lobby.DEFAULT_LEAD_S)
    except ValueError:
        raise ConfigError(f"EXAM_PREPARE_LEAD_S must be a number of seconds, not {raw!r}") from None
    if not 0 <= value <= 7 * 24 * 3600:
        raise ConfigError("EXAM_PREPARE_LEAD_S must be between 0 and one week")
    return value


async def tick(services: Services, recorder: uptime.UptimeRecorder, *, prepare: bool, lead_s: float) -> None:
    """One round: a beat, and (every ``PREPARE_EVERY_S``) preparation in batches until every exam due is ready.

    (One batch of 200 per 30 s prepared 12,000 forms in the default 30-minute lead: a large
    sitting would have opened with students still unprepared.)"""
    async with services.engine.begin() as conn:
        await recorder.beat(conn, services.clock.now())
    if not prepare:
        return
    total, batch = 0, lobby.DEFAULT_BATCH
    loop = asyncio.get_running_loop()
    while True:  # batch after batch, each its own transaction, until a round leaves nothing to prepare
        began = loop.time()
        async with services.engine.begin() as conn:
            done = await lobby.prepare_due(
                conn, now=services.clock.now(), bank_cache=services.bank_cache, lead_s=lead_s, batch=batch
            )
        total += done
        if done < batch:
            break
        await asyncio.sleep((loop.time() - began) * PREPARE_PAUSE_RATIO)  # requests first
    if total:
        log.info("prepared %d exam forms ahead of the opening", total)


async def _run(services: Services, recorder: uptime.UptimeRecorder, lead_s: float) -> None:
    rounds_per_prepare = max(1, round(PREPARE_EVERY_S / uptime.BEAT_S))
    n = 0
    while True:
        try:
            await tick(services, recorder, prepare=n % rounds_per_prepare == 0, lead_s=lead_s)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed round (database away) is itself the downtime we measure
            log.exception("exam-day round failed; retrying")
        n += 1
        await asyncio.sleep(uptime.BEAT_S)


async def exam_day_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the first beat before serving, then beats and preparation in the background."""
    services = app[SERVICES]
    app[PREPARE_LEAD] = lead_s = prepare_lead_s()
    recorder = uptime.UptimeRecorder()
    async with services.engine.begin() as conn:
        await recorder.beat(conn, services.clock.now())
    app[EXAM_DAY_TASK] = asyncio.create_task(_run(services, recorder, lead_s), name="exam-day")
    yield
    app[EXAM_DAY_TASK].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app[EXAM_DAY_TASK]
