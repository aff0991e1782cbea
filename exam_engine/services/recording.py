"""The video recording of a proctored exam (issue 21): segments and chunks in, ranges out.

The exam page records camera and microphone with ``MediaRecorder`` (WebM). Each page load opens a
*segment* (:func:`open_segment`: a new WebM stream, with its own header) and uploads it in
*chunks* of a few seconds, numbered from 1 (:func:`store_chunk`). A chunk is an evidence item of
kind ``recording``: encrypted with the attempt's data key and linked into its hash chain, so
``exam-engine evidence verify`` covers it. Chunks are idempotent on (segment, chunk): the same
bytes again answer the first receipt, other bytes under a used number are refused
(``409 recording_chunk_conflict``) and nothing changes.

The upload path holds no transaction while the chunk is encrypted and synced: a short read
checks the attempt and looks for the chunk, the bytes are staged outside any transaction, and a
second short transaction links them (:meth:`proctor.store.EvidenceStore.append_staged`).

Reviewers play a segment as the concatenation of its chunks' plaintexts (chunks of one
``MediaRecorder`` concatenate into one playable WebM), served by byte range: only the chunks a
range touches are read and decrypted, one at a time. Every viewing is audited: one row per reviewer,
attempt and segment per viewing window (:func:`_audit_view`), not one per range a player asks for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from proctor.errors import EvidenceUnreadable
from proctor.runtime import ProctorRuntime
from proctor.tables import (
    proctor_attempts,
    proctor_recording_chunks,
    proctor_recording_segments,
)

from ..bounds import Bound
from ..domain import attempts as rules
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus
from ..domain.roles import Permission
from ..errors import Conflict, DomainError, InvalidInput, NotFound
from ..i18n import N_, Word
from ..tables import audit_log
from . import authority
from .audit import record
from .authority import authorize

if TYPE_CHECKING:  # the process's resources are handed in; the service layer never builds them
    from ..bootstrap import Services
from .proctoring import _own_attempt, _require_consent, recording_plan

log = logging.getLogger(__name__)

MAX_SEGMENTS = 500
"""Segments (page loads) one attempt may open: a reload every 20 s of a 3-hour exam stays below it."""
MAX_CHUNK = 99_999
"""Chunks of one segment: 5.5 days at a chunk a second (the client seq encoding's limit)."""
MAX_OFFSET_MS = 48 * 3600 * 1000
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
"""Every WebM stream, so the first chunk of every segment, starts with the EBML header's id."""


class RangeNotSatisfiable(DomainError):
    status = 416

    def __init__(self, code: str, msgid: str, /, total: int = 0, **params: Any) -> None:
        super().__init__(code, msgid, **params)
        self.total = total


def _disabled() -> Conflict:
    return Conflict("recording_disabled", N_("Video recording is switched off on this server."))


def _segment_not_found() -> NotFound:
    return NotFound("recording_segment_not_found", N_("No such recording segment."))


# ------------------------------------------------------------------------------------ the page


async def open_segment(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    body: dict[str, Any],
    *,
    now: datetime,
    grace_s: float,
) -> dict[str, Any]:
    """A new segment (the page started a ``MediaRecorder``): its number and server start time.

    ``started_at`` is when the page started the recorder, on the server's clock as the page
    knows it; it is kept within the attempt (not before its start, not after now).

    After the attempt's end, within the recording's tail (:func:`recording_end`), a segment is still
    opened for a part the page started before the end and never got a number for (its page lost the
    connection at its load and got it back only after the end; the result page opens it). Its start
    is the page's word, so it is held to what the server knows: it is kept at or after the end of
    what the attempt's latest part recorded (a page sends a part's chunks before it opens the next
    part, and a page's part follows the earlier page's), and a part that starts at the end or after
    it is refused (409 ``recording_after_end``). Its chunks are bounded as every chunk after the end
    is (:func:`check_tail_chunk`): by the time from that start to the end (docs/proctoring.md §7).
    It also ends the part before it: that part's chunks arriving after the end go no further than
    its start, with the end's slack (:func:`_opened_after`), so the two do not cover the same time —
    even when the part before it had no chunks yet when it was opened (the start rule then holds the
    new part only to that part's start).
    """
    row, end = await _own_recording_attempt(
        conn, actor, attempt_id, now=now, grace_s=grace_s, tail_s=runtime.config.recording_tail_s
    )
    await _require_consent(conn, attempt_id, row.exam_id)
    if not runtime.config.recording:
        raise _disabled()
    media_type = str(body.get("media_type") or "video/webm")
    if not media_type.startswith("video/webm") or len(media_type) > 60:
        raise InvalidInput("recording_type_invalid", N_("The recording must be WebM video (video/webm)."))
    started_at = now
    if body.get("started_at") is not None:
        try:
            claimed = datetime.fromisoformat(str(body["started_at"]))
        except ValueError:
            claimed = None
        if claimed is None or claimed.tzinfo is None:
            raise InvalidInput(
                "invalid_field",
                N_("Field «{field}» must be a {expected}."),
                field="started_at",
                expected=Word(N_("date-time")),
            )
        started_at = min(max(claimed, row.started_at), now)
    # The attempt's proctoring row is the lock that numbers segments one at a time.
    await conn.execute(
        select(proctor_attempts.c.attempt_id).where(proctor_attempts.c.attempt_id == attempt_id).with_for_update()
    )
    segs = proctor_recording_segments.c
    latest = (
        await conn.execute(
            select(segs.segment, segs.started_at).where(segs.attempt_id == attempt_id).order_by(segs.segment.desc())
        )
    ).first()
    last = latest.segment if latest is not None else 0
    if end is not None:  # the attempt is over: only a part recorded before its end, after what is recorded
        if latest is not None:
            c = proctor_recording_chunks.c
            recorded_ms = (
                await conn.execute(
                    select(func.max(c.offset_ms + c.duration_ms)).where(
                        c.attempt_id == attempt_id, c.segment == latest.segment
                    )
                )
            ).scalar() or 0
            started_at = max(started_at, latest.started_at + timedelta(milliseconds=recorded_ms))
        if started_at >= end:
            raise _started_after_end(end)
    if last >= MAX_SEGMENTS:
        raise Conflict(
            "recording_segments_exceeded",
            N_("The recording was restarted too often ({limit} times); the proctor is told."),
            limit=MAX_SEGMENTS,
        )
    await conn.execute(
        proctor_recording_segments.insert().values(
            attempt_id=attempt_id, segment=last + 1, started_at=started_at, media_type=media_type, created_at=now
        )
    )
    return {"segment": last + 1, "started_at": started_at.isoformat(), **recording_plan(runtime.config)}


def _bounded(value: str | None, name: str, low: int, high: int, *, default: int | None = None) -> int:
    if value is None or value == "":
        if default is not None:
            return default
        raise InvalidInput(
            "invalid_field", N_("Field «{field}» must be a {expected}."), field=name, expected=Word(N_("integer"))
        )
    if not value.isdecimal() or len(value) > 12 or not low <= int(value) <= high:
        raise Bound(low, high).refusal(name)
    return int(value)


@dataclass(frozen=True)
class ChunkPlace:
    """Where a chunk belongs: its numbers and its span in the segment (milliseconds, page-measured)."""

    segment: int
    chunk: int
    offset_ms: int
    duration_ms: int

    @classmethod
    def parse(cls, segment: int, query: Any) -> ChunkPlace:
        if not 1 <= segment <= MAX_SEGMENTS:
            raise _segment_not_found()
        return cls(
            segment,
            _bounded(query.get("seq"), "seq", 1, MAX_CHUNK),
            _bounded(query.get("offset_ms"), "offset_ms", 0, MAX_OFFSET_MS, default=0),
            _bounded(query.get("duration_ms"), "duration_ms", 0, 600_000, default=0),
        )


# ------------------------------------------------------------------------- the end of the exam

TAIL_SLACK = 1.02
"""A recorder's chunks come at least ``chunk_s`` apart; 2 % more (and one chunk) allows for its
timing and for the page's estimate of the server's clock when it named the segment's start."""


def recording_end(
    status: AttemptStatus,
    deadline_at: datetime,
    submitted_at: datetime | None,
    now: datetime,
    *,
    grace_s: float,
    tail_s: float,
) -> datetime | None:
    """Whether a recording chunk may be stored now: ``None`` while the attempt accepts evidence (the
    rule of every upload, unchanged); the attempt's end while it is over (handed in, closed at the
    deadline, or past its deadline and grace) but ``now`` is within ``tail_s`` of that end — the
    page's last chunks upload after the hand-in; otherwise the refusal every upload gets.

    The end is when the attempt was handed in (``submitted_at``; a closed one's is its deadline), or
    the deadline of one still open past its grace. An annulled or paused attempt has no tail.
    """
    try:
        rules.check_accepts_evidence(status, deadline_at, now, grace_s)
        return None
    except DomainError:
        if status in (AttemptStatus.SUBMITTED, AttemptStatus.TIMED_OUT):
            end = submitted_at or deadline_at
        elif status is AttemptStatus.IN_PROGRESS:
            end = deadline_at
        else:
            raise
        if tail_s > 0 and now <= end + timedelta(seconds=tail_s):
            return end
        raise


def _started_after_end(end: datetime) -> Conflict:
    return Conflict(
        "recording_after_end",
        N_("The exam ended at {ended_at}; this part of the recording was started after the end and is not stored."),
        ended_at=end.isoformat(),
    )


def check_tail_chunk(
    end: datetime,
    segment_started_at: datetime,
    place: ChunkPlace,
    chunk_s: float,
    next_started_at: datetime | None = None,
) -> None:
    """A chunk arriving after the attempt's end is stored only when it was recorded before the end:
    its segment started before the end (whenever the server opened it: before the end, in the grace
    after the deadline, or in the tail for a page that was offline from its load — see
    :func:`open_segment`), and its number and offset continue that segment no further than the time
    from the segment's start to the end allows (a chunk every ``chunk_s`` seconds, with
    :data:`TAIL_SLACK`). Anything else is refused (409 ``recording_after_end``) and nothing is stored.

    ``next_started_at`` is the start of a later part opened after the end (:func:`_opened_after`):
    that part ends this one, so its chunks go no further than that start, with the same slack. A part
    opened after the end is only held to what the part before it has recorded when it is opened
    (:func:`open_segment`); without this bound the earlier part's later chunks could cover the same
    time again (an earlier part with no chunks yet could run to the end)."""
    if segment_started_at >= end:
        raise _started_after_end(end)
    until = end if next_started_at is None or next_started_at >= end else next_started_at
    elapsed = max(0.0, (until - segment_started_at).total_seconds()) * TAIL_SLACK
    last = int(elapsed // chunk_s) + 2
    if place.chunk > last or place.offset_ms > (elapsed + chunk_s) * 1000:
        if until < end:
            raise Conflict(
                "recording_after_end",
                N_(
                    "The next part of the recording starts at {next_at}; chunk {seq} of the part before it "
                    "lies after that and is not stored."
                ),
                next_at=until.isoformat(),
                seq=place.chunk,
            )
        raise Conflict(
            "recording_after_end",
            N_("The exam ended at {ended_at}; chunk {seq} of the recording lies after the end and is not stored."),
            ended_at=end.isoformat(),
            seq=place.chunk,
        )


async def _opened_after(conn: AsyncConnection, attempt_id: uuid.UUID, segment: int, end: datetime) -> datetime | None:
    """The earliest start of a part numbered after ``segment`` and opened after the attempt's end, if any.

    Only such parts bound the one before them (:func:`check_tail_chunk`): their start is held to what
    the earlier part had recorded when they were opened. Parts opened during the exam bound nothing
    here (a segment opening during the exam is unchanged)."""
    segs = proctor_recording_segments.c
    return (
        await conn.execute(
            select(func.min(segs.started_at)).where(
                segs.attempt_id == attempt_id, segs.segment > segment, segs.created_at > end
            )
        )
    ).scalar()


async def _own_recording_attempt(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, now: datetime, grace_s: float, tail_s: float
) -> tuple[Any, datetime | None]:
    """The student's own attempt (locked for share, as every upload's) and its end when the chunk
    arrives in the tail after it (:func:`recording_end`)."""
    row = await _own_attempt(conn, actor, attempt_id)
    end = recording_end(
        AttemptStatus(row.status), row.deadline_at, row.submitted_at, now, grace_s=grace_s, tail_s=tail_s
    )
    return row, end


def _receipt(place: ChunkPlace, evidence_seq: int, received_at: datetime, stored: bool) -> dict[str, Any]:
    return {
        "kind": "recording",
        "segment": place.segment,
        "seq": place.chunk,
        "evidence_seq": evidence_seq,
        "received_at": received_at.isoformat(),
        "stored": stored,
    }


def _conflict(place: ChunkPlace) -> Conflict:
    return Conflict(
        "recording_chunk_conflict",
        N_("Chunk {seq} of recording segment {segment} was already stored with other content; it is not replaced."),
        seq=place.chunk,
        segment=place.segment,
    )


async def store_chunk(
    services: Services,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    place: ChunkPlace,
    data: bytes,
    *,
    now: datetime,
    grace_s: float,
) -> dict[str, Any]:
    """Store one chunk (its own short transactions; none held while it is encrypted and synced)."""
    if not data:
        raise InvalidInput("recording_invalid", N_("The recording chunk is empty or not WebM."))
    if place.chunk == 1 and not data.startswith(EBML_MAGIC):
        raise InvalidInput("recording_invalid", N_("The recording chunk is empty or not WebM."))
    digest = hashlib.sha256(data).hexdigest()
    chunks = proctor_recording_chunks.c
    async with services.engine.begin() as conn:
        row, end = await _own_recording_attempt(
            conn, actor, attempt_id, now=now, grace_s=grace_s, tail_s=runtime.config.recording_tail_s
        )
        state = await _require_consent(conn, attempt_id, row.exam_id)
        if not runtime.config.recording:
            raise _disabled()
        segment = (
            await conn.execute(
                select(proctor_recording_segments.c.started_at).where(
                    proctor_recording_segments.c.attempt_id == attempt_id,
                    proctor_recording_segments.c.segment == place.segment,
                )
            )
        ).first()
        if segment is None:
            raise _segment_not_found()
        if end is not None:  # the attempt is over: only what was recorded before its end (and its next part)
            later = await _opened_after(conn, attempt_id, place.segment, end)
            check_tail_chunk(end, segment.started_at, place, runtime.config.recording_chunk_s, later)
        same = (
            await conn.execute(
                select(chunks.evidence_seq, chunks.content_sha256, chunks.received_at).where(
                    chunks.attempt_id == attempt_id, chunks.segment == place.segment, chunks.chunk == place.chunk
                )
            )
        ).first()
        if same is not None:
            if same.content_sha256 != digest:
                raise _conflict(place)
            return _receipt(place, same.evidence_seq, same.received_at, False)
        wrapped = state.wrapped_key
    store = runtime.store
    staged: Path = await asyncio.to_thread(
        store.stage_chunk, store.unwrap(attempt_id, wrapped), attempt_id, place.segment, place.chunk, data
    )
    try:
        async with services.engine.begin() as conn:
            item, stored_digest = await store.append_staged(
                conn, attempt_id, place.segment, place.chunk, staged, content_sha256=digest, size=len(data), now=now
            )
            if not item.created:  # the same chunk arrived twice at once: the other upload linked it
                if stored_digest != digest:
                    raise _conflict(place)
                return _receipt(place, item.seq, item.received_at, False)
            await conn.execute(
                proctor_recording_chunks.insert().values(
                    attempt_id=attempt_id,
                    segment=place.segment,
                    chunk=place.chunk,
                    evidence_seq=item.seq,
                    offset_ms=place.offset_ms,
                    duration_ms=place.duration_ms,
                    size=len(data),
                    content_sha256=digest,
                    received_at=now,
                )
            )
    finally:
        await asyncio.to_thread(staged.unlink, True)  # gone already when it was linked
    return _receipt(place, item.seq, now, True)


# ------------------------------------------------------------------------------------ reviewers


async def _started_at(conn: AsyncConnection, attempt_id: uuid.UUID) -> datetime:
    started = (
        await conn.execute(select(proctor_attempts.c.started_at).where(proctor_attempts.c.attempt_id == attempt_id))
    ).scalar()
    if started is None:
        raise NotFound("proctoring_not_found", N_("This attempt has no proctoring record."))
    return started


async def segments(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID) -> list[dict[str, Any]]:
    """The attempt's recording segments on its time line (seconds since the attempt started).

    A segment plays from ``t_start``; a moment ``t`` of the attempt is ``t - t_start`` seconds
    into it when ``t_start <= t < t_start + duration_s``. ``missing`` lists chunk numbers that
    never arrived (the page closed with them queued, or a chunk was refused).
    """
    await authorize(conn, actor, Permission.PROCTOR_REVIEW, authority.attempt(attempt_id))
    started = await _started_at(conn, attempt_id)
    c = proctor_recording_chunks.c
    stats = {
        r.segment: r
        for r in await conn.execute(
            select(
                c.segment,
                func.count().label("chunks"),
                func.sum(c.size).label("bytes"),
                func.max(c.chunk).label("last"),
                func.max(c.offset_ms + c.duration_ms).label("end_ms"),
            )
            .where(c.attempt_id == attempt_id)
            .group_by(c.segment)
        )
    }
    numbers: dict[int, set[int]] = {}
    for r in await conn.execute(select(c.segment, c.chunk).where(c.attempt_id == attempt_id)):
        numbers.setdefault(r.segment, set()).add(r.chunk)
    out = []
    for seg in await conn.execute(
        select(proctor_recording_segments)
        .where(proctor_recording_segments.c.attempt_id == attempt_id)
        .order_by(proctor_recording_segments.c.segment)
    ):
        stat = stats.get(seg.segment)
        if stat is None:
            continue  # opened, nothing arrived: nothing to play
        have = numbers.get(seg.segment, set())
        out.append(
            {
                "segment": seg.segment,
                "started_at": seg.started_at.isoformat(),
                "t_start": round((seg.started_at - started).total_seconds(), 3),
                "duration_s": round((stat.end_ms or 0) / 1000, 3),
                "chunks": stat.chunks,
                "bytes": int(stat.bytes or 0),
                "media_type": seg.media_type,
                "missing": sorted(set(range(1, stat.last + 1)) - have)[:100],
                "url": f"/api/v1/proctor/attempts/{attempt_id}/recording/{seg.segment}",
            }
        )
    return out


def parse_range(header: str | None, total: int) -> tuple[int, int] | None:
    """The first and last byte (inclusive) a ``Range`` header asks for, ``None`` for the whole.

    One range of ``bytes`` only (``a-b``, ``a-``, ``-n``); a range that starts past the end, a
    malformed one, or several at once are refused (416). Other units are ignored (RFC 9110).
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes":
        return None
    refused = RangeNotSatisfiable(
        "range_not_satisfiable", N_("The requested byte range is not in the recording ({total} bytes)."), total=total
    )
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if "," in spec or not dash or not (first.isdecimal() or first == "") or not (last.isdecimal() or last == ""):
        raise refused
    if first == "":
        if last == "" or int(last) == 0 or total == 0:
            raise refused
        return max(0, total - int(last)), total - 1
    start = int(first)
    end = total - 1 if last == "" else min(int(last), total - 1)
    if start >= total or (last != "" and int(last) < start):
        raise refused
    return start, end


@dataclass
class Playback:
    """What a range response sends: status, byte span, and the chunk slices that make it up."""

    status: int
    start: int
    end: int
    total: int
    media_type: str
    pieces: list[tuple[int, int, int]] = field(default_factory=list)
    """(chunk number, first byte in the chunk, byte after the last) in order."""
    data_key: bytes = field(default=b"", repr=False)

    @property
    def length(self) -> int:
        return self.end - self.start + 1 if self.total else 0


async def open_playback(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    segment: int,
    range_header: str | None,
    *,
    now: datetime,
) -> Playback:
    """Check the reviewer, find the chunks a range touches, and audit the view (who, what, which bytes)."""
    await authorize(conn, actor, Permission.PROCTOR_REVIEW, authority.attempt(attempt_id))
    state = (
        await conn.execute(select(proctor_attempts.c.wrapped_key).where(proctor_attempts.c.attempt_id == attempt_id))
    ).first()
    if state is None:
        raise NotFound("proctoring_not_found", N_("This attempt has no proctoring record."))
    seg = (
        await conn.execute(
            select(proctor_recording_segments.c.media_type).where(
                proctor_recording_segments.c.attempt_id == attempt_id, proctor_recording_segments.c.segment == segment
            )
        )
    ).first()
    c = proctor_recording_chunks.c
    rows = (
        await conn.execute(
            select(c.chunk, c.size).where(c.attempt_id == attempt_id, c.segment == segment).order_by(c.chunk)
        )
    ).all()
    if seg is None or not rows:
        raise _segment_not_found()
    total = sum(r.size for r in rows)
    asked = parse_range(range_header, total)
    start, end = asked if asked is not None else (0, total - 1)
    pieces, position = [], 0
    for r in rows:
        lo, hi = max(start, position), min(end + 1, position + r.size)
        if lo < hi:
            pieces.append((r.chunk, lo - position, hi - position))
        position += r.size
    await _audit_view(
        conn,
        actor,
        attempt_id,
        segment,
        (start, end, total, asked is not None),
        now,
        runtime.config.recording_view_audit_s,
    )
    return Playback(
        206 if asked is not None else 200,
        start,
        end,
        total,
        "video/webm",
        pieces,
        runtime.store.unwrap(attempt_id, state.wrapped_key),
    )


VIEWED = "recording.viewed"


async def _audit_view(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    segment: int,
    served: tuple[int, int, int, bool],
    now: datetime,
    window_s: float,
) -> bool:
    """The audit row of a viewing: written for the first request of a reviewer on a segment in a
    window of ``window_s`` seconds (who, attempt, segment, when, the first range served); the
    player's further range requests in the window are part of that viewing and add no row. A
    window of 0 writes a row for every request. Returns whether a row was written."""
    start, end, total, ranged = served
    subject = f"attempt:{attempt_id}"
    if window_s > 0:
        a = audit_log.c
        recent = await conn.execute(
            select(a.after).where(
                a.subject == subject,
                a.action == VIEWED,
                a.actor == actor.label,
                a.at > now - timedelta(seconds=window_s),
            )
        )
        if any(isinstance(after, dict) and after.get("segment") == segment for (after,) in recent):
            return False
    await record(
        conn,
        now,
        actor,
        VIEWED,
        subject,
        None,
        {"segment": segment, "bytes": [start, end], "of": total, "range": ranged, "window_s": window_s},
    )
    return True


async def playback_bytes(
    runtime: ProctorRuntime, attempt_id: uuid.UUID, segment: int, playback: Playback
) -> AsyncIterator[bytes]:
    """The decrypted bytes of a playback, one chunk in memory at a time."""
    for chunk, lo, hi in playback.pieces:
        try:
            plain = await runtime.store.open_chunk(playback.data_key, attempt_id, segment, chunk)
        except EvidenceUnreadable:
            log.error(
                "recording chunk %s/%s of %s cannot be decrypted: the response is cut short "
                "(run exam-engine evidence verify)",
                segment,
                chunk,
                attempt_id,
            )
            raise
        yield plain[lo:hi]


def flag_moment(flag_start_s: float, segment_list: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The segment and offset (seconds) that show a moment of the attempt, or ``None``.

    The segment that covers ``t`` plays it; between segments (the page was reloading), the next
    segment's start is the nearest recorded moment after it.
    """
    for seg in segment_list:
        if seg["t_start"] <= flag_start_s < seg["t_start"] + seg["duration_s"]:
            return {"segment": seg["segment"], "offset_s": round(flag_start_s - seg["t_start"], 3)}
    later = [seg for seg in segment_list if seg["t_start"] > flag_start_s]
    if later:
        return {"segment": later[0]["segment"], "offset_s": 0.0}
    return None
