"""The device checks before a proctored exam's clock starts (issue 20).

A proctored exam's attempt is created in ``checks``: the student is bound to it (one attempt,
E2, as ever), consents, shows a face to the camera, takes the identity photo and scans the room
— and none of this eats their exam time. The clock starts in :func:`begin`, when the server
finds every check passed, or in :func:`admit`, when a proctor lets in a student who cannot pass
them (a reason required, audited). The deadline is fixed at that moment:
``min(now + duration + extra time, window close)``.

While in ``checks`` the attempt's ``deadline_at`` holds its window close: the sweeper times out
an attempt still in its checks when the window closes (its second, tiny partial index), never
earlier. The camera check is server-side: the frame the page sends is searched for a face with
the same detector as the proctoring analysis (``proctor.analysis``), in a thread.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from proctor.settings import ProctorSettings
from proctor.tables import evidence_items, proctor_attempts

from ..domain import attempts as rules
from ..domain import exam_day
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus
from ..domain.roles import Permission
from ..errors import Conflict, NotFound
from ..exam_day_tables import attempt_live, student_terms
from ..i18n import N_
from ..tables import accommodations, attempts, exams
from . import attempt_binding as binding
from .audit import record
from .authority import attempt as attempt_resource
from .authority import authorize
from .upsert import insert_ignore

CAMERA_REASONS = ("ok", "no_face", "several_faces", "dark", "covered")
CAMERA_CHECK_VALID_S = 600
"""A passed camera check counts for this long: a face seen an hour ago says nothing about now."""


def camera_passed(camera: dict[str, Any] | None, now: datetime) -> bool:
    """Pure: the last camera check found a face, recently enough."""
    if not camera or not camera.get("ok"):
        return False
    try:
        at = datetime.fromisoformat(str(camera.get("at")))
    except ValueError:
        return False
    return 0 <= (now - at).total_seconds() <= CAMERA_CHECK_VALID_S


_FOR_BEGIN = (
    select(
        attempts.c.id,
        attempts.c.student_id,
        attempts.c.exam_id,
        attempts.c.status,
        attempts.c.started_at,
        attempts.c.deadline_at,
        exams.c.duration_s,
        exams.c.closes_at,
        accommodations.c.extra_s,
        student_terms.c.closes_at.label("personal_closes_at"),
        student_terms.c.multiplier_pct,
        *binding.LIVE_COLUMNS,
        attempt_live.c.camera_check,
    )
    .select_from(
        binding.live_join(attempts)
        .join(exams, exams.c.id == attempts.c.exam_id)
        .outerjoin(
            accommodations,
            and_(accommodations.c.exam_id == attempts.c.exam_id, accommodations.c.student_id == attempts.c.student_id),
        )
        .outerjoin(
            student_terms,
            and_(student_terms.c.exam_id == attempts.c.exam_id, student_terms.c.student_id == attempts.c.student_id),
        )
    )
    .where(attempts.c.id == bindparam("attempt_id"))
    .with_for_update(of=attempts)
)


class ChecksIncomplete(Conflict):
    """A check is missing; the failure is counted in the transaction (commit it, then refuse)."""


def _not_found() -> NotFound:
    return NotFound("attempt_not_found", N_("No such attempt."))


def clock_deadline(row: Any, now: datetime) -> datetime:
    """The deadline fixed when the clock starts: the exam's duration plus this student's extra time,
    never past their window close (``deadline_at`` of a checks attempt is that close)."""
    extra = rules.accommodated_extra_s(row.duration_s, row.extra_s or 0, row.multiplier_pct or 100)
    close = row.personal_closes_at or row.closes_at
    return rules.compute_deadline(now, row.duration_s, extra, min(close, row.deadline_at))


async def _start_clock(
    conn: AsyncConnection, actor: Actor | str, row: Any, *, now: datetime, action: str, reason: str | None
) -> datetime:
    if now >= row.deadline_at:
        raise Conflict(
            "exam_closed", N_("The exam window closed at {closes_at}."), closes_at=row.deadline_at.isoformat()
        )
    deadline = clock_deadline(row, now)
    await conn.execute(
        update(attempts)
        .where(attempts.c.id == row.id)
        .where(attempts.c.status == AttemptStatus.CHECKS.value)
        .values(status=AttemptStatus.IN_PROGRESS.value, started_at=now, deadline_at=deadline)
    )
    await conn.execute(insert_ignore(conn, attempt_live, {"attempt_id": row.id}, ["attempt_id"]))
    await conn.execute(update(attempt_live).where(attempt_live.c.attempt_id == row.id).values(checks_passed_at=now))
    after: dict[str, Any] = {"status": AttemptStatus.IN_PROGRESS.value, "started_at": now, "deadline_at": deadline}
    if reason is not None:
        after["reason"] = reason
    await record(
        conn,
        now,
        actor,
        action,
        f"attempt:{row.id}",
        {"status": row.status, "checks_started_at": row.started_at},
        after,
    )
    return deadline


async def _missing_check(conn: AsyncConnection, row: Any, settings: dict[str, Any], now: datetime) -> Conflict | None:
    """The first check not passed yet, as the refusal the student reads; None when all passed."""
    state = (
        await conn.execute(select(proctor_attempts.c.enrolment_state).where(proctor_attempts.c.attempt_id == row.id))
    ).first()
    if state is None:
        return Conflict("consent_required", N_("Give your consent to proctoring first."))
    if not camera_passed(row.camera_check, now):
        return Conflict(
            "camera_check_required",
            N_("The camera check has not passed: your face must be clearly visible in the camera."),
        )
    if state.enrolment_state not in ("usable", "pending"):
        return Conflict(
            "identity_photo_required",
            N_("The identity photo has not been accepted: take it again with your face clearly visible."),
        )
    if settings.get("room_scan_at_start"):
        scanned = (
            await conn.execute(
                select(evidence_items.c.seq)
                .where(evidence_items.c.attempt_id == row.id, evidence_items.c.kind == "roomscan")
                .limit(1)
            )
        ).first()
        if scanned is None:
            return Conflict("room_scan_required", N_("Show the room with the camera first."))
    return None


async def _lock_own(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, session: str | None, now: datetime
) -> Any:
    actor.require(Permission.SIT_EXAM)
    row = (await conn.execute(_FOR_BEGIN, {"attempt_id": attempt_id})).first()
    if row is None or row.student_id != actor.user_id:
        raise _not_found()
    if row.status in rules.OPEN_STATUSES:
        await binding.enforce(conn, actor, attempt_id, row, session, now=now)
    return row


async def begin(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    capture_settings: dict[str, Any],
    now: datetime,
    session: str | None = None,
) -> bool:
    """The student's "checks done, start my time": True if the clock started now, False if it had
    already started (repeating is harmless). Refused, naming the first missing check, otherwise."""
    row = await _lock_own(conn, actor, attempt_id, session, now)
    if row.status != AttemptStatus.CHECKS:
        if row.status in rules.OPEN_STATUSES:
            return False
        raise Conflict("attempt_finished", N_("This attempt is already finished."))
    missing = await _missing_check(conn, row, capture_settings, now)
    if missing is not None:
        await _count_failure(conn, attempt_id)
        raise ChecksIncomplete(missing.code, missing.msgid, **missing.params)
    await _start_clock(conn, actor, row, now=now, action="attempt.checks_passed", reason=None)
    return True


async def admit(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, reason: str, now: datetime) -> None:
    """A proctor lets a student in whose checks do not pass (camera, photo): the clock starts now."""
    await authorize(conn, actor, Permission.LIVE_CONTROL, attempt_resource(attempt_id))
    reason = exam_day.check_reason(reason)
    row = (await conn.execute(_FOR_BEGIN, {"attempt_id": attempt_id})).first()
    if row is None:
        raise _not_found()
    if row.status != AttemptStatus.CHECKS:
        raise Conflict("attempt_not_in_checks", N_("This student is not in the checks before the exam."))
    await _start_clock(conn, actor, row, now=now, action="attempt.admitted", reason=reason)


async def _count_failure(conn: AsyncConnection, attempt_id: uuid.UUID) -> None:
    await conn.execute(insert_ignore(conn, attempt_live, {"attempt_id": attempt_id}, ["attempt_id"]))
    await conn.execute(
        update(attempt_live)
        .where(attempt_live.c.attempt_id == attempt_id)
        .values(failed_checks=attempt_live.c.failed_checks + 1)
    )


def camera_verdict(jpeg: bytes, settings: ProctorSettings) -> dict[str, Any]:
    """Pure (CPU): what the check frame shows — one lit face, or why not."""
    from proctor.analysis.frame import analyze_frame
    from proctor.kinds import FlagKind

    report = analyze_frame(jpeg, settings)
    if FlagKind.CAMERA_COVERED in report.found:
        reason = "covered"
    elif FlagKind.CAMERA_DARK in report.found:
        reason = "dark"
    elif report.face_count == 0:
        reason = "no_face"
    elif report.face_count > 1:
        reason = "several_faces"
    else:
        reason = "ok"
    return {"ok": reason == "ok", "reason": reason, "faces": report.face_count}


async def camera_check(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    jpeg: bytes,
    *,
    settings: ProctorSettings,
    now: datetime,
    session: str | None = None,
) -> dict[str, Any]:
    """The server looks at a frame of the student's camera: a face must be there (not brightness
    alone). The verdict is kept on the attempt (the begin step and the live view read it); a
    failure counts towards "needs help"."""
    actor.require(Permission.SIT_EXAM)
    verdict = await asyncio.to_thread(camera_verdict, jpeg, settings)  # before any lock is taken
    verdict["at"] = now.isoformat()
    row = await _lock_own(conn, actor, attempt_id, session, now)
    if row.status not in rules.OPEN_STATUSES:
        raise Conflict("attempt_finished", N_("This attempt is already finished."))
    await conn.execute(insert_ignore(conn, attempt_live, {"attempt_id": attempt_id}, ["attempt_id"]))
    values: dict[str, Any] = {"camera_check": verdict}
    if not verdict["ok"]:
        values["failed_checks"] = attempt_live.c.failed_checks + 1
    await conn.execute(update(attempt_live).where(attempt_live.c.attempt_id == attempt_id).values(**values))
    return verdict
