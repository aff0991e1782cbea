"""Proctoring in the pages: the capture config of the student's pages, and the proctor's pages.

Student side: the pre-exam check and the exam page of a proctored exam get a ``proctoring``
block in their JSON config (the exam's capture settings, the running attempt, translated
messages); ``check.js`` and ``capture.js`` do the rest through ``/api/v1/proctor``.

Proctor side (permission ``proctor_review``): the live dashboard (re-rendered rows polled by
``proctor-live.js``), the review queue, and an attempt's timeline where flags are confirmed or
dismissed, decisions taken and room scans requested. Those actions are CSRF-checked forms
calling the same use cases as the JSON API, then redirect back (post/redirect/get), so the
pages work with the keyboard and without script. Every evidence thumbnail is loaded from the
authenticated, audited evidence endpoint.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from exam_engine import api
from exam_engine.i18n import N_

from .pages import nav_link, page, render
from .routes import when

nav_link(api.Permission.PROCTOR_REVIEW, "/proctor", N_("Proctoring: running exams"))
nav_link(api.Permission.PROCTOR_REVIEW, "/proctor/queue", N_("Proctoring: review queue"))

SAMPLE_EVERY_S = 30
"""On the timeline, plain interval frames/screenshots are thinned to one per this many
seconds (everything flagged, triggered by an event, or proving a flag is always shown)."""

CHECK_MESSAGES = {
    "step_start": N_("Starting the exam…"),
    "step_photo": N_("Enrolment photo: look straight at the camera."),
    "step_reference": N_("Enrolment: the photo the administration uploaded is used."),
    "step_photo_wait": N_("Checking the photo…"),
    "photo_ok": N_("Photo: your face is clearly visible."),
    "photo_unusable": N_(
        "The photo cannot be used ({reason}). Look straight at the camera in good light and "
        "press «Continue to the exam» again."
    ),
    "photo_later": N_("The photo is still being checked; the proctor will see the result."),
    "step_room": N_("Room scan: turn the camera slowly around the whole room. {seconds} s left."),
    "room_ok": N_("Room scan sent."),
    "step_screen": N_("Share your entire screen: choose «Entire screen» in the browser's window."),
    "screen_ok": N_("Screen: the entire screen is shared."),
    "screen_not_monitor": N_("You shared a window or a tab. Share the entire screen to start the exam."),
    "screen_denied": N_("Screen sharing was refused. Share the entire screen to start the exam."),
    "screen_unsupported": N_(
        "This browser cannot share the screen. Use a current Chrome, Edge or Firefox on a computer."
    ),
    "screen_flagged": N_("The screen is not shared; the proctor is told."),
    "done": N_("All checks passed. Opening the exam…"),
    "error": N_("Something went wrong: {message}"),
    "reason_no_face": N_("no face found"),
    "reason_several_faces": N_("several faces"),
    "reason_face_too_small": N_("the face is too small"),
}

CAPTURE_MESSAGES = {
    "recording": N_("Proctored: camera, microphone and screen are recorded."),
    "queued": N_("Proctoring: {count} items waiting to be sent"),
    "second_page": N_(
        "This exam is already open in another tab or browser. Close this page and go back to the "
        "first one; this attempt to open it again was recorded."
    ),
    "share_again": N_("Screen sharing stopped. Share your entire screen again to continue."),
    "share_button": N_("Share the entire screen"),
    "camera_lost": N_("The camera stopped. Check that it is connected; the page keeps trying."),
    # The browser refused the camera (blocked for the site, or the permission withdrawn mid-exam):
    # «check the cable» would send the student the wrong way.
    "camera_blocked": N_(
        "The browser blocks the camera. Allow the camera for this site (the camera sign in the address "
        "bar, or the browser's settings); the page keeps trying. Go on with the exam: your answers are saved."
    ),
    "room_scan": N_(
        "The proctor asks for a room scan: turn the camera slowly around the whole room. {seconds} s left."
    ),
    "fullscreen": N_("Full screen"),
    "rec_on": N_("Video is being recorded"),
    "rec_offline": N_("Video is being recorded; {seconds} s waiting for the connection"),
    "rec_failed": N_("Video recording does not work in this browser; the proctor is told. Continue the exam."),
    "rec_quota": N_("Video recording stopped: this exam's recording limit is reached."),
    "rec_stopped": N_("Video recording stopped"),
    "rec_full": N_(
        "Video recording paused: {seconds} s of recording are waiting for the connection, the most this "
        "computer keeps. It resumes once they are sent; the proctor is told. Continue the exam."
    ),
    **{
        key: CHECK_MESSAGES[key]
        for key in ("screen_not_monitor", "screen_denied", "screen_unsupported", "screen_flagged", "error")
    },
}

KIND_NAMES = {
    "frame": N_("camera"),
    "screen": N_("screen"),
    "enrolment": N_("enrolment photo"),
    "roomscan": N_("room scan"),
    "event": N_("browser event"),
    "noise": N_("microphone"),
}
SEVERITY_NAMES = {"low": N_("low"), "medium": N_("medium"), "high": N_("high")}
FLAG_STATUS_NAMES = {"open": N_("not reviewed"), "confirmed": N_("confirmed"), "dismissed": N_("dismissed")}
DECISION_NAMES = {"clean": N_("clean"), "suspicious": N_("suspicious"), "violation": N_("violation")}
ENROLMENT_NAMES = {
    "missing": N_("not taken"),
    "pending": N_("being checked"),
    "usable": N_("usable"),
    "unusable": N_("unusable"),
}
REVIEW_STATE_NAMES = {
    "none": N_("no flags"),
    "pending": N_("waiting for review"),
    "decided": N_("decided"),
    "appeal": N_("appeal"),
}
DONE_MESSAGES = {
    "confirmed": N_("The flag is confirmed."),
    "dismissed": N_("The flag is dismissed."),
    "decision": N_("The decision is recorded."),
    "room_scan": N_("A room scan was requested."),
}


def _texts(language: str, ids: dict[str, str]) -> dict[str, str]:
    return {key: api.gettext(language, msgid) for key, msgid in ids.items()}


async def student_capture(
    request: web.Request, conn: Any, actor: api.Actor, exam_id: int, *, check: bool
) -> dict[str, Any] | None:
    """The ``proctoring`` block of the check/exam page config; ``None`` if the exam is not proctored."""
    services = api.services_of(request)
    exam = next(
        (
            e
            for e in await api.attempt_service.student_exams(conn, actor, now=services.clock.now())
            if e["id"] == exam_id
        ),
        None,
    )
    if exam is None or not exam["requires_proctoring"]:
        return None
    runtime = api.proctor_capture.runtime_of(services)
    attempt = exam["attempt"]
    return {
        "settings": await api.proctor_capture.exam_capture_settings(conn, runtime, exam_id),
        "attempt_id": attempt["id"] if attempt and attempt["status"] == "in_progress" else None,
        "needs_check": attempt is None,
        "csrf": request[api.SESSION].csrf_token,
        "messages": _texts(actor.language, CHECK_MESSAGES if check else CAPTURE_MESSAGES),
    }


# ------------------------------------------------------------------------------------ proctor pages


def clock_text(seconds: float) -> str:
    """Seconds since the attempt started as m:ss (h:mm:ss past an hour)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _remaining(deadline_at: str, now: datetime) -> str:
    return clock_text((datetime.fromisoformat(deadline_at) - now).total_seconds())


