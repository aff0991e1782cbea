"""Live control on exam day: what proctors and the academic administrator see and do.

The view lists every student assigned to an exam: absent, in the lobby, writing, silent
(no request for longer than a threshold), paused or finished, with the remaining time,
the measured server downtime during the attempt and refused requests from other devices.

Every action needs ``LIVE_CONTROL`` and a reason, locks the attempt row, and leaves an
audit row with the values before and after. None of them inserts an attempt: the only
insert is the student's start, and the unique index keeps it to one (E2).

* pause / resume — the clock stands still while paused (no answers, no auto-submit);
  resuming moves the deadline by the paused time;
* extra time — the deadline moves, capped by the student's window (plus the time lost
  to pauses) unless the academic administrator widens that student's window;
* downtime credit — the measured outage (see :mod:`.uptime`) not yet credited, granted
  like extra time;
* terminate — finish the attempt now and annul it for a violation;
* release device — the attempt leaves the session it was bound to (a laptop died).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import attempts as rules
from ..domain import exam_day
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus
from ..domain.roles import Permission
from ..errors import Conflict, NotFound
from ..exam_day_tables import attempt_live, student_terms
from ..i18n import N_
from ..tables import attempts, exams
from . import attempts as attempt_service
from . import uptime
from .audit import record
from .authority import attempt as attempt_resource
from .authority import authorize
from .live_view import live_attempt
from .upsert import insert_ignore

_FOR_ACTION = (
    select(
        attempts.c.id,
        attempts.c.exam_id,
        attempts.c.student_id,
        attempts.c.status,
        attempts.c.started_at,
        attempts.c.deadline_at,
        attempts.c.submitted_at,
        exams.c.closes_at,
        student_terms.c.closes_at.label("personal_closes_at"),
        attempt_live.c.paused_at,
        attempt_live.c.paused_total_s,
        attempt_live.c.granted_s,
        attempt_live.c.downtime_credited_s,
        attempt_live.c.bound_session,
    )
    .select_from(
        attempts.join(exams, exams.c.id == attempts.c.exam_id)
        .outerjoin(attempt_live, attempt_live.c.attempt_id == attempts.c.id)
        .outerjoin(
            student_terms,
            and_(student_terms.c.exam_id == attempts.c.exam_id, student_terms.c.student_id == attempts.c.student_id),
        )
    )
    .where(attempts.c.id == bindparam("attempt_id"))
    .with_for_update(of=attempts)
)


async def _lock(conn: AsyncConnection, attempt_id: uuid.UUID) -> Any:
    row = (await conn.execute(_FOR_ACTION, {"attempt_id": attempt_id})).first()
    if row is None:
        raise NotFound("attempt_not_found", N_("No such attempt."))
    # Attempts started before exam day have no live row; every action below may update it.
    await conn.execute(insert_ignore(conn, attempt_live, {"attempt_id": attempt_id}, ["attempt_id"]))
    return row


def _require_open(row: Any) -> AttemptStatus:
    status = AttemptStatus(row.status)
    if status not in rules.OPEN_STATUSES:
        raise Conflict("attempt_finished", N_("This attempt is already finished."))
    return status


def _require_clock(row: Any) -> None:
    """Pause and extra time act on a running clock; in the checks before the exam there is none yet."""
    if row.status == AttemptStatus.CHECKS:
        raise Conflict(
            "attempt_in_checks",
            N_("This student's time has not started yet (the checks before the exam): let them in first."),
        )


async def _live_update(conn: AsyncConnection, attempt_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(update(attempt_live).where(attempt_live.c.attempt_id == attempt_id).values(**values))


async def _set_attempt(conn: AsyncConnection, attempt_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(update(attempts).where(attempts.c.id == attempt_id).values(**values))


async def pause(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, reason: str, now: datetime) -> dict:
    await authorize(conn, actor, Permission.LIVE_CONTROL, attempt_resource(attempt_id))
    reason = exam_day.check_reason(reason)
    row = await _lock(conn, attempt_id)
    _require_clock(row)
    rules.check_can_pause(AttemptStatus(row.status), row.deadline_at, now)
    rules.check_transition(AttemptStatus(row.status), AttemptStatus.PAUSED)
    await _set_attempt(conn, attempt_id, status=AttemptStatus.PAUSED.value)
    await _live_update(conn, attempt_id, paused_at=now)
    await record(
        conn,
        now,
        actor,
        "attempt.paused",
        f"attempt:{attempt_id}",
        {"status": row.status},
        {
            "status": AttemptStatus.PAUSED.value,
            "remaining_s": (row.deadline_at - now).total_seconds(),
            "reason": reason,
        },
    )
    return await live_attempt(conn, attempt_id, now=now)


async def resume(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, reason: str, now: datetime) -> dict:
    await authorize(conn, actor, Permission.LIVE_CONTROL, attempt_resource(attempt_id))
    reason = exam_day.check_reason(reason)
    row = await _lock(conn, attempt_id)
    if row.status != AttemptStatus.PAUSED:
        raise Conflict("attempt_not_paused", N_("This attempt is not paused."))
    paused_at = row.paused_at or now
    deadline = rules.resumed_deadline(row.deadline_at, paused_at, now)
    paused_s = (now - paused_at).total_seconds()
    await _set_attempt(conn, attempt_id, status=AttemptStatus.IN_PROGRESS.value, deadline_at=deadline)
    await _live_update(conn, attempt_id, paused_at=None, paused_total_s=(row.paused_total_s or 0) + paused_s)
    await record(
        conn,
        now,
        actor,
        "attempt.resumed",
        f"attempt:{attempt_id}",
        {"status": row.status, "deadline_at": row.deadline_at},
        {"status": AttemptStatus.IN_PROGRESS.value, "deadline_at": deadline, "paused_s": paused_s, "reason": reason},
    )
    return await live_attempt(conn, attempt_id, now=now)


async def _move_deadline(
    conn: AsyncConnection, actor: Actor, row: Any, add_s: int, *, widen_window: bool, now: datetime
) -> tuple[datetime, int]:
    """Move the deadline by up to ``add_s``; returns the new deadline and the seconds actually granted."""
    window_close = row.personal_closes_at or row.closes_at
    paused_s = row.paused_total_s or 0
    wanted = row.deadline_at + timedelta(seconds=add_s)
    cap = exam_day.grant_cap(window_close, paused_s)
    if widen_window and wanted > cap:
        actor.require(Permission.MANAGE_EXAMS)  # only the academic administrator widens a window
        new_close = wanted - timedelta(seconds=paused_s)
        await _widen(conn, actor, row, window_close, new_close, now=now)
        cap = wanted
    deadline = rules.granted_deadline(row.deadline_at, add_s, cap)
    exam_day.check_window_cap(row.deadline_at, deadline)
    await _set_attempt(conn, row.id, deadline_at=deadline)
    return deadline, round((deadline - row.deadline_at).total_seconds())


async def _widen(
    conn: AsyncConnection, actor: Actor, row: Any, old_close: datetime, new_close: datetime, *, now: datetime
) -> None:
    values = {"closes_at": new_close, "updated_by": actor.label, "updated_at": now}
    inserted = (
        await conn.execute(
            insert_ignore(
                conn,
                student_terms,
                {
                    "exam_id": row.exam_id,
                    "student_id": row.student_id,
                    "reason": "window widened for extra time",
                    **values,
                },
                ["exam_id", "student_id"],
            )
        )
    ).rowcount
    if not inserted:
        await conn.execute(
            update(student_terms)
            .where(student_terms.c.exam_id == row.exam_id, student_terms.c.student_id == row.student_id)
            .values(**values)
        )
    await record(
        conn,
        now,
        actor,
        "exam.window_widened",
        f"exam:{row.exam_id}",
        {"student_id": row.student_id, "closes_at": old_close},
        {"student_id": row.student_id, "closes_at": new_close},
    )


async def grant_time(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    minutes: int,
    reason: str,
    now: datetime,
    widen_window: bool = False,
    seen_deadline: datetime | None = None,
) -> dict:
    """Extra minutes for one attempt (a documented technical failure); the deadline stays server-owned.

    ``seen_deadline``: the deadline the proctor's form showed. When the deadline has moved since (the
    same form sent twice, another proctor's grant for the same failure, a pause), nothing is granted:
    each grant is added to the deadline, so a resent form would add its minutes again."""
    await authorize(conn, actor, Permission.LIVE_CONTROL, attempt_resource(attempt_id))
    reason = exam_day.check_reason(reason)
    minutes = exam_day.check_grant_minutes(minutes)
    row = await _lock(conn, attempt_id)
    _require_open(row)
    _require_clock(row)
    if seen_deadline is not None and seen_deadline != row.deadline_at:
        raise Conflict(
            "attempt_time_changed",
            N_(
                "The student's time changed after this form was opened (another grant, a pause, or this form "
                "sent twice): nothing was granted now. Check the time left and send again if it is still needed."
            ),
        )
    deadline, granted = await _move_deadline(conn, actor, row, minutes * 60, widen_window=widen_window, now=now)
    await _live_update(conn, attempt_id, granted_s=(row.granted_s or 0) + granted)
    await record(
        conn,
        now,
        actor,
        "attempt.time_granted",
        f"attempt:{attempt_id}",
        {"deadline_at": row.deadline_at},
        {"deadline_at": deadline, "requested_s": minutes * 60, "granted_s": granted, "reason": reason},
    )
    return await live_attempt(conn, attempt_id, now=now)


async def credit_downtime(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
    widen_window: bool = False,
) -> dict:
    """Grant the measured server downtime during this attempt that is not credited yet."""
    await authorize(conn, actor, Permission.LIVE_CONTROL, attempt_resource(attempt_id))
    reason = exam_day.check_reason(reason)
    row = await _lock(conn, attempt_id)
    _require_open(row)
    _require_clock(row)
    gaps = await uptime.measure(conn, row.started_at, now)
    owed = exam_day.creditable_s(gaps, row.downtime_credited_s or 0)
    if owed <= 0:
        raise Conflict("no_downtime_to_credit", N_("No uncredited server downtime was measured during this attempt."))
    deadline, granted = await _move_deadline(conn, actor, row, owed, widen_window=widen_window, now=now)
    await _live_update(
        conn,
        attempt_id,
        downtime_credited_s=(row.downtime_credited_s or 0) + granted,
        granted_s=(row.granted_s or 0) + granted,
    )
    await record(
        conn,
        now,
        actor,
        "attempt.downtime_credited",
        f"attempt:{attempt_id}",
        {"deadline_at": row.deadline_at},
        {
            "deadline_at": deadline,
            "measured_s": owed,
            "granted_s": granted,
            "reason": reason,
            "gaps": [[g.start, g.end] for g in gaps],
        },
    )
    return await live_attempt(conn, attempt_id, now=now)


async def terminate(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, reason: str, now: datetime, grace_s: float
) -> dict:
    """A violation: finish the attempt now (if still open) and annul it (unsatisfactory, raw score kept)."""
    await authorize(conn, actor, Permission.LIVE_CONTROL, attempt_resource(attempt_id))
    reason = exam_day.check_reason(reason)
    row = await _lock(conn, attempt_id)
    if row.status in rules.OPEN_STATUSES:
        timed_out = row.status == AttemptStatus.IN_PROGRESS and rules.is_expired(row.deadline_at, now, grace_s)
        await attempt_service.finalise(
            conn,
            [attempt_id],
            now=now,
            timed_out=timed_out,
            actor=actor,
            locked=True,
            finished_by=rules.FinishedBy.PROCTOR,
        )
    changed = await attempt_service.annul(conn, attempt_id, actor=actor, reason=reason, now=now)
    if changed:
        await record(
            conn,
            now,
            actor,
            "attempt.terminated",
            f"attempt:{attempt_id}",
            {"status": row.status},
            {"status": AttemptStatus.ANNULLED.value, "reason": reason},
        )
    return await live_attempt(conn, attempt_id, now=now)


async def release_device(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, reason: str, now: datetime
) -> dict:
    """ "Move to another device": the old session loses the attempt; the student's next session claims it."""
    await authorize(conn, actor, Permission.LIVE_CONTROL, attempt_resource(attempt_id))
    reason = exam_day.check_reason(reason)
    row = await _lock(conn, attempt_id)
    _require_open(row)
    if row.bound_session is None:
        # Already released (the same form sent twice) or never opened: nothing to move. Overwriting
        # ``released_session`` with "none" would let the browser the attempt left take it back.
        return await live_attempt(conn, attempt_id, now=now)
    await _live_update(conn, attempt_id, bound_session=None, released_session=row.bound_session)
    await record(
        conn,
        now,
        actor,
        "attempt.device_released",
        f"attempt:{attempt_id}",
        {"bound": row.bound_session is not None},
        {"bound": False, "reason": reason},
    )
    return await live_attempt(conn, attempt_id, now=now)
