"""The journal's pages: a teacher's journals and grid, the review queue, substitutes, a student's results.

Reads are rendered here with the journal's own views (``journal_bridge.api``) and the
server's journal helpers (re-exported by ``exam_engine.api``), so a page shows what the
JSON API answers. Grid entries, lessons and corrections are sent by ``static/journal.js``
to the JSON API (each cell its own request, its state visible on the cell); reviewing a
correction and granting a substitute are CSRF-checked forms, redirected after success.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_date
from sqlalchemy import select

from exam_engine import api
from exam_engine.i18n import N_
from journal_bridge import api as journal

from . import dates
from .pages import decided_notice, nav_link, page, render
from .routes import BABEL_LOCALE, DISPLAY_TZ, when

LESSON_KINDS = {"lesson": N_("Lesson"), "midterm1": N_("Midterm control 1"), "midterm2": N_("Midterm control 2")}
ACTIONS = {
    "change": N_("change the value"),
    "delete_grade": N_("delete the grade"),
    "delete_lesson": N_("delete the lesson"),
}
STATES = {
    "filed": N_("waiting for review"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "applied": N_("approved and applied"),
}
RESULT_STATES = {
    "filed": N_("waiting for the deputy head's approval"),
    "applied": N_("approved and applied"),
    "rejected": N_("rejected"),
}
# Statuses whose total is "not computed" (E1: a timed-out or annulled exam), not merely not yet known.
NOT_COMPUTED = ("timed_out", "annulled")

nav_link(api.Permission.KEEP_JOURNAL, "/journals", N_("My journals"))
nav_link(api.Permission.VIEW_JOURNALS, "/journals", N_("Journals"))
nav_link(api.Permission.REVIEW_CORRECTIONS, "/journal/corrections", N_("Journal corrections waiting for review"))
nav_link(api.Permission.GRANT_SUBSTITUTE, "/journal/substitutes", N_("Substitute teachers"))


def _now(request: web.Request) -> datetime:
    return api.services_of(request).clock.now()


def _int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdecimal() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


def _forbidden(request: web.Request, actor: api.Actor, message: str | None = None) -> web.Response:
    text = message or api.translate(
        actor.language, N_("Your role ({role}) may not do this."), role=api.role_name(actor.role)
    )
    return render(request, "error.html", {"message": text}, status=403, actor=actor)


def _message(actor: api.Actor, error: journal.JournalError | api.DomainError) -> str:
    return api.translate(actor.language, error.msgid, **error.params)


def _staff(actor: api.Actor) -> bool:
    return api.allows(actor.role, api.Permission.VIEW_JOURNALS)


def lesson_label(lesson: dict[str, Any], language: str, number: int | None = None) -> str:
    """A column heading a teacher can tell apart: "Lesson 3 · 7 Dec", "Midterm control 1 · 12 Dec"."""
    held = format_date(date.fromisoformat(lesson["held_on"]), "d MMM", locale=BABEL_LOCALE[language])
    if lesson["kind"] == "lesson":
        return api.translate(language, N_("Lesson {n} · {date}"), n=number or 1, date=held)
    return f"{api.translate(language, LESSON_KINDS[lesson['kind']])} · {held}"


def lesson_labels(lessons: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """Each lesson with its label; ordinary lessons are numbered in the order the grid shows them."""
    out, n = [], 0
    for lesson in lessons:
        n += 1 if lesson["kind"] == "lesson" else 0
        out.append({**lesson, "label": lesson_label(lesson, language, n)})
    return out


def exam_text(exam: dict[str, Any] | None, language: str) -> str:
    """The exam column: the score, or — for an annulled result (a newer version of the result) — the word
    "annulled" with the raw score kept in brackets, so the 20 of an annulled attempt never reads as a grade."""
    if exam is None or exam["score"] is None:
        return "—"
    if exam["status"] == "annulled":
        return api.translate(language, N_("annulled ({score})"), score=exam["score"])
    if exam.get("corrected_from") is not None:  # regraded after a key decision (issue 25): where it came from
        return f"{exam['corrected_from']} → {exam['score']}"
    return str(exam["score"])


def computed(student: dict[str, Any], language: str) -> dict[str, str]:
    """The grid's computed columns as text: the same rules journal.js applies after a save."""

    def num(value: Any) -> str:
        return "—" if value is None else str(value)

    if student["total_computed"]:
        total = str(student["total"])
    elif student["status"] in NOT_COMPUTED:
        total = api.translate(language, N_("not computed"))
    else:
        total = "—"
    exam = student["exam"]
    return {
        "current": num(student["current"]),
        "midterm1": num(student["midterm1"]),
        "midterm2": num(student["midterm2"]),
        "admission": num(student["admission"]),
        "exam": exam_text(exam, language),
        "total": total,
        "letter": student["letter"] or "—",
        "status": student["status_label"],
    }


