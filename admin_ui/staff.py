"""Staff pages of issue 20: journals set up by the academic administration, and the audit log.

* ``/admin/journals`` (``manage_journals``): create a journal for a group × discipline × academic
  period and assign teachers to it, with the same journal use cases the JSON API calls
  (``journal_bridge.api.create_journal`` / ``assign_teacher``); every change is audited through the
  journal's audit sink. The page checks that the group, the discipline and the teacher exist (the
  journal itself knows them only by code and id).
* ``/admin/audit`` (``view_audit``: the academic administration, the deputy head, the quality
  department and — read only, like everyone here — the system administrator): the audit log,
  newest first, filtered by person, subject, action and dates, 50 rows a page, with actors shown
  by name, actions in words, and a button that recomputes the signed hash chain
  (``exam-engine audit verify``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, or_, select

from exam_engine import api
from exam_engine.i18n import N_
from journal_bridge import api as journal

from . import admin_system, dates
from .admin import FormInvalid, by_name, day, see_other, show, text
from .audit_values import PERSON_KEYS, values_text
from .pages import nav_link, page, render
from .routes import DISPLAY_TZ, when

P = api.Permission
T = api.tables
nav_link(P.MANAGE_JOURNALS, "/admin/journals", N_("Journals and their teachers"))
nav_link(P.VIEW_AUDIT, "/admin/audit", N_("Audit log"))

PAGE_SIZE = 50
MAX_FILTER = 100

ACTION_NAMES = {
    "attempt.started": N_("exam started"),
    "attempt.submitted": N_("exam handed in"),
    "attempt.timed_out": N_("exam time ran out"),
    "attempt.annulled": N_("exam annulled"),
    "attempt.paused": N_("exam paused"),
    "attempt.resumed": N_("exam resumed"),
    "attempt.time_granted": N_("extra time granted"),
    "attempt.downtime_credited": N_("server downtime credited"),
    "attempt.terminated": N_("exam terminated"),
    "attempt.device_released": N_("device released"),
    "attempt.device_claimed": N_("exam continued on another device"),
    "attempt.open_elsewhere": N_("exam opened on a second device (refused)"),
    "auth.login": N_("signed in"),
    "auth.login_failed": N_("sign-in failed"),
    "auth.logout": N_("signed out"),
    "auth.password_changed": N_("password changed"),
    "journal.teacher_removed": N_("teacher withdrawn from a journal"),
    "user.created": N_("account created"),
    "user.password_reset": N_("password reset"),
    "faculty.created": N_("faculty created"),
    "group.created": N_("group created"),
    "group.student_added": N_("student added to a group"),
    "group.teacher_added": N_("teacher added to a group"),
    "discipline.created": N_("discipline created"),
    "exam_session.created": N_("exam session created"),
    "exam.created": N_("exam created"),
    "exam.extra_time": N_("extra time set before the exam"),
    "exam.accommodation": N_("accommodation set"),
    "exam.rescheduled": N_("exam rescheduled for a student"),
    "exam.window_widened": N_("student's window widened"),
    "exam.forms_prepared": N_("exam forms prepared"),
    "bank.uploaded": N_("question bank uploaded"),
    "bank.upload_refused": N_("question bank refused"),
    "bank.published": N_("question bank published"),
    "bank.exported": N_("question bank exported"),
    "journal.created": N_("journal created"),
    "journal.teacher_assigned": N_("teacher assigned to a journal"),
    "journal.substitute_granted": N_("substitute teacher permitted"),
    "journal.lesson_added": N_("lesson added"),
    "journal.cell_entered": N_("grade entered"),
    "journal.correction_filed": N_("correction filed"),
    "journal.period_locked": N_("academic period closed"),
    "proctor.consent": N_("consent to proctoring"),
    "proctor.decision": N_("proctoring decision"),
    "proctor.flag_confirmed": N_("flag confirmed"),
    "proctor.flag_dismissed": N_("flag dismissed"),
    "proctor.appeal": N_("appeal recorded"),
    "proctor.room_scan_requested": N_("room scan requested"),
    "proctor.exam_settings": N_("proctoring settings changed"),
    "proctor.reference_photo": N_("reference photo uploaded"),
    "evidence.viewed": N_("evidence viewed"),
    "evidence.timeline_viewed": N_("evidence timeline viewed"),
    "evidence.verified": N_("evidence chain checked"),
    "evidence.purged": N_("evidence deleted after retention"),
    "evidence.key_rotated": N_("evidence key rotated"),
    "attempt.admitted": N_("student let in without the remaining checks"),
    "attempt.checks_passed": N_("device checks passed"),
    "attempt.regraded": N_("exam regraded"),
    "auth.session_ended": N_("session ended"),
    "auth.password_change_failed": N_("password change failed"),
    "exam.proctors_set": N_("proctors of the exam set"),
    "exam.results_released": N_("exam results released to the journal"),
    "exam.results_held": N_("exam results held for review"),
    "exam.hold_expired": N_("hold of exam results expired"),
    "exam.key_decision": N_("answer key decision"),
    "faculty.head_set": N_("faculty head assigned"),
    "department.created": N_("department created"),
    "department.head_set": N_("head of department assigned"),
    "discipline.department_set": N_("discipline assigned to a department"),
    "user.disabled": N_("sign-in disabled"),
    "user.enabled": N_("sign-in enabled again"),
    "auth.login_refused": N_("sign-in refused: the account is disabled"),
}
AREA_NAMES = {
    "attempt": N_("exam attempt"),
    "auth": N_("sign-in"),
    "user": N_("account"),
    "faculty": N_("catalogue"),
    "group": N_("catalogue"),
    "discipline": N_("catalogue"),
    "exam_session": N_("catalogue"),
    "exam": N_("exam"),
    "bank": N_("question bank"),
    "journal": N_("journal"),
    "proctor": N_("proctoring"),
    "evidence": N_("proctoring"),
    "department": N_("catalogue"),
}
SUBJECT_NAMES = {
    "attempt": N_("attempt"),
    "user": N_("account"),
    "exam": N_("exam"),
    "journal": N_("journal"),
    "group": N_("group"),
    "discipline": N_("discipline"),
    "bank": N_("question bank"),
    "faculty": N_("faculty"),
    "department": N_("department"),
    "exam_session": N_("exam session"),
    "session": N_("exam session"),
    "bank_version": N_("question bank version"),
    "login": N_("login"),
    "period": N_("academic period"),
    "route": N_("address"),
}


def action_name(action: str, language: str) -> str:
    if action in ACTION_NAMES:
        return api.translate(language, ACTION_NAMES[action])
    area = action.split(".", 1)[0]
    return api.translate(
        language, N_("{area}: another action"), area=api.translate(language, AREA_NAMES.get(area, N_("system")))
    )


def subject_name(subject: str, language: str) -> str:
    kind, _, rest = subject.partition(":")
    if kind in SUBJECT_NAMES and rest:
        return f"{api.translate(language, SUBJECT_NAMES[kind])} {rest}"
    return subject


# ---------------------------------------------------------------------------------------- journals


async def _journal_rows(conn: Any, language: str) -> list[dict[str, Any]]:
    found = await journal.load_journals(conn)
    teachers = {j.id: await journal.teacher_ids(conn, j.id) for j in found}
    names = await api.live_board.people_names(conn, [t for ids in teachers.values() for t in ids], language)
    wanted = [int(t) for ids in teachers.values() for t in ids if t.isdecimal()]
    logins = {
        str(r.id): r.login
        for r in await conn.execute(select(T.users.c.id, T.users.c.login).where(T.users.c.id.in_(wanted)))
    }
    disciplines = {r.code: r.name for r in await conn.execute(select(T.disciplines.c.code, T.disciplines.c.name))}
    return [
        {
            **j.summary(),
            "discipline_name": disciplines.get(j.discipline_code, ""),
            "teachers": sorted((names.get(t, t) for t in teachers[j.id]), key=api.kazakh_sort_key),
            "teacher_logins": sorted(
                ((logins[t], names.get(t, t)) for t in teachers[j.id] if t in logins),
                key=lambda pair: api.kazakh_sort_key(pair[1]),
            ),
        }
        for j in found
    ]


async def _journals_page(
    request: web.Request,
    conn: Any,
    actor: api.Actor,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    groups = [r.code for r in await conn.execute(select(T.groups.c.code).order_by(T.groups.c.code))]
    disciplines = [
        (r.code, f"{r.code} — {r.name}")
        for r in await conn.execute(select(T.disciplines.c.code, T.disciplines.c.name).order_by(T.disciplines.c.code))
    ]
    teachers = by_name(
        [
            dict(r._mapping)
            for r in await conn.execute(
                select(T.users.c.login, T.users.c.full_name).where(T.users.c.role == api.Role.TEACHER.value)
            )
        ]
    )
    rows = await _journal_rows(conn, actor.language)
    done = request.query.get("done", "")
    notice = None
    if done == "created":
        notice = api.translate(actor.language, N_("The journal is created. Assign its teachers below."))
    elif done == "assigned":
        notice = api.translate(actor.language, N_("The teacher is assigned to the journal."))
    elif done == "removed":
        notice = api.translate(
            actor.language, N_("The teacher is withdrawn from the journal: their next request to it is refused.")
        )
    return show(
        request,
        actor,
        "admin/journals.html",
        {
            "journals": rows,
            "group_options": [(g, g) for g in groups],
            "discipline_options": disciplines,
            "teacher_options": [(t["login"], f"{t['full_name']} ({t['login']})") for t in teachers],
            "journal_options": [(j["id"], f"{j['group']} · {j['discipline']} · {j['period']}") for j in rows],
            "assignment_options": [
                (f"{j['id']}:{login}", f"{j['group']} · {j['discipline']} · {j['period']} — {name} ({login})")
                for j in rows
                for login, name in j["teacher_logins"]
            ],
            "form": form or {},
            "notice": notice,
        },
        errors=errors,
    )


@page(permission=P.MANAGE_JOURNALS)
async def journals_page(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    return await _journals_page(request, conn, actor)


def _local_end_of_day(form: Any, name: str) -> datetime:
    return datetime.combine(day(form, name), time(23, 59, 59), tzinfo=ZoneInfo(DISPLAY_TZ))


@page(permission=P.MANAGE_JOURNALS)
async def create_journal(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    form = await request.post()
    values = {k: text(form, k)[:64] for k in ("group", "discipline", "period", "closes_on")}
    errors: dict[str, str] = {}

    def need(name: str, ok: bool, msgid: str) -> None:
        if not ok and name not in errors:
            errors[name] = api.translate(actor.language, msgid)

    # Every field is checked before anything is written, so one answer names every problem.
    group = (await conn.execute(select(T.groups.c.id).where(T.groups.c.code == values["group"]))).first()
    need("group", bool(values["group"]), N_("Choose a group."))
    need("group", group is not None, N_("No such group."))
    disc = (await conn.execute(select(T.disciplines.c.id).where(T.disciplines.c.code == values["discipline"]))).first()
    need("discipline", bool(values["discipline"]), N_("Choose a discipline."))
    need("discipline", disc is not None, N_("No such discipline."))
    need("period", bool(values["period"]), N_("Enter the academic period, e.g. 2026-spring."))
    closes_at = None
    try:
        closes_at = _local_end_of_day(values, "closes_on")
        values["closes_on"] = dates.day_text(closes_at.date())  # shown back as the field writes it
    except FormInvalid as bad:
        errors["closes_on"] = bad.text(actor.language)
    if errors:
        return await _journals_page(request, conn, actor, form=values, errors=errors)
    now = api.services_of(request).clock.now()
    try:
        async with conn.begin_nested():
            new_id = await journal.create_journal(
                conn,
                group_code=values["group"],
                discipline_code=values["discipline"],
                period_code=values["period"],
                period_closes_at=closes_at,
                institution="—",
                by=actor.label,
                now=now,  # type: ignore[arg-type]
                audit=api.journal_audit_sink(conn, now, actor),
            )
    except journal.JournalError as failure:
        return await _journals_page(
            request,
            conn,
            actor,
            form=values,
            errors={"_form": api.translate(actor.language, failure.msgid, **failure.params)},
        )
    return see_other(f"/admin/journals?done=created#journal-{new_id}")


@page(permission=P.MANAGE_JOURNALS)
async def assign_teacher(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    form = await request.post()
    values = {"journal": text(form, "journal")[:12], "teacher": text(form, "teacher")[:64]}
    errors: dict[str, str] = {}
    teacher = (
        await conn.execute(select(T.users.c.id, T.users.c.role).where(T.users.c.login == values["teacher"]))
    ).first()
    if not values["journal"].isdecimal():
        errors["journal"] = api.translate(actor.language, N_("Choose a journal."))
    if teacher is None:
        errors["teacher"] = api.translate(actor.language, N_("Choose a teacher."))
    elif teacher.role != api.Role.TEACHER.value:
        errors["teacher"] = api.translate(actor.language, N_("This account is not a teacher's."))
    if not errors:
        now = api.services_of(request).clock.now()
        try:
            async with conn.begin_nested():
                await journal.assign_teacher(
                    conn,
                    int(values["journal"]),
                    str(teacher.id),
                    by=actor.label,
                    now=now,
                    audit=api.journal_audit_sink(conn, now, actor),
                )
        except journal.JournalError as failure:
            errors["journal"] = api.translate(actor.language, failure.msgid, **failure.params)
    if errors:
        return await _journals_page(
            request,
            conn,
            actor,
            form={f"a_{k}": v for k, v in values.items()},
            errors={f"a_{k}": v for k, v in errors.items()},
        )
    return see_other(f"/admin/journals?done=assigned#journal-{values['journal']}")


@page(permission=P.MANAGE_JOURNALS)
async def remove_teacher(request: web.Request, conn: Any, actor: api.Actor) -> web.StreamResponse:
    """Withdraw a teacher from a journal, with a reason (audited with the assignment it ends)."""
    form = await request.post()
    values = {"assignment": text(form, "assignment")[:80], "reason": text(form, "reason")}
    errors: dict[str, str] = {}
    journal_part, _, login = values["assignment"].partition(":")
    teacher = (
        (await conn.execute(select(T.users.c.id).where(T.users.c.login == login))).first()
        if journal_part.isdecimal() and login
        else None
    )
    if teacher is None:
        errors["assignment"] = api.translate(actor.language, N_("Choose a journal and its teacher from the list."))
    if not values["reason"]:
        errors["reason"] = api.translate(actor.language, N_("Write the reason: it is kept in the audit log."))
    elif len(values["reason"]) > journal.MAX_REASON:
        errors["reason"] = api.translate(
            actor.language, N_("The reason is longer than {limit} characters."), limit=journal.MAX_REASON
        )
    if not errors and teacher is not None:
        now = api.services_of(request).clock.now()
        try:
            async with conn.begin_nested():
                await journal.remove_teacher(
                    conn,
                    int(journal_part),
                    str(teacher.id),
                    reason=values["reason"],
                    by=actor.label,
                    now=now,
                    audit=api.journal_audit_sink(conn, now, actor),
                )
        except journal.JournalError as failure:
            errors["assignment"] = api.translate(actor.language, failure.msgid, **failure.params)
    if errors:
        return await _journals_page(
            request,
            conn,
            actor,
            form={f"r_{k}": v for k, v in values.items()},
            errors={f"r_{k}": v for k, v in errors.items()},
        )
    return see_other(f"/admin/journals?done=removed#journal-{journal_part}")


# ---------------------------------------------------------------------------------------- audit


async def _audit_rows(
    conn: Any, filters: dict[str, str], page_no: int, language: str
) -> tuple[list[dict[str, Any]], bool, dict[str, str]]:
    log = T.audit_log
    stmt = select(log).order_by(log.c.id.desc())
    errors: dict[str, str] = {}
    person = filters["person"]
    if person:
        logins = [
            r.login
            for r in await conn.execute(
                select(T.users.c.login)
                .where(
                    or_(
                        func.lower(T.users.c.full_name).contains(person.lower(), autoescape=True),
                        T.users.c.login == person,
                    )
                )
                .limit(200)
            )
        ]
        stmt = stmt.where(
            or_(log.c.actor.in_([f"user:{x}" for x in logins]), log.c.actor.contains(person, autoescape=True))
        )
    if filters["subject"]:
        stmt = stmt.where(log.c.subject.contains(filters["subject"], autoescape=True))
    if filters["action"]:
        stmt = stmt.where(log.c.action.startswith(filters["action"], autoescape=True))
    zone = ZoneInfo(DISPLAY_TZ)
    for name, op in (("from", "ge"), ("to", "lt")):
        if not filters[name]:
            continue
        try:
            chosen = dates.read_day(filters[name])
        except dates.DateUnreadable as bad:
            errors[name] = bad.text(language)
        else:
            filters[name] = dates.day_text(chosen)  # shown back as the field writes it
            moment = datetime.combine(chosen + timedelta(days=1 if op == "lt" else 0), time.min, tzinfo=zone)
            stmt = stmt.where(log.c.at >= moment if op == "ge" else log.c.at < moment)
    found = [dict(r._mapping) for r in await conn.execute(stmt.offset(page_no * PAGE_SIZE).limit(PAGE_SIZE + 1))]
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    people = [
        str(v[k])
        for r in found
        for v in (r["before"], r["after"])
        if isinstance(v, dict)
        for k in PERSON_KEYS
        if v.get(k) is not None
    ]
    names = await api.live_board.people_names(conn, [r["actor"] for r in found] + people, language)
    rows = [
        {
            **r,
            "who": names.get(r["actor"], r["actor"]),
            "what": action_name(r["action"], language),
            "subject_text": subject_name(r["subject"], language),
            "before_text": values_text(r["before"], names, language, lambda v: when(v, language)),
            "after_text": values_text(r["after"], names, language, lambda v: when(v, language)),
        }
        for r in found
    ]
    return rows, more, errors


async def audit_page(request: web.Request) -> web.StreamResponse:
    """Not ``pages.page``: the chain check opens its own connections (one on SQLite), as on the system page."""
    actor = await admin_system._signed_in(request, P.VIEW_AUDIT)
    if isinstance(actor, web.Response):
        return actor
    services = api.services_of(request)
    filters = {k: request.query.get(k, "").strip()[:MAX_FILTER] for k in ("person", "subject", "action", "from", "to")}
    raw_page = request.query.get("page", "1")
    page_no = int(raw_page) - 1 if raw_page.isdecimal() and 0 < int(raw_page) < 100000 else 0
    async with services.engine.connect() as conn:
        rows, more, errors = await _audit_rows(conn, filters, page_no, actor.language)
    chain = await admin_system._verify(services) if request.method == "POST" else None
    kept = {k: v for k, v in filters.items() if v}
    address = f"/admin/audit?{urlencode({**kept, 'page': page_no + 1})}" if kept or page_no else "/admin/audit"
    return render(
        request,
        "admin/audit.html",
        {
            "rows": rows,
            "filters": filters,
            "errors": errors,
            "page_no": page_no + 1,
            "more": more,
            "prev_url": f"?{urlencode({**kept, 'page': page_no})}" if page_no else None,
            "next_url": f"?{urlencode({**kept, 'page': page_no + 2})}" if more else None,
            "chain": chain,
            "verify_url": address,
            "here": address,
            "when": lambda v: when(v, actor.language),
            "action_options": sorted(
                ((k, api.translate(actor.language, v)) for k, v in ACTION_NAMES.items()), key=lambda kv: kv[1]
            ),
            "tabs": [],
            "form": {},
            "done": "",
        },
        actor=actor,
        status=422 if errors else 200,
    )


def register(app: web.Application) -> None:
    app.router.add_get("/admin/journals", journals_page)
    app.router.add_post("/admin/journals", create_journal)
    app.router.add_post("/admin/journals/teachers", assign_teacher)
    app.router.add_post("/admin/journals/teachers/remove", remove_teacher)
    app.router.add_get("/admin/audit", audit_page)
    app.router.add_post("/admin/audit", audit_page)
