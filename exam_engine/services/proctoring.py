"""Proctoring evidence from the student's page: the glue between attempts and ``proctor``.

Every upload names the attempt and a client sequence number per kind; the student
must own the attempt and it must still accept answers (same rule and grace as
autosave). Items are idempotent on (attempt, kind, seq): a resend returns the
first receipt. Analysis is queued only after the commit (:class:`Stored` carries
what to queue), so a worker never looks for an item that is not there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from proctor.burst import pack_burst
from proctor.config import ProctorConfig, load_config
from proctor.findings import recompute, record_event, record_noise
from proctor.kinds import BROWSER_EVENT_KINDS, FlagKind
from proctor.runtime import ProctorRuntime
from proctor.store import ChainHead, ItemKind, StoredItem
from proctor.tables import (
    proctor_attempts,
    proctor_exam_settings,
    proctor_references,
    proctor_requests,
)

from ..domain import attempts as rules
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus
from ..domain.roles import Permission
from ..errors import Conflict, DomainError, InvalidInput, NotFound, TooManyRequests
from ..i18n import N_, Word
from ..observability import ANALYSIS_SECONDS
from ..tables import attempts, exams
from .audit import record

if TYPE_CHECKING:  # the process's resources are handed in; the service layer never builds them
    from ..bootstrap import Services

log = logging.getLogger(__name__)

MAX_IMAGE_SIDE = 4096
MAX_BURST_FRAMES = 40
MAX_NOISE_SAMPLES = 120
SCREEN_POLICIES = ("require", "flag", "off")


class TooLarge(DomainError):
    status = 413


def runtime_of(services: Services) -> ProctorRuntime:
    """This process's proctoring runtime, built at first use."""
    if services.proctor is None:
        config = load_config(
            os.environ, services.settings.data_dir, services.settings.redis_url, services.settings.redis_prefix
        )
        services.proctor = ProctorRuntime.build(config, services.engine, now=services.clock.now())
        services.proctor.analyser.observe_lag = ANALYSIS_SECONDS.observe
    return services.proctor


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        "upload_too_large", N_("The upload is too large: at most {limit} MB."), limit=round(limit / 1024 / 1024, 1)
    )


# ------------------------------------------------------------------------------------ quota
# An attempt's evidence is bounded in uploads per minute and bytes in all (issue 18: one student
# stored 40 frames of 1.9 MB in 5 s). Both are counted in the shared store (Redis across
# processes) — uploads per student and minute, bytes per student and attempt — before anything is
# read or locked: a refusal costs no
# body, no JPEG decode and no database connection. The first refusal of a minute (and the first
# of the byte quota) is recorded: an audit row, and a server-made event in the attempt's evidence
# chain that the reviewer sees on the time line. The counters are guards, not accounting: if the
# shared store is lost or down, they restart or let uploads through (logged), never refuse.

QUOTA_EVENT = "evidence_quota"
BYTES_WINDOW_S = 3 * 24 * 3600
"""How long the byte counter of an attempt lives: longer than any exam (24 h at most) and its grace."""