def see_other(location: str) -> web.Response:
    """Redirect after a successful form. Returned, not raised: raising inside the page's transaction rolls it back."""
    return web.Response(status=303, headers={"Location": location})


@page()
async def journals_list(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    if not (_staff(actor) or api.allows(actor.role, api.Permission.KEEP_JOURNAL)):
        return _forbidden(request, actor)
    found = await journal.visible_journals(conn, await _who(conn, actor), _now(request), staff=_staff(actor))
    rows = sorted((j.summary() for j in found), key=lambda j: (j["period"], j["group"], j["discipline"]))
    return render(
        request, "journal/list.html", {"journals": rows, "when": lambda v: when(v, actor.language)}, actor=actor
    )


_who = api.journal_actor_for  # the person with the journals their assignments reach (issue 19)


def _grid_messages(language: str) -> dict[str, str]:
    ids = {
        "saving": N_("Saving…"),
        "saved": N_("Saved: {student}, {lesson}: {value}"),
        "refused": N_("Not saved ({student}, {lesson}): {message}"),
        "offline": N_("No connection: the value was not saved. Check the network and press Enter again."),
        "needs_correction": N_("File a correction for this cell"),
        "selected": N_("Selected cell: {student}, {lesson}"),
        "history_empty": N_("This cell has not changed yet."),
        "history_line": N_("{time}: {old} → {new} · by {who} · {why}"),
        "empty": N_("empty"),
        "correction_filed": N_("Correction no. {id} is filed and waits for review."),
        "lesson_added": N_("The lesson is added."),
        "not_computed": N_("not computed"),
        "annulled": N_("annulled ({score})"),
        "entry": N_("entered"),
        "by_correction": N_("correction no. {id}: {reason}"),
    }
    texts = {key: api.gettext(language, msgid) for key, msgid in ids.items()}
    texts["date_unreadable"] = api.translate(language, dates.DAY_EXPECTED, example=dates.DAY_EXAMPLE)
    return texts


async def _people(
    conn: Any, found: journal.Journal, teachers: list[str], corrections: list[dict[str, Any]]
) -> dict[str, str]:
    """Names of the people a cell's history can name: the journal's teachers and the reviewers."""
    reviewers = (c["reviewed_by"] for c in corrections if c["reviewed_by"])
    ids = {*teachers, *(c["filed_by"] for c in corrections), *reviewers}
    return {i: (await api.journal_catalog_names(conn, found, [i])).examiner or i for i in sorted(ids)}


@page()
async def grid_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    journal_id = _int(request, "journal_id")
    try:
        found, keeps = await journal.journal_with_view(
            conn, await _who(conn, actor), journal_id, _now(request), staff=_staff(actor)
        )
    except journal.JournalNotFound:
        raise web.HTTPNotFound() from None
    except journal.JournalDenied as error:
        return _forbidden(request, actor, _message(actor, error))
    grid = await journal.grid(
        conn, found, await api.journal_roster(conn, found), language=actor.language, translate=api.translate
    )
    can_edit = keeps and api.allows(actor.role, api.Permission.KEEP_JOURNAL) and not grid["journal"]["locked"]
    lessons = lesson_labels(grid["lessons"], actor.language)
    students = [{**s, "shown": computed(s, actor.language)} for s in grid["students"]]
    names = {s["id"]: s["full_name"] for s in students}
    symbols = {m["code"]: m["symbol"] for m in grid["marks"]}
    corrections = await journal.corrections(conn, journal_id=journal_id)
    # Exam results regraded after the period closed: the teacher sees each one's state (J6).
    result_changes = await journal.result_corrections(conn, journal_id=journal_id)
    config = {
        "journal_id": journal_id,
        "csrf": request[api.SESSION].csrf_token,
        "can_edit": can_edit,
        "language": actor.language,
        "time_zone": DISPLAY_TZ,
        "messages": _grid_messages(actor.language),
        "marks": symbols,
        "people": await _people(conn, found, grid["journal"]["teachers"], corrections),
    }
    return render(
        request,
        "journal/grid.html",
        {
            "journal": grid["journal"],
            "lessons": lessons,
            "students": students,
            "marks": grid["marks"],
            "can_edit": can_edit,
            "config": config,
            "corrections": corrections,
            "names": names,
            "symbols": symbols,
            "result_changes": result_changes,
            "result_states": RESULT_STATES,
            "lesson_names": {ls["id"]: ls["label"] for ls in lessons},
            "actions": ACTIONS,
            "states": STATES,
            "kinds": LESSON_KINDS,
            "today": dates.day_text(_now(request).astimezone(ZoneInfo(DISPLAY_TZ)).date()),
            "when": lambda v: when(v, actor.language),
        },
        actor=actor,
    )


async def _pending(conn: Any, actor: api.Actor) -> list[dict[str, Any]]:
    """The review queue with the names a reviewer needs: journal, student, the teacher who filed it."""
    reviewer = await _who(conn, actor)
    items = await journal.corrections(conn, pending_for=reviewer.roles, reach=reviewer)
    journals: dict[int, tuple[journal.Journal, dict[str, str]]] = {}
    out = []
    for item in items:
        if item["journal_id"] not in journals:
            found = await journal.load_journal(conn, item["journal_id"])
            journals[item["journal_id"]] = (found, await api.journal_roster(conn, found))
        found, roster = journals[item["journal_id"]]
        filer = (await api.journal_catalog_names(conn, found, [item["filed_by"]])).examiner
        out.append(
            {
                **item,
                "journal": found.summary(),
                "student": roster.get(item["student_id"] or "", ""),
                "filer": filer or item["filed_by"],
            }
        )
    return out


def cell_text(value: dict[str, Any] | None, language: str) -> str:
    """A cell's value as the grid shows it: the score, or the mark's symbol and label (never its code)."""
    if value is None:
        return "—"
    if value["score"] is not None:
        return str(value["score"])
    mark = next((m for m in journal.DEFAULT_MARKS.marks if m.code == value["mark"]), None)
    return f"{mark.symbol(language)} ({mark.label(language)})" if mark else api.translate(language, N_("a mark"))


async def _queue(
    request: web.Request, conn: Any, actor: api.Actor, *, error: str | None = None, status: int = 200
) -> web.Response:
    notice = decided_notice(
        request,
        actor.language,
        N_("Correction no. {id} is approved and applied."),
        N_("Correction no. {id} is rejected."),
    )
    return render(
        request,
        "journal/corrections.html",
        {
            "items": await _pending(conn, actor),
            "actions": ACTIONS,
            "cell_text": lambda v: cell_text(v, actor.language),
            "notice": notice,
            "error": error,
            "when": lambda v: when(v, actor.language),
            "day": lambda v: format_date(date.fromisoformat(v), "d MMMM y", locale=BABEL_LOCALE[actor.language]),
        },
        actor=actor,
        status=status,
    )


@page(permission=api.Permission.REVIEW_CORRECTIONS)
async def corrections_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Corrections waiting for this reviewer: a deputy head's changes, a faculty head's deletions (J6)."""
    return await _queue(request, conn, actor)


@page(permission=api.Permission.REVIEW_CORRECTIONS, resource=api.Kind.CORRECTION)
async def review(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    correction_id = _int(request, "correction_id")
    form = await request.post()
    decision = str(form.get("decision", ""))
    if decision not in ("approve", "reject"):
        raise web.HTTPBadRequest()
    note = str(form.get("note", "")).strip()[:1000] or None
    now = _now(request)
    try:
        async with conn.begin_nested():
            state = await journal.review(
                conn,
                await _who(conn, actor),
                correction_id,
                approve=decision == "approve",
                note=note,
                now=now,
                audit=api.journal_audit_sink(conn, now, actor),
            )
    except journal.JournalError as failure:
        return await _queue(
            request, conn, actor, error=_message(actor, failure), status=api.journal_error(failure).status
        )
    return see_other(f"/journal/corrections?id={correction_id}&state={state}")


@page(permission=api.Permission.GRANT_SUBSTITUTE)
async def substitutes(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """The faculty head's written permission for a substitute teacher, bounded in time (J7)."""
    error = notice = None
    field_errors: dict[str, str] = {}
    form: dict[str, str] = {k: "" for k in ("journal", "teacher", "valid_from", "valid_until", "reason")}
    if request.method == "POST":
        posted = await request.post()
        form = {k: str(posted.get(k, "")).strip()[:500] for k in form}
        moments: dict[str, datetime] = {}
        for name in ("valid_from", "valid_until"):
            try:
                moments[name] = dates.read_moment(form[name])
            except dates.DateUnreadable as bad:
                field_errors[name] = bad.text(actor.language)
            else:
                form[name] = dates.moment_text(moments[name])
        start, end = moments.get("valid_from"), moments.get("valid_until")
        now = _now(request)
        try:
            if field_errors:
                error = api.translate(actor.language, N_("Correct the fields marked below."))
            elif start is None or end is None or not form["journal"].isdecimal():
                error = api.translate(actor.language, N_("Fill in every field of the form."))
            else:
                async with conn.begin_nested():
                    teacher = await api.assignment_service.substitute_teacher_id(conn, form["teacher"])
                    await journal.grant_substitute(
                        conn,
                        await _who(conn, actor),
                        int(form["journal"]),
                        str(teacher),
                        valid_from=start,
                        valid_until=end,
                        reason=form["reason"],
                        now=now,
                        audit=api.journal_audit_sink(conn, now, actor),
                    )
        except (journal.JournalError, api.DomainError) as failure:
            error = _message(actor, failure)
        if error is None and start is not None and end is not None:
            notice = api.translate(
                actor.language,
                N_("{teacher} may keep the journal from {start} to {end}."),
                teacher=form["teacher"],
                start=when(start, actor.language),
                end=when(end, actor.language),
            )
            form = {k: "" for k in form}
    found = await journal.visible_journals(conn, await _who(conn, actor), _now(request), staff=True)
    rows = sorted((j.summary() for j in found), key=lambda j: (j["period"], j["group"], j["discipline"]))
    return render(
        request,
        "journal/substitutes.html",
        {"journals": rows, "form": form, "error": error, "field_errors": field_errors, "notice": notice},
        actor=actor,
        status=422 if error else 200,
    )


@page(permission=api.Permission.VIEW_OWN_RESULTS)
async def my_results(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """A student's admission ratings, exam results and totals, and what the exam must bring for a letter."""
    error = None
    try:
        async with conn.begin_nested():
            items = (await api.student_journal_results(request, conn, actor))["items"]
    except api.DomainError as failure:
        error = _message(actor, failure)
        plain = request.clone(rel_url=request.rel_url.without_query("target"))
        items = (await api.student_journal_results(plain, conn, actor))["items"]
    letters = [n["letter"] for n in next((i["needs"] for i in items if i.get("needs")), [])]
    # The discipline's name, not its code (issue 20).
    codes = {i["journal"]["discipline"] for i in items}
    disciplines = api.tables.disciplines
    names: dict[str, str] = {}
    if codes:
        found = await conn.execute(select(disciplines.c.code, disciplines.c.name).where(disciplines.c.code.in_(codes)))
        names = {r.code: r.name for r in found}
    return render(
        request,
        "journal/results.html",
        {
            "discipline_names": names,
            "items": items,
            "letters": letters,
            "target": request.query.get("target", ""),
            "error": error,
            "not_computed": NOT_COMPUTED,
        },
        actor=actor,
        status=422 if error else 200,
    )


async def back_to_queue(request: web.Request) -> web.StreamResponse:
    """A GET of the review form's target (the language switch returns to the current path)."""
    raise web.HTTPSeeOther("/journal/corrections")


def register(app: web.Application) -> None:
    app.router.add_get("/journals", journals_list)
    app.router.add_get("/journals/{journal_id}", grid_page)
    app.router.add_get("/journal/corrections", corrections_page)
    app.router.add_post("/journal/corrections/{correction_id}", review)
    app.router.add_get("/journal/corrections/{correction_id}", back_to_queue)
    app.router.add_get("/journal/substitutes", substitutes)
    app.router.add_post("/journal/substitutes", substitutes)
    app.router.add_get("/student/results", my_results)
    from . import result_corrections  # the deputy head's exam-result corrections after a period closed

    result_corrections.register(app)
