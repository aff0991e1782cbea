"""Exam results regraded after their journal's period closed: the deputy head approves or rejects them.

A key decision of the quality department regrades every finished attempt; where the journal's
period has closed, each newer result waits in ``journal_result_corrections`` for a deputy head
(J5, J6). This page lists those within the reviewer's reach with the student, the discipline,
the old and the new score, who asked, when and why, and takes the decision with a required comment
after a confirmation (staff pages ask first). The journal applies the approved result at once
(``journal_bridge.result_corrections``), and the audit log keeps who decided, when and why.
The journal's grid shows the teacher each such correction's state.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from exam_engine import api
from exam_engine.i18n import N_
from journal_bridge import api as journal

from .pages import decided_notice, nav_link, page, render
from .routes import when

QUEUE = "/journal/result-corrections"
NOTE_LIMIT = 1000

nav_link(api.Permission.REVIEW_CORRECTIONS, QUEUE, N_("Exam result corrections waiting for approval"))


def score_text(value: dict[str, Any], language: str) -> str:
    """An exam result as the journal's exam column reads: the score, or "annulled (score)", or a dash."""
    if value.get("score") is None:
        return "—"
    if value.get("status") == "annulled":
        return api.translate(language, N_("annulled ({score})"), score=value["score"])
    return str(value["score"])


async def pending(conn: Any, actor: api.Actor) -> list[dict[str, Any]]:
    """The result corrections waiting for this reviewer's role, within their reach, with the names a reviewer needs."""
    reviewer = await api.journal_actor_for(conn, actor)
    roles = {str(role) for role in reviewer.roles}
    within = await api.authority.journal_reach(conn, actor)
    items = [c for c in await journal.result_corrections(conn, pending=True) if c["approver_role"] in roles]
    journals: dict[int, tuple[journal.Journal, dict[str, str]]] = {}
    disciplines = api.tables.disciplines
    out = []
    for item in items:
        if item["journal_id"] not in journals:
            found = await journal.load_journal(conn, item["journal_id"])
            journals[item["journal_id"]] = (found, await api.journal_roster(conn, found))
        found, roster = journals[item["journal_id"]]
        if not within.admits(found.group_code, found.discipline_code):
            continue
        out.append(
            {
                **item,
                "journal": found.summary(),
                "student": roster.get(item["student_id"], item["student_id"]),
                "discipline_code": found.discipline_code,
            }
        )
    codes = {i["discipline_code"] for i in out}
    names: dict[str, str] = {}
    if codes:
        rows = await conn.execute(select(disciplines.c.code, disciplines.c.name).where(disciplines.c.code.in_(codes)))
        names = {r.code: r.name for r in rows}
    filers = await api.live_board.people_names(conn, {i["filed_by"] for i in out}, actor.language)
    return [
        {
            **i,
            "discipline": names.get(i["discipline_code"], i["discipline_code"]),
            "filer": filers.get(i["filed_by"], i["filed_by"]),
        }
        for i in out
    ]


async def _queue(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    *,
    error: str | None = None,
    confirm: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    notice = decided_notice(
        request,
        actor.language,
        N_("Result correction no. {id} is approved: the journal shows the new score."),
        N_("Result correction no. {id} is rejected: the journal keeps the old score."),
    )
    return render(
        request,
        "journal/result_corrections.html",
        {
            "items": await pending(conn, actor),
            "notice": notice,
            "error": error,
            "confirm": confirm,
            "form": form or {"id": "", "note": ""},
            "score": lambda v: score_text(v, actor.language),
            "when": lambda v: when(v, actor.language),
        },
        actor=actor,
        status=status,
    )


@page(permission=api.Permission.REVIEW_CORRECTIONS)
async def queue_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Exam results regraded after their journal closed, waiting for this deputy head."""
    return await _queue(request, conn, actor)


@page(permission=api.Permission.REVIEW_CORRECTIONS, resource=api.Kind.RESULT_CORRECTION)
async def review(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Approve or reject one: a comment is required, and the page asks once more before it decides."""
    raw = request.match_info["result_correction_id"]
    if not raw.isdecimal() or len(raw) > 12:
        raise web.HTTPNotFound()
    correction_id = int(raw)
    form = await request.post()
    decision = str(form.get("decision", ""))
    if decision not in ("approve", "reject"):
        raise web.HTTPBadRequest()
    note = str(form.get("note", "")).strip()[:NOTE_LIMIT]
    typed = {"id": str(correction_id), "note": note}
    if not note:
        return await _queue(
            request,
            conn,
            actor,
            form=typed,
            status=422,
            error=api.translate(
                actor.language,
                N_("Write a comment on correction no. {id}: it is kept with your decision."),
                id=correction_id,
            ),
        )
    items = {c["id"]: c for c in await pending(conn, actor)}
    if correction_id not in items:
        return await _queue(
            request,
            conn,
            actor,
            status=404,
            error=api.translate(
                actor.language, N_("Correction no. {id} no longer waits for your decision."), id=correction_id
            ),
        )
    if str(form.get("confirm", "")) != "1":  # first ask: an approved result changes a closed journal at once
        return await _queue(
            request, conn, actor, form=typed, confirm={**items[correction_id], "decision": decision, "note": note}
        )
    now = api.services_of(request).clock.now()
    sink = api.journal_audit_sink(conn, now, actor)

    async def audit(entries: list[journal.AuditEntry]) -> None:
        for entry in entries:
            await sink(*entry)

    try:
        async with conn.begin_nested():
            state = await journal.review_result_correction(
                conn,
                await api.journal_actor_for(conn, actor),
                correction_id,
                api.journal_bridge_keys(api.services_of(request).settings).public,
                approve=decision == "approve",
                note=note,
                now=now,
                audit=audit,
            )
    except journal.JournalError as failure:
        return await _queue(
            request,
            conn,
            actor,
            status=api.journal_error(failure).status,
            error=api.translate(actor.language, failure.msgid, **failure.params),
        )
    return web.Response(status=303, headers={"Location": f"{QUEUE}?id={correction_id}&state={state}"})


async def back_to_queue(request: web.Request) -> web.StreamResponse:
    """A GET of the review form's target (the language switch returns to the current path)."""
    raise web.HTTPSeeOther(QUEUE)


def register(app: web.Application) -> None:
    app.router.add_get(QUEUE, queue_page)
    app.router.add_post(QUEUE + "/{result_correction_id}", review)
    app.router.add_get(QUEUE + "/{result_correction_id}", back_to_queue)