def _minute(now: datetime) -> int:
    return int(now.timestamp() // 60)


async def _hit(services: Services, key: str, window_s: int, amount: int = 1) -> int | None:
    try:
        return await services.kv.hit(key, window_s, amount)
    except Exception:
        log.warning("evidence quota: the shared store did not answer; not counting %s", key, exc_info=True)
        return None


async def check_upload_rate(
    services: Services, runtime: ProctorRuntime, actor: Actor, attempt_id: uuid.UUID, *, now: datetime
) -> None:
    """One more evidence upload of this attempt this minute, or a 429 (the first one recorded)."""
    limit = runtime.config.max_uploads_per_min
    # Counted per student, not per attempt id in the path: a student sits one exam at a time, and
    # made-up attempt ids (refused later, inside the transaction) must not each bring a fresh quota.
    count = await _hit(services, f"evidence:rate:{actor.user_id}:{_minute(now)}", 120)
    if count is None or count <= limit:
        return
    if count == limit + 1:
        await record_quota(services, runtime, actor, attempt_id, now=now, what="uploads_per_minute", limit=limit)
    raise TooManyRequests(
        "evidence_rate_exceeded",
        N_("Too many proctoring uploads: at most {limit} a minute for one exam. The page sends again by itself."),
        retry_after=max(1, 60 - int(now.timestamp()) % 60),
        limit=limit,
    )


async def check_upload_bytes(
    services: Services, runtime: ProctorRuntime, actor: Actor, attempt_id: uuid.UUID, size: int, *, now: datetime
) -> None:
    """``size`` more evidence bytes for this attempt, or a 429 once its total is spent (the first recorded)."""
    limit = runtime.config.max_attempt_bytes
    total = await _hit(services, f"evidence:bytes:{actor.user_id}:{attempt_id}", BYTES_WINDOW_S, size)
    if total is None or total <= limit:
        return
    if total - size <= limit:
        await record_quota(services, runtime, actor, attempt_id, now=now, what="bytes_per_attempt", limit=limit)
    raise TooManyRequests(
        "evidence_quota_exceeded",
        N_("This exam's proctoring recordings have reached their limit of {limit} MB; nothing more is stored."),
        retry_after=3600,
        limit=limit // (1024 * 1024),
    )


async def record_quota(
    services: Services,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    now: datetime,
    what: str,
    limit: int,
) -> None:
    """The refusal, kept: an audit row, and an event on the attempt's time line (its own transaction)."""
    try:
        async with services.engine.begin() as conn:
            await record(
                conn,
                now,
                actor,
                "proctor.evidence_quota",
                f"attempt:{attempt_id}",
                None,
                {"quota": what, "limit": limit},
            )
            state = (
                await conn.execute(
                    select(proctor_attempts.c.head_seq)
                    .select_from(proctor_attempts.join(attempts, attempts.c.id == proctor_attempts.c.attempt_id))
                    .where(proctor_attempts.c.attempt_id == attempt_id, attempts.c.student_id == actor.user_id)
                )
            ).first()
            if state is None:  # not this student's, or no consent: the audit row is all there is to keep
                return
            body = {
                "type": QUOTA_EVENT,
                "started_at": now.isoformat(),
                "duration_s": 0.0,
                "detail": f"evidence refused by the server: {what} over {limit}",
            }
            # Server-made events use negative client seqs: they never collide with the page's.
            await runtime.store.append(
                conn,
                attempt_id,
                ItemKind.EVENT,
                -(state.head_seq + 1),
                json.dumps(body, sort_keys=True).encode(),
                now=now,
                trigger=QUOTA_EVENT,
            )
    except Exception:
        log.exception("could not record the evidence quota refusal of %s", attempt_id)


# ------------------------------------------------------------------------------------ images


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's frame header, read before decoding anything."""
    if data[:2] != b"\xff\xd8":
        return None
    offset = 2
    while offset + 9 < len(data):
        if data[offset] != 0xFF:
            return None
        while data[offset + 1] == 0xFF and offset + 10 < len(data):
            offset += 1  # fill bytes before a marker, which libjpeg skips (read as a marker, they hid the frame)
        marker = data[offset + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        (length,) = struct.unpack_from(">H", data, offset + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", data, offset + 5)
            return width, height
        offset += 2 + length
    return None


def _check_jpeg(data: bytes) -> tuple[int, int]:
    size = _jpeg_size(data)
    if size is None or not (0 < size[0] and 0 < size[1]):
        raise InvalidInput("image_invalid", N_("The image is not a readable JPEG picture."))
    if not (size[0] <= MAX_IMAGE_SIDE and size[1] <= MAX_IMAGE_SIDE):  # a decompression bomb: never decoded
        raise InvalidInput(
            "image_invalid",
            N_("The picture is {width} × {height} pixels; at most {limit} × {limit} are accepted."),
            width=size[0],
            height=size[1],
            limit=MAX_IMAGE_SIDE,
        )
    import cv2  # here, not at import: a server start does not need OpenCV
    import numpy as np

    # The whole compressed stream is read and checked; an eighth-size grey picture is enough for that
    # and is several times cheaper than the full colour decode the analysis does later.
    reduced = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    # The decoder's own idea of the size must be the one checked above: a header it reads otherwise (a frame
    # header hidden from the parse above) would be decoded in full later — by the analysis, the review's
    # thumbnail — at whatever size it claims (30,000 × 30,000 is 2.7 GB in colour).
    if reduced is None or reduced.shape[:2] != (-(-size[1] // 8), -(-size[0] // 8)):
        raise InvalidInput("image_invalid", N_("The image is not a readable JPEG picture."))
    return size


async def check_jpeg(data: bytes) -> tuple[int, int]:
    """Refuse anything but a decodable JPEG of sane size; decoding runs off the event loop."""
    return await asyncio.to_thread(_check_jpeg, data)


# ------------------------------------------------------------------------------------ attempts


@dataclass
class Stored:
    """Receipts for the page and the items to queue once committed."""

    receipts: list[dict[str, Any]] = field(default_factory=list)
    to_analyse: list[tuple[uuid.UUID, int, str]] = field(default_factory=list)

    def add(self, attempt_id: uuid.UUID, item: StoredItem, *, analyse: bool = False) -> None:
        self.receipts.append(
            {
                "kind": item.kind,
                "seq": item.client_seq,
                "evidence_seq": item.seq,
                "received_at": item.received_at.isoformat(),
                "stored": item.created,
            }
        )
        if analyse and item.created:
            self.to_analyse.append((attempt_id, item.seq, item.kind))


async def _own_attempt(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID) -> Any:
    """The student's own attempt, locked for share as every upload's (it cannot be closed under it)."""
    actor.require(Permission.SIT_EXAM)
    row = (
        await conn.execute(
            select(
                attempts.c.student_id,
                attempts.c.exam_id,
                attempts.c.status,
                attempts.c.started_at,
                attempts.c.deadline_at,
                attempts.c.submitted_at,
            )
            .where(attempts.c.id == attempt_id)
            .with_for_update(read=True)
        )
    ).first()
    if row is None or row.student_id != actor.user_id:
        raise NotFound("attempt_not_found", N_("No such attempt."))
    return row


async def _own_running_attempt(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, now: datetime, grace_s: float
) -> Any:
    row = await _own_attempt(conn, actor, attempt_id)
    rules.check_accepts_evidence(AttemptStatus(row.status), row.deadline_at, now, grace_s)
    return row


def not_proctored() -> Conflict:
    return Conflict(
        "exam_not_proctored",
        N_("This exam is not proctored: no camera, screen or microphone recordings are taken or stored for it."),
    )


async def _require_proctored(conn: AsyncConnection, exam_id: int) -> None:
    """Evidence only for an exam that requires proctoring (issue 18: frames were stored for one that did not)."""
    if not (await conn.execute(select(exams.c.requires_proctoring).where(exams.c.id == exam_id))).scalar():
        raise not_proctored()


async def _require_consent(conn: AsyncConnection, attempt_id: uuid.UUID, exam_id: int | None = None) -> Any:
    """The attempt's proctoring row (consent given). Without one, the refusal says why: the exam is
    not proctored (``exam_id`` given), or consent is missing. Consent is refused for an exam that is
    not proctored, so a row means a proctored exam."""
    row = (await conn.execute(select(proctor_attempts).where(proctor_attempts.c.attempt_id == attempt_id))).first()
    if row is None:
        if exam_id is not None:
            await _require_proctored(conn, exam_id)
        raise Conflict("consent_required", N_("Give your consent to proctoring first."))
    return row


def _positive_seq(seq: int) -> int:
    if seq < 1 or seq > 10_000_000:
        raise InvalidInput("invalid_seq", N_("The sequence number must be a positive whole number."))
    return seq


async def _has_reference(conn: AsyncConnection, student_id: int) -> bool:
    return (
        await conn.execute(select(proctor_references.c.student_id).where(proctor_references.c.student_id == student_id))
    ).first() is not None


async def exam_capture_settings(conn: AsyncConnection, runtime: ProctorRuntime, exam_id: int) -> dict:
    """An exam's capture settings before any attempt exists (the pre-exam check needs the
    screen policy at the student's click: ``getDisplayMedia`` wants a fresh user gesture)."""
    config = runtime.config
    required = (await conn.execute(select(exams.c.requires_proctoring).where(exams.c.id == exam_id))).scalar()
    custom = (
        await conn.execute(select(proctor_exam_settings).where(proctor_exam_settings.c.exam_id == exam_id))
    ).first()
    return {
        "required": bool(required),
        "frame_interval_s": custom.frame_interval_s if custom else config.frame_interval_s,
        "screen_interval_s": custom.screen_interval_s if custom else config.screen_interval_s,
        "noise_batch_s": config.noise_batch_s,
        "room_scan_at_start": bool(custom.room_scan_at_start) if custom else bool(required),
        "screen_policy": custom.screen_policy if custom else ("require" if required else "off"),
    }


RECORDING_VIDEO = {"width": 320, "height": 240, "frame_rate": 10}
"""What the page asks the camera for while recording (a low resolution keeps the picture sharp at the bit rate)."""


def recording_plan(config: ProctorConfig) -> dict[str, Any]:
    """What the page's ``MediaRecorder`` is set to (see :mod:`exam_engine.services.recording`)."""
    return {
        "enabled": config.recording,
        "kbps": config.recording_kbps,
        "chunk_s": config.recording_chunk_s,
        "max_chunk_bytes": config.max_chunk_bytes,
        "queue_bytes": config.recording_queue_bytes,
        "video": dict(RECORDING_VIDEO),
    }


async def capture_plan(
    conn: AsyncConnection, runtime: ProctorRuntime, attempt_id: uuid.UUID, exam_id: int, student_id: int
) -> dict:
    """What the page must capture and how often (per exam, else the global defaults)."""
    config = runtime.config
    settings = await exam_capture_settings(conn, runtime, exam_id)
    state = (await conn.execute(select(proctor_attempts).where(proctor_attempts.c.attempt_id == attempt_id))).first()
    pending = (
        []
        if state is None
        else [
            {"id": r.id, "kind": r.kind, "requested_at": r.requested_at.isoformat()}
            for r in await conn.execute(
                select(proctor_requests).where(
                    proctor_requests.c.attempt_id == attempt_id, proctor_requests.c.fulfilled_at.is_(None)
                )
            )
        ]
    )
    return {
        **settings,
        "consented": state is not None,
        "limits": {
            "frame_bytes": config.max_frame_bytes,
            "burst_bytes": config.max_burst_bytes,
            "burst_frames": MAX_BURST_FRAMES,
            "events_per_request": config.max_event_batch,
            "noise_samples_per_request": MAX_NOISE_SAMPLES,
            "image_side_px": MAX_IMAGE_SIDE,
        },
        "enrolment": {
            "state": state.enrolment_state if state else "missing",
            "reason": state.enrolment_reason if state else None,
            "reference_available": await _has_reference(conn, student_id),
        },
        "pending_requests": pending,
        "event_types": sorted(kind.value for kind in BROWSER_EVENT_KINDS),
        "recording": recording_plan(config),
    }


async def plan(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    now: datetime,
    grace_s: float,
) -> dict:
    row = await _own_running_attempt(conn, actor, attempt_id, now=now, grace_s=grace_s)
    return await capture_plan(conn, runtime, attempt_id, row.exam_id, actor.user_id or 0)


async def consent(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    answers: dict[str, Any],
    *,
    now: datetime,
    grace_s: float,
) -> dict:
    """Consent opens the attempt's evidence store (and its data key)."""
    row = await _own_running_attempt(conn, actor, attempt_id, now=now, grace_s=grace_s)
    await _require_proctored(conn, row.exam_id)
    if answers.get("consent") is not True:
        raise InvalidInput("consent_required", N_("Give your consent to proctoring first."))
    created = await runtime.store.open_attempt(
        conn,
        attempt_id,
        student_id=actor.user_id or 0,
        exam_id=row.exam_id,
        started_at=row.started_at,
        consent=answers,
        now=now,
    )
    if created:
        await record(conn, now, actor, "proctor.consent", f"attempt:{attempt_id}", None, answers)
    return await capture_plan(conn, runtime, attempt_id, row.exam_id, actor.user_id or 0)


# The attempt (shared: it cannot be finished meanwhile) and its evidence chain head (exclusive: appends
# of one attempt go one at a time), with what the checks need, in one round trip. Both rows are locked,
# so after a wait both come back as committed since. Only on PostgreSQL (SQLite has one writer).
_a, _p = attempts.c, proctor_attempts.c
_ATTEMPT_AND_HEAD = (
    select(_a.student_id, _a.status, _a.deadline_at, _p.wrapped_key, _p.head_seq)
    .select_from(attempts.join(proctor_attempts, _p.attempt_id == _a.id))
    .where(_a.id == bindparam("attempt_id"))
    .suffix_with("FOR SHARE OF attempts FOR UPDATE OF proctor_attempts", dialect="postgresql")
)


async def store_image(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    kind: ItemKind,
    seq: int,
    image: bytes,
    *,
    trigger: str | None,
    now: datetime,
    grace_s: float,
) -> Stored:
    """A webcam frame, a screenshot or the enrolment photo (already checked as JPEG).

    A webcam frame every few seconds from every student: the ownership, deadline and consent
    checks and the chain-head lock are one statement. Without a row (no such attempt, not this
    student's, no consent yet) the separate checks run and word the refusal.
    """
    actor.require(Permission.SIT_EXAM)
    row = (await conn.execute(_ATTEMPT_AND_HEAD, {"attempt_id": attempt_id})).first()
    head = None
    if row is None:
        own = await _own_running_attempt(conn, actor, attempt_id, now=now, grace_s=grace_s)
        # consent given meanwhile: the append locks the head itself
        await _require_consent(conn, attempt_id, own.exam_id)
    else:
        if row.student_id != actor.user_id:
            raise NotFound("attempt_not_found", N_("No such attempt."))
        rules.check_accepts_evidence(AttemptStatus(row.status), row.deadline_at, now, grace_s)
        head = ChainHead(row.wrapped_key, row.head_seq)
    item = await runtime.store.append(
        conn, attempt_id, kind, _positive_seq(seq), image, now=now, trigger=trigger, locked_head=head
    )
    if kind is ItemKind.ENROLMENT and item.created:
        await conn.execute(
            update(proctor_attempts)
            .where(proctor_attempts.c.attempt_id == attempt_id)
            .values(enrolment_state="pending", enrolment_reason=None)
        )
    stored = Stored()
    stored.add(attempt_id, item, analyse=True)
    return stored


async def enrol_from_reference(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    now: datetime,
    grace_s: float,
) -> Stored:
    """Use the photo an administrator uploaded for this student instead of a new one."""
    own = await _own_running_attempt(conn, actor, attempt_id, now=now, grace_s=grace_s)
    await _require_consent(conn, attempt_id, own.exam_id)
    photo = await runtime.store.get_reference(conn, actor.user_id or 0)
    if photo is None:
        raise NotFound("no_reference_photo", N_("No reference photo has been uploaded for you."))
    # Client seq 0 is reserved for the reference photo (the page's own photos start at 1).
    item = await runtime.store.append(conn, attempt_id, ItemKind.ENROLMENT, 0, photo, now=now, trigger="reference")
    if item.created:
        await conn.execute(
            update(proctor_attempts)
            .where(proctor_attempts.c.attempt_id == attempt_id)
            .values(enrolment_state="pending", enrolment_reason=None)
        )
    stored = Stored()
    stored.add(attempt_id, item, analyse=True)
    return stored


async def store_room_scan(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    seq: int,
    frames: list[bytes],
    *,
    now: datetime,
    grace_s: float,
) -> Stored:
    """A burst of frames stored as one item; it fulfils the pending room-scan requests."""
    own = await _own_running_attempt(conn, actor, attempt_id, now=now, grace_s=grace_s)
    await _require_consent(conn, attempt_id, own.exam_id)
    if not frames or len(frames) > MAX_BURST_FRAMES:
        raise InvalidInput(
            "room_scan_frames", N_("A room scan has between 1 and {limit} frames."), limit=MAX_BURST_FRAMES
        )
    item = await runtime.store.append(
        conn, attempt_id, ItemKind.ROOMSCAN, _positive_seq(seq), pack_burst(frames), now=now, trigger="room_scan"
    )
    if item.created:
        await conn.execute(
            update(proctor_requests)
            .where(proctor_requests.c.attempt_id == attempt_id, proctor_requests.c.fulfilled_at.is_(None))
            .values(fulfilled_at=now, fulfilled_seq=item.seq)
        )
    stored = Stored()
    stored.add(attempt_id, item, analyse=True)
    return stored


def _parse_time(value: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            "invalid_field", N_("Field «{field}» must be a {expected}."), field=name, expected=Word(N_("date-time"))
        )
    return moment


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidInput(
            "invalid_number",
            N_("Field «{field}» must be a number from {low} to {high}."),
            field=name,
            low=low,
            high=high,
        )
    return float(value)


async def store_events(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    events: list[Any],
    *,
    now: datetime,
    grace_s: float,
) -> Stored:
    """Browser events, each its own evidence item: {seq, type, started_at, duration_s, detail}."""
    row = await _own_running_attempt(conn, actor, attempt_id, now=now, grace_s=grace_s)
    await _require_consent(conn, attempt_id, row.exam_id)
    if len(events) > runtime.config.max_event_batch:
        raise InvalidInput(
            "too_many_items", N_("At most {limit} items in one request."), limit=runtime.config.max_event_batch
        )
    stored = Stored()
    allowed = {kind.value for kind in BROWSER_EVENT_KINDS}
    for raw in events:
        if not isinstance(raw, dict) or raw.get("type") not in allowed:
            raise InvalidInput(
                "invalid_event_type",
                N_("Unknown event type «{value}»."),
                value=str(raw.get("type") if isinstance(raw, dict) else raw)[:40],
            )
        seq = raw.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise InvalidInput("invalid_seq", N_("The sequence number must be a positive whole number."))
        # The page's clock is not trusted beyond the attempt's own span.
        start = min(max(_parse_time(raw.get("started_at", now.isoformat()), "started_at"), row.started_at), now)
        duration = _number(raw.get("duration_s", 0), "duration_s", 0, 24 * 3600)
        duration = min(duration, (now - start).total_seconds() + grace_s)
        detail = str(raw.get("detail", ""))[:500]
        body = {"type": raw["type"], "started_at": start.isoformat(), "duration_s": duration, "detail": detail}
        item = await runtime.store.append(
            conn,
            attempt_id,
            ItemKind.EVENT,
            _positive_seq(seq),
            json.dumps(body, sort_keys=True).encode(),
            now=now,
            trigger=raw["type"],
        )
        if item.created:
            await record_event(conn, attempt_id, item.seq, FlagKind(raw["type"]), start, duration)
        stored.add(attempt_id, item)
    await recompute(conn, attempt_id, runtime.settings)
    return stored


async def store_noise(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    body: dict[str, Any],
    *,
    now: datetime,
    grace_s: float,
) -> Stored:
    """A batch of microphone loudness samples (RMS dBFS) at a fixed interval."""
    row = await _own_running_attempt(conn, actor, attempt_id, now=now, grace_s=grace_s)
    await _require_consent(conn, attempt_id, row.exam_id)
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise InvalidInput("invalid_seq", N_("The sequence number must be a positive whole number."))
    levels = body.get("dbfs")
    if not isinstance(levels, list) or not 0 < len(levels) <= MAX_NOISE_SAMPLES:
        raise InvalidInput("too_many_items", N_("At most {limit} items in one request."), limit=MAX_NOISE_SAMPLES)
    dbfs = [_number(v, "dbfs", -200, 0) for v in levels]
    interval = _number(body.get("interval_s", 1.0), "interval_s", 0.1, 10)
    start = min(max(_parse_time(body.get("started_at", now.isoformat()), "started_at"), row.started_at), now)
    content = {"started_at": start.isoformat(), "interval_s": interval, "dbfs": dbfs}
    item = await runtime.store.append(
        conn, attempt_id, ItemKind.NOISE, _positive_seq(seq), json.dumps(content).encode(), now=now
    )
    if item.created:
        await record_noise(conn, attempt_id, item.seq, start, interval, dbfs)
        await recompute(conn, attempt_id, runtime.settings)
    stored = Stored()
    stored.add(attempt_id, item)
    return stored


async def heartbeat(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor,
    attempt_id: uuid.UUID,
    page_id: str,
    *,
    now: datetime,
    grace_s: float,
) -> dict | None:
    """The live exam page says it is alive; ``None`` refuses a second page (the event is recorded).

    One live page per attempt: another page id within ``live_page_timeout_s`` of the
    last heartbeat is a second tab or browser.
    """
    row = await _own_running_attempt(conn, actor, attempt_id, now=now, grace_s=grace_s)
    state = await _require_consent(conn, attempt_id, row.exam_id)
    page_id = page_id[:64]
    window = timedelta(seconds=runtime.config.live_page_timeout_s)
    if (
        state.live_page
        and state.live_page != page_id
        and state.live_page_seen_at is not None
        and now - state.live_page_seen_at < window
    ):
        body = {
            "type": FlagKind.SECOND_TAB.value,
            "started_at": now.isoformat(),
            "duration_s": 0.0,
            "detail": "second page refused by the server",
        }
        # Server-made events use negative client seqs: they never collide with the page's.
        item = await runtime.store.append(
            conn,
            attempt_id,
            ItemKind.EVENT,
            -(state.head_seq + 1),
            json.dumps(body, sort_keys=True).encode(),
            now=now,
            trigger="second_tab",
        )
        await record_event(conn, attempt_id, item.seq, FlagKind.SECOND_TAB, now, 0.0)
        await recompute(conn, attempt_id, runtime.settings)
        return None
    await conn.execute(
        update(proctor_attempts)
        .where(proctor_attempts.c.attempt_id == attempt_id)
        .values(live_page=page_id, live_page_seen_at=now)
    )
    return await capture_plan(conn, runtime, attempt_id, row.exam_id, actor.user_id or 0)
