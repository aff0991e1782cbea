"""The proctor's side: live list, review queue, timeline, evidence views, flags, decisions.

Every view of evidence by a person writes an audit row (who, which item, which
variant). A decision is never overwritten: each is a new row naming the one it
overrules, and only another reviewer may overrule. "violation" annuls the attempt
through :func:`exam_engine.services.attempts.annul` (finalising it first if it is
still running), which sends the journal a newer result event.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from proctor.burst import unpack_burst
from proctor.errors import EvidenceUnreadable
from proctor.findings import refresh_risk
from proctor.kinds import TITLES, FlagKind
from proctor.runtime import ProctorRuntime
from proctor.store import ItemKind
from proctor.tables import (
    evidence_items,
    proctor_attempts,
    proctor_decisions,
    proctor_flags,
    proctor_requests,
    proctor_signals,
)

from ..domain import attempts as rules
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus
from ..domain.roles import Permission
from ..errors import Conflict, InvalidInput, NotFound
from ..i18n import N_, translate
from ..tables import attempts, exams, users
from . import attempts as attempt_service
from . import authority
from .audit import record
from .authority import authorize

THUMB_WIDTH = 160


class Decision(StrEnum):
    CLEAN = "clean"
    SUSPICIOUS = "suspicious"
    VIOLATION = "violation"


def _not_proctored() -> NotFound:
    return NotFound("proctoring_not_found", N_("This attempt has no proctoring record."))


async def _proctor_row(conn: AsyncConnection, attempt_id: uuid.UUID, *, lock: bool = False) -> Any:
    stmt = select(proctor_attempts).where(proctor_attempts.c.attempt_id == attempt_id)
    row = (await conn.execute(stmt.with_for_update() if lock else stmt)).first()
    if row is None:
        raise _not_proctored()
    return row


def _flag_dict(row: Any, language: str, started_at: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": translate(language, TITLES[FlagKind(row.kind)]),
        "severity": row.severity,
        "start_s": row.start_ms / 1000,
        "end_s": row.end_ms / 1000,
        "start_at": (started_at + timedelta(milliseconds=row.start_ms)).isoformat(),
        "end_at": (started_at + timedelta(milliseconds=row.end_ms)).isoformat(),
        "count": row.count,
        "occurrence": row.occurrence,
        "peak": row.peak,
        "evidence_seqs": row.evidence_seqs,
        "status": row.status,
        "reviewed_by": row.reviewed_by,
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
        "note": row.note,
    }


_LISTED = select(
    attempts.c.id,
    attempts.c.status,
    attempts.c.started_at,
    attempts.c.deadline_at,
    users.c.login,
    users.c.full_name,
    exams.c.title,
    proctor_attempts.c.risk_score,
    proctor_attempts.c.flag_count,
    proctor_attempts.c.frames_received,
    proctor_attempts.c.frames_analysed,
    proctor_attempts.c.last_item_at,
    proctor_attempts.c.review_state,
    proctor_attempts.c.enrolment_state,
).select_from(
    attempts.join(users, users.c.id == attempts.c.student_id)
    .join(exams, exams.c.id == attempts.c.exam_id)
    .outerjoin(proctor_attempts, proctor_attempts.c.attempt_id == attempts.c.id)
)


async def _listing(conn: AsyncConnection, rows: list[Any], language: str, latest: int) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    flags: dict[uuid.UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    starts = {r.id: r.started_at for r in rows}
    if ids and latest:
        for f in await conn.execute(
            select(proctor_flags).where(proctor_flags.c.attempt_id.in_(ids)).order_by(proctor_flags.c.start_ms.desc())
        ):
            if len(flags[f.attempt_id]) < latest:
                flags[f.attempt_id].append(_flag_dict(f, language, starts[f.attempt_id]))
    return [
        {
            "attempt_id": str(r.id),
            "status": r.status,
            "student": {"login": r.login, "full_name": r.full_name},
            "exam": r.title,
            "started_at": r.started_at.isoformat(),
            "deadline_at": r.deadline_at.isoformat(),
            "proctored": r.review_state is not None,
            "risk_score": r.risk_score or 0,
            "flag_count": r.flag_count or 0,
            "frames_received": r.frames_received or 0,
            "frames_analysed": r.frames_analysed or 0,
            "last_item_at": r.last_item_at.isoformat() if r.last_item_at else None,
            "review_state": r.review_state,
            "enrolment_state": r.enrolment_state,
            "latest_flags": flags[r.id],
        }
        for r in rows
    ]


def _within(exam_ids: list[int] | None, stmt: Any) -> Any:
    """Only the attempts of these exams (a proctor's assigned ones); None: every exam."""
    return stmt if exam_ids is None else stmt.where(attempts.c.exam_id.in_(exam_ids))


async def live(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    """Attempts running now that are (or must be) proctored, riskiest first, with their latest flags."""
    await authorize(conn, actor, Permission.PROCTOR_REVIEW)
    rows = (
        await conn.execute(
            _within(
                await authority.exam_ids_in_reach(conn, actor),
                _LISTED.where(attempts.c.status == AttemptStatus.IN_PROGRESS.value).where(
                    or_(exams.c.requires_proctoring.is_(True), proctor_attempts.c.attempt_id.is_not(None))
                ),
            ).order_by(proctor_attempts.c.risk_score.desc(), attempts.c.started_at)
        )
    ).all()
    return await _listing(conn, rows, actor.language, latest=3)


async def queue(conn: AsyncConnection, actor: Actor, *, limit: int = 200) -> list[dict[str, Any]]:
    """Attempts awaiting a review (flagged, or under appeal), highest risk first."""
    await authorize(conn, actor, Permission.PROCTOR_REVIEW)
    rows = (
        await conn.execute(
            _within(await authority.exam_ids_in_reach(conn, actor), _LISTED)
            .where(proctor_attempts.c.review_state.in_(("pending", "appeal")))
            .order_by(proctor_attempts.c.risk_score.desc(), proctor_attempts.c.flag_count.desc())
            .limit(limit)
        )
    ).all()
    return await _listing(conn, rows, actor.language, latest=3)


async def timeline(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, now: datetime) -> dict[str, Any]:
    """Items, events, flags, decisions and requests of one attempt, on its time line."""
    await authorize(conn, actor, Permission.PROCTOR_REVIEW, authority.attempt(attempt_id))
    state = await _proctor_row(conn, attempt_id)
    listed = await _listing(
        conn, (await conn.execute(_LISTED.where(attempts.c.id == attempt_id))).all(), actor.language, latest=0
    )
    signals = {
        s.evidence_seq: s
        for s in await conn.execute(select(proctor_signals).where(proctor_signals.c.attempt_id == attempt_id))
    }
    items = []
    for row in await conn.execute(
        select(evidence_items).where(evidence_items.c.attempt_id == attempt_id).order_by(evidence_items.c.seq)
    ):
        signal = signals.get(row.seq)
        base = f"/api/v1/proctor/attempts/{attempt_id}/evidence/{row.seq}"
        items.append(
            {
                "seq": row.seq,
                "kind": row.kind,
                "client_seq": row.client_seq,
                "at": row.at,
                "trigger": row.trigger,
                "t": (row.received_at - state.started_at).total_seconds(),
                "size": row.size,
                "media_type": row.media_type,
                "analysed": row.analysed,
                "findings": signal.found if signal else [],
                "summary": signal.data if signal else None,
                "event": {"kind": signal.kind, "duration_s": signal.duration} if signal and signal.kind else None,
                "url": base,
                "thumb_url": base + "?thumb=1"
                if row.kind in (ItemKind.FRAME, ItemKind.SCREEN, ItemKind.ENROLMENT)
                else None,
            }
        )
    flags = [
        _flag_dict(f, actor.language, state.started_at)
        for f in await conn.execute(
            select(proctor_flags).where(proctor_flags.c.attempt_id == attempt_id).order_by(proctor_flags.c.start_ms)
        )
    ]
    decisions = [
        {
            "id": d.id,
            "decision": d.decision,
            "reason": d.reason,
            "reviewer": d.reviewer,
            "decided_at": d.decided_at.isoformat(),
            "overrules": d.overrules,
        }
        for d in await conn.execute(
            select(proctor_decisions)
            .where(proctor_decisions.c.attempt_id == attempt_id)
            .order_by(proctor_decisions.c.id)
        )
    ]
    requests = [
        {
            "id": r.id,
            "kind": r.kind,
            "requested_by": r.requested_by,
            "requested_at": r.requested_at.isoformat(),
            "fulfilled_seq": r.fulfilled_seq,
            "fulfilled_at": r.fulfilled_at.isoformat() if r.fulfilled_at else None,
        }
        for r in await conn.execute(
            select(proctor_requests).where(proctor_requests.c.attempt_id == attempt_id).order_by(proctor_requests.c.id)
        )
    ]
    await record(conn, now, actor, "evidence.timeline_viewed", f"attempt:{attempt_id}", None, {"items": len(items)})
    return {
        "attempt": listed[0] if listed else None,
        "risk_score": state.risk_score,
        "review_state": state.review_state,
        "purged_at": state.purged_at.isoformat() if state.purged_at else None,
        "consent": state.consent,
        "items": items,
        "flags": flags,
        "decisions": decisions,
        "requests": requests,
    }


def _thumbnail(jpeg: bytes) -> bytes:
    import cv2  # here, not at import: a server start does not need OpenCV
    import numpy as np

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    height = max(1, round(image.shape[0] * THUMB_WIDTH / image.shape[1]))
    ok, buf = cv2.imencode(
        ".jpg", cv2.resize(image, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 75]
    )
    return buf.tobytes()


async def view_evidence(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    seq: int,
    *,
    thumb: bool,
    frame: int | None,
    now: datetime,
) -> tuple[bytes, str]:
    """One item's content (or its thumbnail, or one frame of a room scan); the view is audited."""
    await authorize(conn, actor, Permission.PROCTOR_REVIEW, authority.attempt(attempt_id))
    await _proctor_row(conn, attempt_id)
    try:
        found = await runtime.store.read(conn, attempt_id, seq)
    except EvidenceUnreadable:
        raise Conflict("evidence_unreadable", N_("Evidence item {seq} cannot be decrypted"), seq=seq) from None
    if found is None:
        raise NotFound("evidence_not_found", N_("No such evidence item."))
    row, content = found
    media = row.media_type
    if row.kind == ItemKind.ROOMSCAN and frame is not None:
        frames = unpack_burst(content)
        if not 0 <= frame < len(frames):
            raise NotFound("evidence_not_found", N_("No such evidence item."))
        content, media = frames[frame], "image/jpeg"
    if thumb and media == "image/jpeg":
        content = await asyncio.to_thread(_thumbnail, content)
    await record(
        conn,
        now,
        actor,
        "evidence.viewed",
        f"attempt:{attempt_id}",
        None,
        {"seq": seq, "kind": row.kind, "thumb": thumb, "frame": frame},
    )
    return content, media


async def review_flag(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    flag_id: int,
    status: str,
    note: str | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    await authorize(conn, actor, Permission.PROCTOR_REVIEW, authority.flag(flag_id))
    if status not in ("confirmed", "dismissed"):
        raise InvalidInput("flag_status_invalid", N_("A flag is either confirmed or dismissed."))
    row = (await conn.execute(select(proctor_flags).where(proctor_flags.c.id == flag_id))).first()
    if row is None:
        raise NotFound("flag_not_found", N_("No such flag."))
    await _proctor_row(conn, row.attempt_id, lock=True)
    await conn.execute(
        update(proctor_flags)
        .where(proctor_flags.c.id == flag_id)
        .values(status=status, reviewed_by=actor.label, reviewed_at=now, note=(note or "")[:2000] or None)
    )
    await refresh_risk(conn, row.attempt_id, runtime.settings)
    await record(
        conn,
        now,
        actor,
        f"proctor.flag_{status}",
        f"attempt:{row.attempt_id}",
        {"flag": flag_id, "status": row.status},
        {"flag": flag_id, "status": status, "note": note},
    )
    return {"id": flag_id, "status": status, "reviewed_by": actor.label, "reviewed_at": now.isoformat()}


async def decide(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    decision: str,
    reason: str,
    *,
    now: datetime,
    grace_s: float,
    seen_latest: int | None = None,
) -> dict[str, Any]:
    """Record a decision; "violation" annuls the attempt (finalised first if still running).

    ``seen_latest``: the id of the newest decision the reviewer's page showed (0: none). When another
    was recorded since — a second reviewer at the same time, or the same form sent twice — nothing is
    recorded: a decision overrules only what its reviewer has read."""
    await authorize(conn, actor, Permission.PROCTOR_REVIEW, authority.attempt(attempt_id))
    try:
        verdict = Decision(decision)
    except ValueError:
        raise InvalidInput("decision_invalid", N_("The decision must be clean, suspicious or violation.")) from None
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason_required", N_("Give the reason."))
    await _proctor_row(conn, attempt_id, lock=True)
    latest = (
        await conn.execute(
            select(proctor_decisions)
            .where(proctor_decisions.c.attempt_id == attempt_id)
            .order_by(proctor_decisions.c.id.desc())
            .limit(1)
        )
    ).first()
    if seen_latest is not None and seen_latest != (latest.id if latest is not None else 0):
        raise Conflict(
            "decision_changed",
            N_(
                "Another decision was recorded after this page was opened (or this form was sent twice); it is "
                "shown in the list. Nothing was recorded now: read it, then decide again if needed."
            ),
        )
    if latest is not None:
        if latest.decision == Decision.VIOLATION:
            raise Conflict(
                "violation_final", N_("The attempt was annulled for a violation; that decision cannot be changed.")
            )
        if latest.reviewer == actor.label:
            raise Conflict("second_reviewer_required", N_("Another reviewer must overrule your decision."))
    new_id = (
        await conn.execute(
            proctor_decisions.insert()
            .values(
                attempt_id=attempt_id,
                decision=verdict.value,
                reason=reason[:4000],
                reviewer=actor.label,
                decided_at=now,
                overrules=latest.id if latest else None,
            )
            .returning(proctor_decisions.c.id)
        )
    ).scalar_one()
    await conn.execute(
        update(proctor_attempts).where(proctor_attempts.c.attempt_id == attempt_id).values(review_state="decided")
    )
    await record(
        conn,
        now,
        actor,
        "proctor.decision",
        f"attempt:{attempt_id}",
        None if latest is None else {"decision": latest.decision, "reviewer": latest.reviewer},
        {"decision": verdict.value, "reason": reason},
    )
    if verdict is Decision.VIOLATION:
        att = (
            await conn.execute(
                select(attempts.c.status, attempts.c.deadline_at).where(attempts.c.id == attempt_id).with_for_update()
            )
        ).one()
        if att.status == AttemptStatus.IN_PROGRESS:
            await attempt_service.finalise(
                conn,
                [attempt_id],
                now=now,
                actor=actor,
                locked=True,
                timed_out=rules.is_expired(att.deadline_at, now, grace_s),
            )
        await attempt_service.annul(conn, attempt_id, actor=actor, reason=reason, now=now)
    return {
        "id": new_id,
        "decision": verdict.value,
        "reviewer": actor.label,
        "decided_at": now.isoformat(),
        "overrules": latest.id if latest else None,
    }


async def request_room_scan(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, now: datetime
) -> dict[str, Any]:
    """A live request the student's page picks up at its next heartbeat."""
    await authorize(conn, actor, Permission.PROCTOR_REVIEW, authority.attempt(attempt_id))
    await _proctor_row(conn, attempt_id)
    running = (await conn.execute(select(attempts.c.status).where(attempts.c.id == attempt_id))).scalar()
    if running != AttemptStatus.IN_PROGRESS:
        raise Conflict("attempt_finished", N_("This attempt is already finished."))
    open_request = (
        await conn.execute(
            select(proctor_requests.c.id).where(
                and_(proctor_requests.c.attempt_id == attempt_id, proctor_requests.c.fulfilled_at.is_(None))
            )
        )
    ).scalar()
    if open_request is None:
        open_request = (
            await conn.execute(
                proctor_requests.insert()
                .values(attempt_id=attempt_id, kind="room_scan", requested_by=actor.label, requested_at=now)
                .returning(proctor_requests.c.id)
            )
        ).scalar_one()
        await record(conn, now, actor, "proctor.room_scan_requested", f"attempt:{attempt_id}")
    return {"id": open_request, "kind": "room_scan", "pending": True}


async def mark_appeal(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, reason: str, *, now: datetime
) -> dict[str, Any]:
    """An appeal was filed: the attempt goes back to the queue and its evidence is kept."""
    await authorize(conn, actor, Permission.PROCTOR_REVIEW, authority.attempt(attempt_id))
    if not reason.strip():
        raise InvalidInput("reason_required", N_("Give the reason."))
    row = await _proctor_row(conn, attempt_id, lock=True)
    await conn.execute(
        update(proctor_attempts).where(proctor_attempts.c.attempt_id == attempt_id).values(review_state="appeal")
    )
    await record(
        conn,
        now,
        actor,
        "proctor.appeal",
        f"attempt:{attempt_id}",
        {"review_state": row.review_state},
        {"review_state": "appeal", "reason": reason.strip()},
    )
    return {"review_state": "appeal"}
