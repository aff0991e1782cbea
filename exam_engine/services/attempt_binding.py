"""One active browser per attempt, and a cheap last-seen.

An open attempt is bound to the browser (device) that started it: the SHA-256 of its
long-lived device cookie (``web.http.device_key``; the session token's hash for a client
without one), kept in ``attempt_live.bound_session``. Signing out and in again in the same
browser keeps the device cookie, so the attempt resumes (issue 20). A request on the attempt
from another session of the same student is refused with ``attempt_open_elsewhere`` and
recorded (a counter on the attempt for the live view, and an audit row) — never silently
allowed. A proctor's "move to another device" clears the binding and remembers the old
session: the next *other* session of the student to open the attempt claims it.

The refusal is written in the request's transaction and then raised; the route turns it
into a 409 *after* the commit (see ``web/refusals.py``), so the record survives.

Lock order, everywhere: the ``attempts`` row first, then ``attempt_live``. Saves share-lock
the attempt and may then update last-seen; nothing locks ``attempt_live`` before ``attempts``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.actors import Actor
from ..errors import Conflict
from ..exam_day_tables import attempt_live
from ..i18n import N_
from .audit import audit_row, record_many
from .upsert import insert_ignore


class AttemptOpenElsewhere(Conflict):
    """The attempt is open in another session; the refusal is already recorded in the transaction."""


def open_elsewhere() -> AttemptOpenElsewhere:
    return AttemptOpenElsewhere(
        "attempt_open_elsewhere",
        N_(
            "This exam is open in another browser. Continue it in the browser where you started it (signing in "
            "again there resumes it), or ask the proctor or the exam administrator to move it to this browser."
        ),
    )


class Binding(StrEnum):
    ALLOW = "allow"
    CLAIM = "claim"
    REFUSE = "refuse"


def verdict(bound_session: str | None, released_session: str | None, session: str | None) -> Binding:
    """Pure: may ``session`` act on an attempt bound to ``bound_session``?"""
    if session is None or bound_session == session:
        return Binding.ALLOW  # internal callers (CLI, sweeper) pass no session
    if bound_session is None and session != released_session:
        return Binding.CLAIM
    return Binding.REFUSE


_CLAIM = (
    update(attempt_live)
    .where(attempt_live.c.attempt_id == bindparam("b_attempt_id"))
    .where(attempt_live.c.bound_session.is_(None))
    .where(or_(attempt_live.c.released_session.is_(None), attempt_live.c.released_session != bindparam("b_session")))
    .values(bound_session=bindparam("b_session"), last_seen_at=bindparam("b_now"))
)
_BOUND = select(attempt_live.c.bound_session).where(attempt_live.c.attempt_id == bindparam("b_attempt_id"))
_REFUSED = (
    update(attempt_live)
    .where(attempt_live.c.attempt_id == bindparam("b_attempt_id"))
    .values(elsewhere_count=attempt_live.c.elsewhere_count + 1, elsewhere_at=bindparam("b_now"))
)
_TOUCH = (
    update(attempt_live)
    .where(attempt_live.c.attempt_id == bindparam("b_attempt_id"))
    .values(last_seen_at=bindparam("b_now"))
)


async def enforce(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, row: Any, session: str | None, *, now: datetime
) -> None:
    """Allow, claim or refuse (recorded, then raised). ``row`` carries ``bound_session``/``released_session``."""
    decision = verdict(row.bound_session, row.released_session, session)
    if decision is Binding.ALLOW:
        return
    params = {"b_attempt_id": attempt_id, "b_session": session, "b_now": now}
    if decision is Binding.CLAIM:
        created = (
            await conn.execute(
                insert_ignore(
                    conn,
                    attempt_live,
                    {"attempt_id": attempt_id, "bound_session": session, "last_seen_at": now},
                    ["attempt_id"],
                )
            )
        ).rowcount
        if created or (await conn.execute(_CLAIM, params)).rowcount:
            await record_many(conn, [audit_row(now, actor, "attempt.device_claimed", f"attempt:{attempt_id}")])
            return
        if (await conn.execute(_BOUND, params)).scalar() == session:
            return  # a concurrent request of the same session claimed it first
    await conn.execute(_REFUSED, params)
    await record_many(
        conn, [audit_row(now, actor, "attempt.open_elsewhere", f"attempt:{attempt_id}", None, {"refused": True})]
    )
    raise open_elsewhere()


async def touch(conn: AsyncConnection, attempt_id: uuid.UUID, *, now: datetime) -> None:
    """Refresh last-seen (callers ask :func:`exam_day.presence_due` first, so this runs ≤ every 15 s)."""
    await conn.execute(_TOUCH, {"b_attempt_id": attempt_id, "b_now": now})


async def create(conn: AsyncConnection, attempt_id: uuid.UUID, session: str | None, *, now: datetime) -> None:
    """The live row of a new attempt, bound to the session that started it."""
    await conn.execute(attempt_live.insert().values(attempt_id=attempt_id, bound_session=session, last_seen_at=now))


def live_join(attempts: Any) -> Any:
    """``attempts LEFT JOIN attempt_live`` (attempts started before exam day have no live row)."""
    return attempts.outerjoin(attempt_live, and_(attempt_live.c.attempt_id == attempts.c.id))


LIVE_COLUMNS = (
    attempt_live.c.bound_session,
    attempt_live.c.released_session,
    attempt_live.c.last_seen_at,
    attempt_live.c.paused_at,
)
