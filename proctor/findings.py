"""Analysis results and browser signals into rows; rows into flags and a risk score.

Called in the transaction that stores a result, so flags and risk never lag the
signals they come from. The rules are the pure ones of :mod:`proctor.flags`; this
module only loads and stores around them. Flags are rebuilt from all of an
attempt's signals each time (a few thousand rows at most for a long exam) and
matched to stored flags by (kind, start), so a proctor's review of a flag survives.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from proctor.flags import Flag, attempt_flags, risk_score
from proctor.kinds import FlagKind, Severity
from proctor.settings import ProctorSettings
from proctor.signals import BrowserEvent, FrameObservation, NoiseSample
from proctor.store import EvidenceStore, ItemKind
from proctor.tables import evidence_items, proctor_attempts, proctor_flags, proctor_signals

_OBSERVED = ("frame", "screen", "roomscan")


async def _attempt_t(conn: AsyncConnection, attempt_id: uuid.UUID, at: datetime) -> float:
    started = (
        await conn.execute(select(proctor_attempts.c.started_at).where(proctor_attempts.c.attempt_id == attempt_id))
    ).scalar_one()
    return (at - started).total_seconds()


async def _stillness(
    conn: AsyncConnection,
    store: EvidenceStore,
    data_key: bytes,
    attempt_id: uuid.UUID,
    seq: int,
    thumb: bytes,
    settings: ProctorSettings,
    face: bool,
) -> set[str]:
    """Frozen/replayed: compare with the thumbnails of the frames before this one."""
    # Here, not at import: the server imports this module, and only a stored frame needs numpy and OpenCV.
    from proctor.analysis.sequence import StillnessTracker
    from proctor.jobs import thumb_array

    rows = (
        await conn.execute(
            select(proctor_signals.c.evidence_seq, proctor_signals.c.thumb)
            .where(
                proctor_signals.c.attempt_id == attempt_id,
                proctor_signals.c.source == "frame",
                proctor_signals.c.evidence_seq < seq,
                proctor_signals.c.thumb.is_not(None),
            )
            .order_by(proctor_signals.c.evidence_seq.desc())
            .limit(settings.replay_window_frames)
        )
    ).all()
    tracker = StillnessTracker(settings)
    tracker.resume(
        thumb_array(store.open_value(data_key, attempt_id, -row.evidence_seq, row.thumb)) for row in reversed(rows)
    )
    found, _ = tracker.feed(thumb_array(thumb), face=face)
    return {kind.value for kind in found}


_pa, _ei, _sg = proctor_attempts.c, evidence_items.c, proctor_signals.c

# The attempt and the item, both locked, in one round trip. Both rows are locked, so after a wait
# each comes back as the latest committed version (not as the snapshot the statement began with).
_LOCK = (
    select(_pa.purged_at, _pa.wrapped_key, _pa.started_at, _ei.kind, _ei.received_at, _ei.analysed)
    .select_from(proctor_attempts.join(evidence_items, _ei.attempt_id == _pa.attempt_id))
    .where(_pa.attempt_id == bindparam("attempt_id"), _ei.seq == bindparam("seq"))
    .with_for_update()
)


def _observed_since_query(attempt_id: uuid.UUID, seq: int, at_s: float) -> Any:
    """Another observation of the attempt as late as ``at_s`` or later (it arrived out of order)."""
    return (
        select(_sg.id)
        .where(_sg.attempt_id == attempt_id, _sg.source.in_(_OBSERVED), _sg.at_s >= at_s, _sg.evidence_seq != seq)
        .limit(1)
    )


async def _store_observation(
    conn: AsyncConnection, attempt_id: uuid.UUID, seq: int, kind: str, signal: dict[str, Any], at_s: float
) -> bool:
    """Insert the signal, count a frame, mark the item analysed; whether a later observation exists.

    On PostgreSQL one statement (data-modifying CTEs, which run whether or not they are read);
    elsewhere four. Every worker does this for every frame.
    """
    values = dict(signal, attempt_id=attempt_id, evidence_seq=seq, source=kind, at_s=at_s)
    writes = [
        proctor_signals.insert().values(**values),
        update(evidence_items).where(_ei.attempt_id == attempt_id, _ei.seq == seq).values(analysed=True),
    ]
    if kind == ItemKind.FRAME:
        writes.append(
            update(proctor_attempts).where(_pa.attempt_id == attempt_id).values(frames_analysed=_pa.frames_analysed + 1)
        )
    later = _observed_since_query(attempt_id, seq, at_s)
    if conn.dialect.name == "postgresql":
        return bool(
            (
                await conn.execute(select(exists(later)).add_cte(*(w.cte(f"w{i}") for i, w in enumerate(writes))))
            ).scalar()
        )
    for write in writes:
        await conn.execute(write)
    return (await conn.execute(later)).first() is not None


async def record_result(
    conn: AsyncConnection,
    store: EvidenceStore,
    attempt_id: uuid.UUID,
    seq: int,
    result: dict[str, Any],
    settings: ProctorSettings,
) -> bool:
    """Store one item's analysis; False if it was already stored (a re-delivered job).

    The attempt's row is locked first: results of one attempt are stored one at a
    time (its flags are rebuilt each time), while other attempts go in parallel.
    """
    locked = (await conn.execute(_LOCK, {"attempt_id": attempt_id, "seq": seq})).first()
    if locked is None or locked.purged_at is not None or locked.analysed:
        return False
    data_key = store.unwrap(attempt_id, locked.wrapped_key)
    if locked.kind == ItemKind.ENROLMENT:
        vector = result.get("vector")
        await conn.execute(
            update(proctor_attempts)
            .where(proctor_attempts.c.attempt_id == attempt_id)
            .values(
                enrolment_seq=seq,
                enrolment_state="usable" if vector else "unusable",
                enrolment_reason=result.get("reason") or result.get("error"),
                enrolment_descriptor=store.seal_value(
                    data_key, attempt_id, store.descriptor_slot, json.dumps(vector).encode()
                )
                if vector
                else None,
            )
        )
        await conn.execute(
            update(evidence_items).where(_ei.attempt_id == attempt_id, _ei.seq == seq).values(analysed=True)
        )
        await recompute(conn, attempt_id, settings)
        return True
    found = set(result.get("found", ()))
    checked = set(result.get("checked", ()))
    thumb = None
    if locked.kind == ItemKind.FRAME and "thumb" in result and not result.get("covered"):
        face = bool((result.get("summary") or {}).get("face_count", 1))
        found |= await _stillness(conn, store, data_key, attempt_id, seq, result["thumb"], settings, face)
        if face:  # a frame without a face is not judged (a still, empty room looks frozen)
            checked |= {FlagKind.CAMERA_FROZEN.value, FlagKind.CAMERA_REPLAYED.value}
        thumb = store.seal_value(data_key, attempt_id, -seq, result["thumb"])
    data = result.get("summary") or ({"error": result["error"]} if "error" in result else None)
    at_s = (locked.received_at - locked.started_at).total_seconds()
    later = await _store_observation(
        conn,
        attempt_id,
        seq,
        locked.kind,
        {"found": sorted(found), "checked": sorted(checked), "data": data, "thumb": thumb},
        at_s,
    )
    # The attempt's latest observation that found nothing can only end runs that were already
    # over (a run ends at its last finding): every episode, flag and the risk stay as they are,
    # and the rebuild, which reads every signal of the attempt, is skipped. That is most frames
    # of a calm exam, each of which would otherwise cost more than the one before.
    if found or later:
        await recompute(conn, attempt_id, settings)
    return True


async def record_event(
    conn: AsyncConnection, attempt_id: uuid.UUID, seq: int, kind: FlagKind, start: datetime, duration: float
) -> None:
    """One browser event (its own evidence item): kind, start and duration in seconds."""
    await conn.execute(
        proctor_signals.insert().values(
            attempt_id=attempt_id,
            evidence_seq=seq,
            source="event",
            at_s=await _attempt_t(conn, attempt_id, start),
            duration=duration,
            kind=kind.value,
            found=[kind.value],
            checked=[kind.value],
            data=None,
            thumb=None,
        )
    )


async def record_noise(
    conn: AsyncConnection, attempt_id: uuid.UUID, seq: int, start: datetime, interval_s: float, dbfs: list[float]
) -> None:
    t0 = await _attempt_t(conn, attempt_id, start)
    samples = [[round(t0 + i * interval_s, 3), level] for i, level in enumerate(dbfs)]
    await conn.execute(
        proctor_signals.insert().values(
            attempt_id=attempt_id,
            evidence_seq=seq,
            source="noise",
            at_s=t0,
            duration=interval_s * len(dbfs),
            found=[],
            checked=[],
            data={"samples": samples},
            thumb=None,
        )
    )


def _seq_of(evidence_id: str) -> int:
    return int(evidence_id.split("#")[0])


async def recompute(conn: AsyncConnection, attempt_id: uuid.UUID, settings: ProctorSettings) -> list[Flag]:
    """Rebuild the attempt's flags and risk score from all its signals."""
    observations, events, noise = [], [], []
    # Not the thumbnails, and the data only of noise rows: this runs for every analysed frame,
    # over every signal of the attempt so far.
    c = proctor_signals.c
    columns = (
        c.evidence_seq,
        c.source,
        c.at_s,
        c.found,
        c.checked,
        c.kind,
        c.duration,
        case((c.source == "noise", c.data), else_=null()).label("data"),
    )
    for row in await conn.execute(select(*columns).where(c.attempt_id == attempt_id)):
        if row.source in _OBSERVED:
            observations.append(
                FrameObservation(
                    str(row.evidence_seq),
                    row.at_s,
                    frozenset(FlagKind(k) for k in row.found),
                    frozenset(FlagKind(k) for k in row.checked),
                )
            )
        elif row.source == "event":
            events.append(BrowserEvent(FlagKind(row.kind), row.at_s, row.duration, str(row.evidence_seq)))
        elif row.source == "noise":
            noise += [NoiseSample(t, level) for t, level in row.data["samples"]]
    flags = attempt_flags(observations, events, noise, settings)

    stored = {
        (r.kind, r.start_ms): r
        for r in await conn.execute(select(proctor_flags).where(proctor_flags.c.attempt_id == attempt_id))
    }
    keep: set[tuple[str, int]] = set()
    changed = False
    for flag in flags:
        key = (flag.kind.value, round(flag.start * 1000))
        keep.add(key)
        values = {
            "end_ms": round(flag.end * 1000),
            "severity": flag.severity.value,
            "count": flag.count,
            "occurrence": flag.occurrence,
            "peak": flag.peak,
            "evidence_seqs": sorted({_seq_of(e) for e in flag.evidence_ids if e}),
        }
        if key in stored:
            row = stored[key]
            if any(getattr(row, name) != value for name, value in values.items()):
                await conn.execute(update(proctor_flags).where(proctor_flags.c.id == row.id).values(**values))
                changed = True
        else:
            await conn.execute(
                proctor_flags.insert().values(attempt_id=attempt_id, kind=key[0], start_ms=key[1], **values)
            )
            changed = True
    stale = [r.id for key, r in stored.items() if key not in keep and r.status == "open"]
    if stale:
        await conn.execute(delete(proctor_flags).where(proctor_flags.c.id.in_(stale)))
        changed = True
    if changed:
        # Risk and review state follow from the flags alone: unchanged flags, unchanged risk
        # (most frames: a frame that shows nothing new changes nothing here).
        await refresh_risk(conn, attempt_id, settings)
    return flags


async def refresh_risk(conn: AsyncConnection, attempt_id: uuid.UUID, settings: ProctorSettings) -> None:
    """Risk from the flags a reviewer has not dismissed; a flagged attempt awaits review."""
    rows = (await conn.execute(select(proctor_flags).where(proctor_flags.c.attempt_id == attempt_id))).all()
    live = [
        Flag(
            FlagKind(r.kind),
            Severity(r.severity),
            r.start_ms / 1000,
            r.end_ms / 1000,
            (),
            r.count,
            r.occurrence,
            r.peak,
        )
        for r in rows
        if r.status != "dismissed"
    ]
    risk = risk_score(live, settings)
    values: dict[str, Any] = {"risk_score": risk.score, "risk_raw": risk.raw, "flag_count": len(rows)}
    state = (
        await conn.execute(select(proctor_attempts.c.review_state).where(proctor_attempts.c.attempt_id == attempt_id))
    ).scalar_one()
    if state == "none" and rows:
        values["review_state"] = "pending"
    await conn.execute(update(proctor_attempts).where(proctor_attempts.c.attempt_id == attempt_id).values(**values))
