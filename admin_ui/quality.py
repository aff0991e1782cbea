"""The quality department's pages: upload a bank, read its report, publish, compare versions, item analysis.

Only the quality department and the academic admin open them (Q5): each page names the
permission the bank service itself checks. The upload is a CSRF-checked multipart form
handled here with the same use case as ``POST /api/v1/bank/uploads``, so the report on the
page is the API's report, every problem prefixed with its line (paragraph, row) and
question number in the reader's language. Downloads (the XLSX template, exports, the item
analysis workbook) are plain links to the JSON API's GET routes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web
from babel.numbers import format_decimal

from exam_engine import api
from exam_engine.i18n import N_

from .pages import nav_link, page, render
from .routes import BABEL_LOCALE, when

FORMATS = ("platonus", "platonus-docx", "gift", "aiken", "moodle-xml", "xlsx", "qti")
FIELD_NAMES = {
    "text": N_("question text"),
    "options": N_("options"),
    "key": N_("correct option"),
    "topic": N_("topic"),
    "difficulty": N_("difficulty"),
    "twin_key": N_("twin key"),
}
STATUS_NAMES = {"draft": N_("draft"), "published": N_("published")}
_TRUE = frozenset({"1", "on", "true", "yes"})
# What the upload form shows again after a refusal (every key present: templates use StrictUndefined).
EMPTY_FORM = {
    "discipline": "",
    "lang": "",
    "format": "",
    "topic": "",
    "difficulty": "",
    "dry_run": "",
    "append": "",
    "confirm": "",
}

nav_link(api.Permission.MANAGE_BANKS, "/quality", N_("Question banks: upload, versions, publishing"))
nav_link(api.Permission.READ_BANK_CONTENT, "/quality/analysis", N_("Item analysis of exams"))


def _number(value: float | None, language: str, pattern: str = "0.00") -> str:
    return "—" if value is None else format_decimal(value, format=pattern, locale=BABEL_LOCALE[language])


def _format_names(language: str) -> dict[str, str]:
    """How the upload form names each format, in the reader's language (the form sends the codes)."""
    return {f: api.bank_views.format_name(f, language) or f for f in FORMATS}


def _helpers(actor: api.Actor) -> dict[str, Any]:
    return {
        "when": lambda v: when(v, actor.language),
        "number": lambda v, p="0.00": _number(v, actor.language, p),
        "status_names": STATUS_NAMES,
        "field_names": FIELD_NAMES,
    }


async def _banks(conn: Any, actor: api.Actor) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Versions grouped by (discipline, language), newest first."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for info in await api.bank_service.versions(conn, actor):
        grouped[(info.discipline_code, info.language)].append(info.as_dict())
    return {key: sorted(found, key=lambda v: -int(v["version"])) for key, found in sorted(grouped.items())}


