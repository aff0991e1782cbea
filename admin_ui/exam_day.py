"""The exam-day page: every student of an exam, where they stand, their camera, and the proctor's controls.

``/proctor/live`` lists today's exams (Asia/Almaty); ``/proctor/live/{exam_id}`` shows everyone
assigned to one exam — absent, in the lobby, writing, silent, paused, finished, and any state the
live view adds later (shown by its name from ``STATE_NAMES``, or as "another state") — with the
time left, the latest camera picture, risk and flags. ``static/staff-live.js`` re-renders the rows
every 5 s from ``/proctor/live/{exam_id}/rows`` (the same template) and ticks the clocks.

Every action (pause, resume, extra time, terminate, release the device, credit downtime) is a
CSRF-checked form with a reason, posted to ``/proctor/live/{exam_id}/attempts/{attempt_id}/{action}``
and run by the same use case the JSON API calls (``services.live_control``), so permission checks —
role, and the per-exam scoping the services apply — are the services'. Without script the button is
a link to that form on a page of its own; with script the form opens in a dialog.

The camera picture is read through ``proctor_review.view_evidence`` (permission ``proctor_review``,
every view audited); its URL names the frame's sequence number, it is never cached (``no-store``),
and the page's script keeps the picture on screen across refreshes until a newer frame appears, so
each frame is fetched — and audited — once per page.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from exam_engine import api
from exam_engine.i18n import N_

from .pages import nav_link, page, render
from .routes import DISPLAY_TZ, when

P = api.Permission
nav_link(P.LIVE_CONTROL, "/proctor/live", N_("Exam day: live control"))

REFRESH_S = 5

STATE_NAMES = {
    "absent": N_("absent"),
    "lobby": N_("in the lobby"),
    "checks": N_("in the checks"),
    "needs_help": N_("needs help"),
    "writing": N_("writing"),
    "silent": N_("no signal"),
    "paused": N_("paused"),
    "finished": N_("finished"),
}
# Who needs the proctor's eyes first.
STATE_ORDER = ("needs_help", "silent", "paused", "checks", "lobby", "writing", "absent", "finished")
ATTEMPT_STATUS_NAMES = {
    "in_progress": N_("writing"),
    "paused": N_("paused"),
    "submitted": N_("handed in"),
    "timed_out": N_("time ran out"),
    "annulled": N_("annulled"),
    "checks": N_("in the checks"),
}
ACTIONS: dict[str, dict[str, Any]] = {
    "pause": {"title": N_("Pause"), "done": N_("{student}: the exam is paused.")},
    "resume": {
        "title": N_("Resume"),
        "done": N_("{student}: the exam goes on; the deadline moved by the paused time."),
    },
    "extra-time": {"title": N_("Extra time"), "done": N_("{student}: extra time granted.")},
    "downtime-credit": {
        "title": N_("Credit server downtime"),
        "done": N_("{student}: the server downtime is credited."),
    },
    "release-device": {
        "title": N_("Release the device"),
        "done": N_("{student}: the attempt may be continued on another device."),
    },
    "terminate": {"title": N_("Terminate"), "done": N_("{student}: the attempt is terminated and annulled.")},
}
# A student stuck in the pre-exam checks (service: attempt_checks.admit).
ACTIONS["let-in"] = {"title": N_("Let in"), "done": N_("{student}: let in; the exam has started.")}
ACTION_HINTS = {
    "let-in": N_(
        "The remaining device checks are skipped and the student's exam starts now. Use it when the "
        "checks cannot pass for a reason you have verified."
    ),
    "pause": N_("The student's clock stands still and answers are not accepted until you resume."),
    "resume": N_("The deadline moves by the time the exam was paused."),
    "extra-time": N_("The deadline moves by these minutes, at most to the close of the student's window."),
    "downtime-credit": N_(
        "The server's measured downtime during this attempt that was not credited yet is added to the deadline."
    ),
    "release-device": N_(
        "Use when the student's computer failed: the next device the student signs in on continues the attempt."
    ),
    "terminate": N_(
        "A violation: the attempt is finished now and annulled (unsatisfactory). This cannot be undone here."
    ),
}


def _exam_id(request: web.Request) -> int:
    raw = request.match_info["exam_id"]
    if not raw.isdecimal() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


def _attempt_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["attempt_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def actions_for(row: dict[str, Any]) -> list[str]:
    """The actions that make sense for this student now (the service decides in the end)."""
    attempt = row["attempt"]
    if attempt is None:
        return []
    status = attempt["status"]
    if status == "checks" or row["state"] in ("checks", "needs_help"):
        return ["let-in"] if "let-in" in ACTIONS else []
    if status == "in_progress":
        found = ["pause", "extra-time"]
    elif status == "paused":
        found = ["resume", "extra-time"]
    else:
        return ["terminate"] if status in ("submitted", "timed_out") else []
    if attempt["downtime"]["creditable_s"] > 0:
        found.append("downtime-credit")
    if attempt["bound_to_device"] or attempt["open_elsewhere"]["count"]:
        found.append("release-device")
    return [*found, "terminate"]


async def _board(conn: Any, actor: api.Actor, exam_id: int, now: Any) -> dict[str, Any]:
    live = await api.live_view.exam_live(conn, actor, exam_id, now=now)
    facts = await api.live_board.proctoring_facts(
        conn, actor, [s["attempt"]["id"] for s in live["students"] if s["attempt"]]
    )
    order = {state: i for i, state in enumerate(STATE_ORDER)}
    rows = []
    for s in live["students"]:
        attempt = s["attempt"]
        rows.append({**s, "proctoring": facts.get(attempt["id"]) if attempt else None, "actions": actions_for(s)})
    rows.sort(key=lambda r: (order.get(r["state"], -1), api.kazakh_sort_key(r["student"]["full_name"])))
    counts = [(state, n) for state, n in live["counts"].items() if n]
    return {"exam": live["exam"], "rows": rows, "counts": counts, "server_now": live["server_now"], "total": len(rows)}


def _context(actor: api.Actor) -> dict[str, Any]:
    return {
        "when": lambda v: when(v, actor.language),
        "clock": clock,
        "state_names": STATE_NAMES,
        "status_names": ATTEMPT_STATUS_NAMES,
        "actions": ACTIONS,
        "refresh_s": REFRESH_S,
        "can_see_camera": api.allows(actor.role, P.PROCTOR_REVIEW),
    }


@page(permission=P.LIVE_CONTROL)
async def index(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    now = api.services_of(request).clock.now()
    exams = await api.live_board.exams_of_day(conn, actor, now=now, tz=DISPLAY_TZ)
    return render(
        request,
        "staff/live_index.html",
        {"exams": exams, "today": when(now, actor.language), **_context(actor)},
        actor=actor,
    )


async def _live(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    template: str,
    *,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    now = api.services_of(request).clock.now()
    try:
        board = await _board(conn, actor, _exam_id(request), now)
    except api.DomainError as error:
        if error.status == 404:
            raise web.HTTPNotFound() from None
        raise
    done = request.query.get("done", "")
    notice = None
    if done in ACTIONS and request.query.get("student"):
        notice = api.translate(actor.language, ACTIONS[done]["done"], student=request.query["student"][:200])
    return render(
        request, template, {**board, "notice": notice, **_context(actor), **(extra or {})}, actor=actor, status=status
    )


@page(permission=P.LIVE_CONTROL, resource=api.Kind.EXAM)
async def exam_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    config = {
        "exam_id": _exam_id(request),
        "refresh_ms": REFRESH_S * 1000,
        "language": actor.language,
        "time_zone": DISPLAY_TZ,  # "Updated at" as the page writes times, not in the computer's zone or language
        "actions": {
            name: {
                "title": api.gettext(actor.language, spec["title"]),
                "hint": api.gettext(actor.language, ACTION_HINTS[name]),
            }
            for name, spec in ACTIONS.items()
        },
        "messages": {
            "refreshed": api.gettext(actor.language, N_("Updated at {time}.")),
            "offline": api.gettext(
                actor.language, N_("No connection to the server; the table shows the last known state.")
            ),
        },
    }
    return await _live(request, conn, actor, "staff/live.html", extra={"config": config})


@page(permission=P.LIVE_CONTROL, resource=api.Kind.EXAM)
async def rows(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return await _live(request, conn, actor, "staff/live_rows.html")


@page(permission=P.PROCTOR_REVIEW, resource=api.Kind.ATTEMPT)
async def picture(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """A 160 px thumbnail of one camera frame; audited by the service like every evidence view."""
    seq = request.match_info["seq"]
    if not seq.isdecimal() or len(seq) > 12:
        raise web.HTTPNotFound()
    services = api.services_of(request)
    try:
        async with conn.begin_nested():
            content, media = await api.proctor_review_service.view_evidence(
                conn,
                api.proctor_capture.runtime_of(services),
                actor,
                _attempt_id(request),
                int(seq),
                thumb=True,
                frame=None,
                now=services.clock.now(),
            )
    except api.DomainError:
        raise web.HTTPNotFound() from None
    if not media.startswith("image/"):
        raise web.HTTPNotFound()
    # Evidence is never stored by the browser; the page's script keeps a picture on screen until a newer frame.
    return web.Response(body=content, content_type=media, headers={"Cache-Control": "no-store, private"})


Action = Callable[[], Awaitable[Any]]


def _run(request: web.Request, conn: Any, actor: api.Actor, name: str, form: Any) -> Action:
    services = api.services_of(request)
    now = services.clock.now()
    attempt_id = _attempt_id(request)
    reason = str(form.get("reason", ""))[:4000]
    control = api.live_control
    if name == "let-in":
        return lambda: api.attempt_checks.admit(conn, actor, attempt_id, reason=reason, now=now)
    if name == "pause":
        return lambda: control.pause(conn, actor, attempt_id, reason=reason, now=now)
    if name == "resume":
        return lambda: control.resume(conn, actor, attempt_id, reason=reason, now=now)
    if name == "terminate":
        return lambda: control.terminate(
            conn, actor, attempt_id, reason=reason, now=now, grace_s=services.settings.network_grace_s
        )
    if name == "release-device":
        return lambda: control.release_device(conn, actor, attempt_id, reason=reason, now=now)
    widen = str(form.get("widen_window", "")) == "1"
    if name == "downtime-credit":
        return lambda: control.credit_downtime(conn, actor, attempt_id, reason=reason, now=now, widen_window=widen)
    raw = str(form.get("minutes", "")).strip()
    minutes = int(raw) if raw.isdecimal() and len(raw) < 6 else 0  # 0 is refused by the service, in words
    seen = _seen_deadline(form)
    return lambda: control.grant_time(
        conn, actor, attempt_id, minutes=minutes, reason=reason, now=now, widen_window=widen, seen_deadline=seen
    )


def _seen_deadline(form: Any) -> datetime | None:
    """The deadline the form showed (its hidden ``deadline``): a grant counts only on that deadline, so the
    form sent twice, or after another grant, adds nothing (``live_control.grant_time``)."""
    raw = str(form.get("deadline", ""))[:64]
    try:
        seen = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return seen if seen.tzinfo is not None else None


async def _find(conn: Any, actor: api.Actor, exam_id: int, attempt_id: uuid.UUID, now: Any) -> dict[str, Any]:
    live = await api.live_view.exam_live(conn, actor, exam_id, now=now)
    for s in live["students"]:
        if s["attempt"] and s["attempt"]["id"] == str(attempt_id):
            return {"exam": live["exam"], "row": s}
    raise web.HTTPNotFound()


@page(permission=P.LIVE_CONTROL, resource=api.Kind.ATTEMPT)
async def action(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """GET: the action's form on a page of its own. POST: run it; back to the live page, or the form with the reason."""
    name = request.match_info["action"]
    if name not in ACTIONS:
        raise web.HTTPNotFound()
    exam_id, attempt_id = _exam_id(request), _attempt_id(request)
    now = api.services_of(request).clock.now()
    try:
        found = await _find(conn, actor, exam_id, attempt_id, now)
    except api.DomainError as error:
        if error.status == 404:
            raise web.HTTPNotFound() from None
        raise
    error_text, values, status = None, {"reason": "", "minutes": "5"}, 200
    if request.method == "POST":
        form = await request.post()
        values = {"reason": str(form.get("reason", ""))[:4000], "minutes": str(form.get("minutes", ""))[:6]}
        try:
            async with conn.begin_nested():
                await _run(request, conn, actor, name, form)()
        except api.DomainError as error:
            error_text, status = api.translate(actor.language, error.msgid, **error.params), error.status
            found = await _find(conn, actor, exam_id, attempt_id, now)  # the form again, on what holds now
        else:
            query = urlencode({"done": name, "student": found["row"]["student"]["full_name"]})
            return web.Response(status=303, headers={"Location": f"/proctor/live/{exam_id}?{query}"})
    return render(
        request,
        "staff/live_action.html",
        {
            "exam": found["exam"],
            "row": found["row"],
            "name": name,
            "title": ACTIONS[name]["title"],
            "hint": ACTION_HINTS[name],
            "error": error_text,
            "values": values,
            "may_widen": api.allows(actor.role, P.MANAGE_EXAMS),
            **_context(actor),
        },
        actor=actor,
        status=status,
    )


async def old_live(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/proctor/live")


def register(app: web.Application) -> None:
    app.router.add_get("/live", old_live)
    app.router.add_get("/proctor/live", index)
    app.router.add_get("/proctor/live/{exam_id}", exam_page)
    app.router.add_get("/proctor/live/{exam_id}/rows", rows)
    app.router.add_get("/proctor/live/{exam_id}/picture/{attempt_id}/{seq}", picture)
    app.router.add_get("/proctor/live/{exam_id}/attempts/{attempt_id}/{action}", action)
    app.router.add_post("/proctor/live/{exam_id}/attempts/{attempt_id}/{action}", action)