def _helpers(actor: api.Actor, now: datetime) -> dict[str, Any]:
    return {
        "when": lambda v: when(v, actor.language),
        "clock": clock_text,
        "remaining": lambda v: _remaining(v, now),
        "severity_names": SEVERITY_NAMES,
        "flag_status_names": FLAG_STATUS_NAMES,
        "decision_names": DECISION_NAMES,
        "review_state_names": REVIEW_STATE_NAMES,
        "kind_names": KIND_NAMES,
        "enrolment_names": ENROLMENT_NAMES,
    }


@page(permission=api.Permission.PROCTOR_REVIEW)
async def live_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    now = api.services_of(request).clock.now()
    rows = await api.proctor_review_service.live(conn, actor)
    return render(
        request, "proctor/live.html", {"rows": rows, "server_now": now.isoformat(), **_helpers(actor, now)}, actor=actor
    )


@page(permission=api.Permission.PROCTOR_REVIEW)
async def live_rows(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """The dashboard's table body alone, for the page's polling (one rendering path)."""
    now = api.services_of(request).clock.now()
    rows = await api.proctor_review_service.live(conn, actor)
    return render(
        request,
        "proctor/live_rows.html",
        {"rows": rows, "server_now": now.isoformat(), **_helpers(actor, now)},
        actor=actor,
    )


@page(permission=api.Permission.PROCTOR_REVIEW)
async def queue_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    now = api.services_of(request).clock.now()
    rows = await api.proctor_review_service.queue(conn, actor)
    return render(request, "proctor/queue.html", {"rows": rows, **_helpers(actor, now)}, actor=actor)


def _attempt_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["attempt_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


TRIGGER_NAMES = {
    "room_scan": N_("room scan on request"),
    "reference": N_("photo uploaded by the administration"),
    "enrolment": N_("enrolment photo"),
    "event": N_("taken at a browser event"),
    "interval": N_("regular picture"),
}


def _code_title(code: str, language: str) -> str:
    """A trigger or event code in words: a flag's title, a known trigger, or a plain "browser event"."""
    if code in api.flag_titles:
        return api.translate(language, api.flag_titles[code])
    return api.translate(language, TRIGGER_NAMES.get(code, N_("browser event")))


def timeline_rows(
    items: list[dict[str, Any]], flags: list[dict[str, Any]], *, show_all: bool, language: str
) -> list[dict[str, Any]]:
    """The items worth a row: all but plain interval frames/screens, which are thinned."""
    proving = {seq for flag in flags for seq in flag["evidence_seqs"] or []}
    last_sample: dict[str, float] = {}
    rows = []
    for item in items:
        kind, t = item["kind"], item["t"]
        if kind == "recording":  # the video's chunks: played in the player, not listed one by one
            continue
        plain = kind in ("frame", "screen") and item["trigger"] in (None, "interval") and not item["findings"]
        if plain and not show_all and item["seq"] not in proving:
            if t - last_sample.get(kind, -SAMPLE_EVERY_S) < SAMPLE_EVERY_S:
                continue
            last_sample[kind] = t
        if kind == "noise" and not item["findings"] and not show_all:
            continue
        rows.append(
            {
                **item,
                "clock": clock_text(t),
                "proving": item["seq"] in proving,
                "event_title": _code_title(item["event"]["kind"], language) if item["event"] else "",
                "trigger_title": _code_title(item["trigger"], language) if item["trigger"] else "",
                "finding_titles": [
                    api.translate(language, api.flag_titles[f]) for f in item["findings"] if f in api.flag_titles
                ],
                "frames": len((item["summary"] or {}).get("face_counts", [])) if kind == "roomscan" else 0,
            }
        )
    return rows


async def _timeline(
    request: web.Request, conn: Any, actor: api.Actor, *, error: str | None = None, status: int = 200
) -> web.Response:
    now = api.services_of(request).clock.now()
    attempt_id = _attempt_id(request)
    try:
        data = await api.proctor_review_service.timeline(conn, actor, attempt_id, now=now)
    except api.DomainError:
        raise web.HTTPNotFound() from None
    show_all = request.query.get("all") == "1"
    done = request.query.get("done")
    segments = await api.recording_service.segments(conn, actor, attempt_id)
    moments = {f["id"]: api.recording_service.flag_moment(f["start_s"], segments) for f in data["flags"]}
    people = await api.live_board.people_names(
        conn,
        [
            *(f["reviewed_by"] for f in data["flags"]),
            *(d["reviewer"] for d in data["decisions"]),
            *(q["requested_by"] for q in data["requests"]),
        ],
        actor.language,
    )
    return render(
        request,
        "proctor/timeline.html",
        {
            "data": data,
            "attempt": data["attempt"],
            "attempt_id": str(attempt_id),
            "images": {i["seq"]: i for i in data["items"] if i["thumb_url"]},
            "rows": timeline_rows(data["items"], data["flags"], show_all=show_all, language=actor.language),
            "show_all": show_all,
            "error": error,
            "people": people,
            "segments": segments,
            "moments": moments,
            "done": api.gettext(actor.language, DONE_MESSAGES[done]) if done in DONE_MESSAGES and not error else None,
            **_helpers(actor, now),
        },
        actor=actor,
        status=status,
    )


@page(permission=api.Permission.PROCTOR_REVIEW, resource=api.Kind.ATTEMPT)
async def timeline_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return await _timeline(request, conn, actor)


async def _act(request: web.Request, conn: Any, actor: api.Actor, action: Any, done: str) -> web.StreamResponse:
    """Run a review use case in a savepoint; on a refusal show the timeline with the reason."""
    try:
        async with conn.begin_nested():
            await action()
    except api.DomainError as error:
        return await _timeline(
            request, conn, actor, error=api.translate(actor.language, error.msgid, **error.params), status=error.status
        )
    # Returned, not raised: an exception would roll the page's transaction back.
    return web.Response(status=303, headers={"Location": f"/proctor/attempts/{_attempt_id(request)}?done={done}"})


@page(permission=api.Permission.PROCTOR_REVIEW, resource=api.Kind.FLAG)
async def review_flag(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    services = api.services_of(request)
    form = await request.post()
    status = str(form.get("status", ""))
    flag_id = request.match_info["flag_id"]
    if not flag_id.isdecimal():
        raise web.HTTPNotFound()
    return await _act(
        request,
        conn,
        actor,
        lambda: api.proctor_review_service.review_flag(
            conn,
            api.proctor_capture.runtime_of(services),
            actor,
            int(flag_id),
            status,
            str(form.get("note", "")).strip() or None,
            now=services.clock.now(),
        ),
        status if status in ("confirmed", "dismissed") else "decision",
    )


@page(permission=api.Permission.PROCTOR_REVIEW, resource=api.Kind.ATTEMPT)
async def decide(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    services = api.services_of(request)
    form = await request.post()
    return await _act(
        request,
        conn,
        actor,
        lambda: api.proctor_review_service.decide(
            conn,
            actor,
            _attempt_id(request),
            str(form.get("decision", "")),
            str(form.get("reason", "")),
            now=services.clock.now(),
            grace_s=services.settings.network_grace_s,
            seen_latest=_seen_latest(form),
        ),
        "decision",
    )


def _seen_latest(form: Any) -> int | None:
    """The newest decision the page showed (its hidden ``latest``, 0 for none): a decision overrules only that."""
    raw = str(form.get("latest", ""))
    return int(raw) if raw.isdecimal() and len(raw) < 19 else None


@page(permission=api.Permission.PROCTOR_REVIEW, resource=api.Kind.ATTEMPT)
async def request_room_scan(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    services = api.services_of(request)
    return await _act(
        request,
        conn,
        actor,
        lambda: api.proctor_review_service.request_room_scan(
            conn, actor, _attempt_id(request), now=services.clock.now()
        ),
        "room_scan",
    )


def register(app: web.Application) -> None:
    app.router.add_get("/proctor", live_page)
    app.router.add_get("/proctor/live/rows", live_rows)
    app.router.add_get("/proctor/queue", queue_page)
    app.router.add_get("/proctor/attempts/{attempt_id}", timeline_page)
    app.router.add_post("/proctor/attempts/{attempt_id}/flags/{flag_id}", review_flag)
    app.router.add_post("/proctor/attempts/{attempt_id}/decision", decide)
    app.router.add_post("/proctor/attempts/{attempt_id}/room-scan", request_room_scan)
