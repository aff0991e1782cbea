"""What the exam-day page adds to the live view: the day's exams, proctoring facts per attempt, names.

The roster and its states come from :mod:`.live_view` (``exam_live``), the actions from
:mod:`.live_control`; this module only reads what a page needs beside them:

* ``exams_of_day`` — the exams whose window touches the given local day (the index of the page);
* ``proctoring_facts`` — per attempt: risk, flag count, latest flags and the latest camera frame's
  sequence number (the picture itself is read through ``proctor_review.view_evidence``, which
  checks the permission and audits the view);
* ``people_names`` — audit labels (``user:login``, ``cli:osuser``, ``system:deadline``) as names.

Permissions are checked here as in every service (``LIVE_CONTROL`` for the day's exams,
``PROCTOR_REVIEW`` for proctoring facts), so a scoping rule added to the services applies here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from proctor.kinds import TITLES, FlagKind
from proctor.store import ItemKind
from proctor.tables import evidence_items, proctor_attempts, proctor_flags

from ..domain.actors import Actor
from ..domain.roles import Permission, allows
from ..i18n import N_, translate
from ..tables import disciplines, exam_groups, exams, group_members, users
from .authority import exam_ids_in_reach

LATEST_FLAGS = 3

SYSTEM_NAMES = {
    "system:deadline": N_("the system (deadline passed)"),
    "system:sweeper": N_("the system (deadline passed)"),
    "system:relay": N_("the system (journal delivery)"),
    "system:prepare": N_("the system (forms prepared)"),
}


def day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """The local calendar day around ``now`` as an interval of aware datetimes."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone).date()
    start = datetime.combine(local, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


async def exams_of_day(conn: AsyncConnection, actor: Actor, *, now: datetime, tz: str) -> list[dict[str, Any]]:
    """Exams open at some moment of today (local), earliest first, with how many students they have."""
    actor.require(Permission.LIVE_CONTROL)
    start, end = day_bounds(now, tz)
    assigned = (
        select(exam_groups.c.exam_id, func.count(func.distinct(group_members.c.student_id)).label("n"))
        .join(group_members, group_members.c.group_id == exam_groups.c.group_id)
        .where(group_members.c.left_at.is_(None))
        .group_by(exam_groups.c.exam_id)
        .subquery()
    )
    stmt = (
        select(
            exams.c.id,
            exams.c.title,
            exams.c.opens_at,
            exams.c.closes_at,
            exams.c.duration_s,
            exams.c.requires_proctoring,
            disciplines.c.name.label("discipline"),
            assigned.c.n,
        )
        .select_from(
            exams.join(disciplines, disciplines.c.id == exams.c.discipline_id).outerjoin(
                assigned, assigned.c.exam_id == exams.c.id
            )
        )
        .where(exams.c.opens_at < end, exams.c.closes_at > start)
        .order_by(exams.c.opens_at, exams.c.id)
    )
    # A proctor lists only the exams they watch (issue 19; opening another one is refused by the live
    # view's own check anyway).
    watching = await exam_ids_in_reach(conn, actor)
    if watching is not None:
        stmt = stmt.where(exams.c.id.in_(watching))
    rows = await conn.execute(stmt)
    return [
        {
            "id": r.id,
            "title": r.title,
            "discipline": r.discipline,
            "opens_at": r.opens_at.isoformat(),
            "closes_at": r.closes_at.isoformat(),
            "duration_s": r.duration_s,
            "proctored": bool(r.requires_proctoring),
            "students": r.n or 0,
            "open_now": r.opens_at <= now < r.closes_at,
        }
        for r in rows
    ]


async def proctoring_facts(
    conn: AsyncConnection, actor: Actor, attempt_ids: Iterable[uuid.UUID | str]
) -> dict[str, dict[str, Any]]:
    """Risk, flags and the latest camera frame per attempt; empty for a role without ``PROCTOR_REVIEW``."""
    if not allows(actor.role, Permission.PROCTOR_REVIEW):
        return {}
    ids = [uuid.UUID(str(i)) for i in attempt_ids]
    if not ids:
        return {}
    facts: dict[str, dict[str, Any]] = {}
    for r in await conn.execute(
        select(
            proctor_attempts.c.attempt_id,
            proctor_attempts.c.risk_score,
            proctor_attempts.c.flag_count,
            proctor_attempts.c.last_item_at,
        ).where(proctor_attempts.c.attempt_id.in_(ids))
    ):
        facts[str(r.attempt_id)] = {
            "risk_score": r.risk_score or 0,
            "flag_count": r.flag_count or 0,
            "last_item_at": r.last_item_at.isoformat() if r.last_item_at else None,
            "latest_flags": [],
            "frame_seq": None,
        }
    if not facts:
        return {}
    for r in await conn.execute(
        select(evidence_items.c.attempt_id, func.max(evidence_items.c.seq).label("seq"))
        .where(and_(evidence_items.c.attempt_id.in_(ids), evidence_items.c.kind == ItemKind.FRAME.value))
        .group_by(evidence_items.c.attempt_id)
    ):
        if str(r.attempt_id) in facts:
            facts[str(r.attempt_id)]["frame_seq"] = r.seq
    for f in await conn.execute(
        select(
            proctor_flags.c.attempt_id,
            proctor_flags.c.kind,
            proctor_flags.c.severity,
            proctor_flags.c.start_ms,
            proctor_flags.c.status,
        )
        .where(proctor_flags.c.attempt_id.in_(ids))
        .order_by(proctor_flags.c.start_ms.desc())
    ):
        listed = facts.get(str(f.attempt_id))
        if listed is not None and len(listed["latest_flags"]) < LATEST_FLAGS:
            listed["latest_flags"].append(
                {
                    "kind": f.kind,
                    "title": translate(actor.language, TITLES[FlagKind(f.kind)]),
                    "severity": f.severity,
                    "start_s": f.start_ms / 1000,
                    "status": f.status,
                }
            )
    return facts


async def people_names(conn: AsyncConnection, labels: Iterable[str | None], language: str) -> dict[str, str]:
    """Audit/actor labels as a person reads them: a user's full name, the system's role in words.

    ``user:<login>`` → the account's full name; ``cli:<os user>`` → "command line (<os user>)";
    ``anon:<address>`` (a failed sign-in) → "not signed in (<address>)";
    a bare user id (the journal names people by id) → the full name; unknown labels stay as they are."""
    wanted = {label for label in labels if label}
    logins = {label.split(":", 1)[1] for label in wanted if label.startswith("user:")}
    ids = {int(label) for label in wanted if label.isdecimal()}
    names: dict[str, str] = {}
    if logins:
        for r in await conn.execute(select(users.c.login, users.c.full_name).where(users.c.login.in_(sorted(logins)))):
            names[f"user:{r.login}"] = r.full_name
    if ids:
        for r in await conn.execute(select(users.c.id, users.c.full_name).where(users.c.id.in_(sorted(ids)))):
            names[str(r.id)] = r.full_name
    for label in wanted - names.keys():
        if label in SYSTEM_NAMES:
            names[label] = translate(language, SYSTEM_NAMES[label])
        elif label.startswith("system:"):
            names[label] = translate(language, N_("the system"))
        elif label.startswith("anon:"):
            names[label] = translate(language, N_("not signed in ({address})"), address=label.split(":", 1)[1])
        elif label.startswith("cli:"):
            names[label] = translate(language, N_("command line ({user})"), user=label.split(":", 1)[1])
        else:
            names[label] = label
    return names