async def _index(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    banks = await _banks(conn, actor)
    codes = sorted({code for code, _ in banks} | {e["discipline"] for e in await api.list_exams(conn, actor)})
    people = await api.live_board.people_names(
        conn, [v["created_by"] for vs in banks.values() for v in vs], actor.language
    )
    return render(
        request,
        "quality/index.html",
        {
            "banks": banks,
            "codes": codes,
            "people": people,
            "formats": FORMATS,
            "format_names": _format_names(actor.language),
            "error": error,
            "form": {**EMPTY_FORM, **(form or {})},
            **_helpers(actor),
        },
        actor=actor,
        status=status,
    )


def see_other(location: str) -> web.Response:
    """Redirect after a successful form. Returned, not raised: raising inside the page's transaction rolls it back."""
    return web.Response(status=303, headers={"Location": location})


@page(permission=api.Permission.MANAGE_BANKS)
async def index(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return await _index(request, conn, actor)


def _flag(form: Any, name: str) -> bool:
    return str(form.get(name, "")).strip().lower() in _TRUE


@page(permission=api.Permission.MANAGE_BANKS)
async def upload(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Check (and unless refused or a dry run, store) the file; answer with the full report."""
    form = await request.post()
    kept = {name: str(form.get(name, "")).strip() for name in ("discipline", "lang", "format", "topic", "difficulty")}
    kept.update({name: "1" for name in ("dry_run", "append", "confirm") if _flag(form, name)})
    upload_file = form.get("file")
    if not isinstance(upload_file, web.FileField) or not upload_file.filename:
        message = api.translate(actor.language, N_("Choose the bank file to upload."))
        return await _index(request, conn, actor, error=message, form=kept, status=422)
    difficulty = kept["difficulty"]
    req = api.bank_service.UploadRequest(
        discipline_code=kept["discipline"],
        language=kept["lang"],
        filename=upload_file.filename,
        format=kept["format"] or None,
        topic=kept["topic"] or None,
        difficulty=int(difficulty) if difficulty.isdecimal() and len(difficulty) < 4 else None,
        dry_run=_flag(form, "dry_run"),
        append=_flag(form, "append"),
        confirm=_flag(form, "confirm"),
    )
    try:
        async with conn.begin_nested():
            services = api.services_of(request)
            outcome = await api.bank_service.upload(
                conn,
                actor,
                upload_file.file.read(),
                req,
                now=services.clock.now(),
                limits=services.settings.bank_limits,
            )
    except api.DomainError as error:
        message = api.translate(actor.language, error.msgid, **error.params)
        if error.code == "bank_replace_unconfirmed":
            # The confirmation step: what the new version removes and which twins it breaks, and the
            # same form again with "confirm" (the file is chosen again: nothing was kept on the server).
            losses = api.bank_views.losses_view(error.details, actor.language)
            return render(
                request,
                "quality/confirm_replace.html",
                {
                    "message": message,
                    "losses": losses,
                    "form": {**EMPTY_FORM, **kept},
                    "filename": upload_file.filename,
                    "formats": FORMATS,
                    "format_names": _format_names(actor.language),
                    **_helpers(actor),
                },
                actor=actor,
                status=409,
            )
        return await _index(request, conn, actor, error=message, form=kept, status=error.status)
    result = api.bank_views.outcome_view(outcome, actor.language, dry_run=req.dry_run)
    return render(
        request,
        "quality/report.html",
        {
            "result": result,
            "filename": upload_file.filename,
            "upload": req,
            "format_description": api.bank_views.format_description(
                result["report"]["format"], result["report"]["encoding"], actor.language
            ),
            **_helpers(actor),
        },
        actor=actor,
        status=200 if result["accepted"] else 422,
    )


async def _version_page(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    version_id: int,
    *,
    error: str | None = None,
    status: int = 200,
    losses: list[dict[str, Any]] | None = None,
) -> web.Response:
    info, items = await api.bank_service.content(conn, actor, version_id)
    old, _new, diff = await api.bank_service.version_diff(conn, actor, version_id)
    return render(
        request,
        "quality/version.html",
        {
            "version": info.as_dict(),
            "items": [api.bank_views.item_view(it) for it in items],
            "previous": old.as_dict() if old else None,
            "diff": api.bank_views.diff_view(diff),
            "published_now": request.query.get("published") == "1",
            "error": error,
            "losses": losses or [],
            "people": await api.live_board.people_names(conn, [info.as_dict()["created_by"]], actor.language),
            **_helpers(actor),
        },
        actor=actor,
        status=status,
    )


def _version_id(request: web.Request) -> int:
    raw = request.match_info["version_id"]
    if not raw.isdecimal() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


@page(permission=api.Permission.READ_BANK_CONTENT)
async def version(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    try:
        return await _version_page(request, conn, actor, _version_id(request))
    except api.DomainError:
        raise web.HTTPNotFound() from None


@page(permission=api.Permission.MANAGE_BANKS)
async def publish(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Publish a draft; a second publish shows the refusal on the version's page."""
    version_id = _version_id(request)
    try:
        form = await request.post()
        async with conn.begin_nested():
            await api.bank_service.publish(
                conn, actor, version_id, now=api.services_of(request).clock.now(), confirm=_flag(form, "confirm")
            )
    except api.DomainError as error:
        if error.status == 404:
            raise web.HTTPNotFound() from None
        message = api.translate(actor.language, error.msgid, **error.params)
        losses = api.bank_views.losses_view(error.details, actor.language) if error.details else []
        return await _version_page(request, conn, actor, version_id, error=message, status=error.status, losses=losses)
    return see_other(f"/quality/versions/{version_id}?published=1")


@page(permission=api.Permission.READ_BANK_CONTENT)
async def compare(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Added / removed / changed questions between any two versions (``?old=ID&new=ID``)."""
    old_raw, new_raw = request.query.get("old", ""), request.query.get("new", "")
    if not (old_raw.isdecimal() and new_raw.isdecimal()) or max(len(old_raw), len(new_raw)) > 12:
        raise web.HTTPNotFound()
    try:
        old, new, diff = await api.bank_service.version_diff(conn, actor, int(new_raw), int(old_raw))
    except api.DomainError:
        raise web.HTTPNotFound() from None
    return render(
        request,
        "quality/compare.html",
        {
            "old": old.as_dict() if old else None,
            "new": new.as_dict(),
            "diff": api.bank_views.diff_view(diff),
            **_helpers(actor),
        },
        actor=actor,
    )


@page(permission=api.Permission.READ_BANK_CONTENT)
async def analysis_list(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    exams = sorted(await api.list_exams(conn, actor), key=lambda e: e["opens_at"], reverse=True)
    return render(request, "quality/analysis_list.html", {"exams": exams, **_helpers(actor)}, actor=actor)


@page(permission=api.Permission.READ_BANK_CONTENT, resource=api.Kind.EXAM)
async def analysis(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    raw = request.match_info["exam_id"]
    if not raw.isdecimal() or len(raw) > 12:
        raise web.HTTPNotFound()
    try:
        result = await api.bank_analysis.analyse_exam(conn, actor, int(raw), language=actor.language)
    except api.DomainError:
        raise web.HTTPNotFound() from None
    return render(
        request,
        "quality/analysis.html",
        {"analysis": api.bank_analysis.analysis_view(result, actor.language), **_helpers(actor)},
        actor=actor,
    )


async def back_to_banks(request: web.Request) -> web.StreamResponse:
    """A GET of a form's target (the language switch returns to the current path) goes back to the list."""
    version_id = request.match_info.get("version_id", "")
    raise web.HTTPSeeOther(f"/quality/versions/{version_id}" if version_id.isdecimal() else "/quality")


def register(app: web.Application) -> None:
    app.router.add_get("/quality", index)
    app.router.add_get("/quality/upload", back_to_banks)
    app.router.add_get("/quality/versions/{version_id}/publish", back_to_banks)
    app.router.add_post("/quality/upload", upload)
    app.router.add_get("/quality/versions/{version_id}", version)
    app.router.add_post("/quality/versions/{version_id}/publish", publish)
    app.router.add_get("/quality/compare", compare)
    app.router.add_get("/quality/analysis", analysis_list)
    app.router.add_get("/quality/analysis/{exam_id}", analysis)
    register_holds(app)


# ------------------------------------------------------------------ held results (issue 25)

nav_link(api.Permission.READ_BANK_CONTENT, "/quality/holds", N_("Held exam results: flagged items and decisions"))

ACTION_NAMES = {
    "rekey": N_("Change the key"),
    "accept": N_("Accept the chosen options"),
    "drop": N_("Drop the question from scoring"),
}
FLAG_NOTES = {"analysis_failed": N_("The item analysis could not read this exam's forms")}
LETTERS = "ABCDEFGHIJKL"


def _exam_id(request: web.Request) -> int:
    raw = request.match_info["exam_id"]
    if not raw.isdecimal() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


@page(permission=api.Permission.READ_BANK_CONTENT)
async def holds_list(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Held exams first, then the ones released lately (with who released them and why)."""
    found = await api.hold_service.held_exams(conn, actor, include_released=True)
    held = [e for e in found if e["state"] == "held"]
    released = [e for e in found if e["state"] == "released" and (e["flagged"] or e["released_by"] != "system:hold")]
    unplaced = await api.results_without_journal(conn)
    return render(
        request,
        "quality/holds.html",
        {"held": held, "released": released[:20], "unplaced": unplaced, **_helpers(actor)},
        actor=actor,
    )


async def _hold_page(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    exam_id: int,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    states = await api.hold_service.release_state(conn, [exam_id])
    if exam_id not in states:
        raise web.HTTPNotFound()
    state = states[exam_id]
    try:
        result = await api.bank_analysis.analyse_exam(conn, actor, exam_id, language=actor.language)
        view = api.bank_analysis.analysis_view(result, actor.language)
    except ValueError:  # forms that do not match their bank: held as analysis_failed, shown as such
        view = {"title": await api.hold_service.exam_title(conn, exam_id), "items": []}
    flagged = {f["item"]: f["flags"] for f in state.flagged if f["item"]}
    items = [{**it, "number": n, "held_by": flagged.get(it["item"], [])} for n, it in enumerate(view["items"], 1)]
    by_bank = {bank_id: it for it in items for bank_id in it["bank_item_ids"]}
    history = [
        {
            **d,
            "item_number": by_bank[d["bank_item_id"]]["number"] if d["bank_item_id"] in by_bank else "—",
            "letters": ", ".join(LETTERS[o] for o in d["options"]),
        }
        for d in await api.hold_service.decisions(conn, exam_id)
    ]
    seen: set[tuple[Any, ...]] = set()
    history = [
        h
        for h in history
        if not ((h["decided_at"], h["item_number"]) in seen or seen.add((h["decided_at"], h["item_number"])))
    ]  # twins: one line
    return render(
        request,
        "quality/hold.html",
        {
            "exam_id": exam_id,
            "title": view["title"],
            "state": state,
            "items": items,
            "flagged_items": [it for it in items if it["held_by"]],
            "others": [it for it in items if not it["held_by"]],
            "failed": [FLAG_NOTES[f] for entry in state.flagged for f in entry["flags"] if f in FLAG_NOTES],
            "history": history,
            "actions": ACTION_NAMES,
            "letters": LETTERS,
            "error": error,
            "form": form or {},
            "can_decide": api.allows(actor.role, api.Permission.MANAGE_BANKS),
            "analysis": view,
            **_helpers(actor),
        },
        actor=actor,
        status=status,
    )


@page(permission=api.Permission.READ_BANK_CONTENT, resource=api.Kind.EXAM)
async def hold(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return await _hold_page(request, conn, actor, _exam_id(request))


@page(permission=api.Permission.MANAGE_BANKS, resource=api.Kind.EXAM)
async def hold_decide(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Re-key, accept options or drop one item, with a reason; every finished attempt is regraded."""
    exam_id = _exam_id(request)
    form = await request.post()
    kept = {name: str(form.get(name, "")).strip()[:2000] for name in ("item", "action", "reason")}
    raw = [str(v) for v in form.getall("option", [])][: len(LETTERS)]
    options = [int(v) for v in raw if v.isdecimal() and len(v) < 3]
    try:
        async with conn.begin_nested():
            done = await api.hold_service.decide_item(
                conn,
                actor,
                exam_id,
                item=kept["item"],
                action=kept["action"],
                options=options,
                reason=kept["reason"],
                now=api.services_of(request).clock.now(),
            )
    except api.DomainError as error:
        if error.status == 404 and error.code == "exam_not_found":
            raise web.HTTPNotFound() from None
        message = api.translate(actor.language, error.msgid, **error.params)
        return await _hold_page(request, conn, actor, exam_id, error=message, form=kept, status=error.status)
    return see_other(f"/quality/holds/{exam_id}?regraded={done.regraded}&changed={done.changed}")


@page(permission=api.Permission.MANAGE_BANKS, resource=api.Kind.EXAM)
async def hold_release(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    exam_id = _exam_id(request)
    form = await request.post()
    reason = str(form.get("release_reason", "")).strip()[:2000]
    try:
        async with conn.begin_nested():
            await api.hold_service.release(
                conn, actor, exam_id, reason=reason, now=api.services_of(request).clock.now()
            )
    except api.DomainError as error:
        message = api.translate(actor.language, error.msgid, **error.params)
        return await _hold_page(
            request, conn, actor, exam_id, error=message, form={"release_reason": reason}, status=error.status
        )
    return see_other(f"/quality/holds/{exam_id}?released=1")


async def back_to_hold(request: web.Request) -> web.StreamResponse:
    exam_id = request.match_info.get("exam_id", "")
    raise web.HTTPSeeOther(f"/quality/holds/{exam_id}" if exam_id.isdecimal() else "/quality/holds")


def register_holds(app: web.Application) -> None:
    app.router.add_get("/quality/holds", holds_list)
    app.router.add_get("/quality/holds/{exam_id}", hold)
    app.router.add_post("/quality/holds/{exam_id}/decide", hold_decide)
    app.router.add_post("/quality/holds/{exam_id}/release", hold_release)
    app.router.add_get("/quality/holds/{exam_id}/decide", back_to_hold)
    app.router.add_get("/quality/holds/{exam_id}/release", back_to_hold)
