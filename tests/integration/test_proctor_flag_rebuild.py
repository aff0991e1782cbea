"""A frame that found nothing skips the flag rebuild only when nothing could change: the stored flags
always equal a rebuild from every signal, whatever order the analysed frames arrive in."""

from __future__ import annotations

import random
import uuid

import pytest
from sqlalchemy import select

from exam_engine.services.proctoring import runtime_of
from proctor.findings import recompute, record_result
from proctor.kinds import FlagKind
from proctor.tables import evidence_items, proctor_flags
from tests.integration.proctor_world import frame_person, proctored_attempt

CHECKED = sorted(
    k.value
    for k in (
        FlagKind.NO_FACE,
        FlagKind.SEVERAL_FACES,
        FlagKind.HEAD_TURNED,
        FlagKind.CAMERA_COVERED,
        FlagKind.CAMERA_DARK,
    )
)
# Frame by frame: runs of a missing face and a turned head with calm frames between them.
SCRIPT = [
    "",
    "no_face",
    "no_face",
    "no_face",
    "",
    "no_face",
    "no_face",
    "no_face",
    "",
    "",
    "head_turned",
    "head_turned",
    "head_turned",
    "",
    "",
    "no_face",
    "no_face",
    "",
    "",
]
CALM_INSIDE_A_RUN = 4  # arriving last, it splits what looked like one run of a missing face into two


async def _flags(conn, attempt_id: uuid.UUID) -> list[tuple]:
    f = proctor_flags.c
    return [
        tuple(r)
        for r in await conn.execute(
            select(f.kind, f.start_ms, f.end_ms, f.severity, f.count, f.occurrence, f.evidence_seqs)
            .where(f.attempt_id == attempt_id)
            .order_by(f.kind, f.start_ms)
        )
    ]


async def _frames_stored(services, p, count: int) -> tuple[uuid.UUID, list[int]]:  # type: ignore[no-untyped-def]
    """Upload ``count`` frames 5 s apart (nothing analyses them here); the attempt and their evidence seqs in order."""
    for n in range(count):
        await p.frame(frame_person(n), advance=5.0)
    attempt_id = uuid.UUID(p.attempt_id)
    async with services.engine.connect() as conn:
        seqs = list(
            (
                await conn.execute(
                    select(evidence_items.c.seq)
                    .where(evidence_items.c.attempt_id == attempt_id, evidence_items.c.kind == "frame")
                    .order_by(evidence_items.c.seq)
                )
            ).scalars()
        )
    return attempt_id, seqs


@pytest.mark.parametrize("backend", ["postgres"])  # no analysis runs by itself here: frames wait in Redis
@pytest.mark.parametrize("order", ["in order", "shuffled", "reversed", "calm frame inside a run last"])
async def test_flags_stored_frame_by_frame_equal_a_full_rebuild(services, order: str) -> None:
    p = await proctored_attempt(services)
    try:
        attempt_id, seqs = await _frames_stored(services, p, len(SCRIPT))
        runtime = runtime_of(services)
        assert len(seqs) == len(SCRIPT)
        arrivals = list(zip(seqs, SCRIPT, strict=True))
        if order == "shuffled":
            random.Random(7).shuffle(arrivals)
        elif order == "reversed":
            arrivals.reverse()
        elif order == "calm frame inside a run last":
            arrivals.append(arrivals.pop(CALM_INSIDE_A_RUN))
        for seq, finding in arrivals:
            result = {"found": [finding] if finding else [], "checked": CHECKED, "summary": {"face_count": 1}}
            async with services.engine.begin() as conn:
                assert await record_result(conn, runtime.store, attempt_id, seq, result, runtime.settings)
        async with services.engine.begin() as conn:
            stored = await _flags(conn, attempt_id)
            await recompute(conn, attempt_id, runtime.settings)
            rebuilt = await _flags(conn, attempt_id)
        assert {row[0] for row in rebuilt} == {"no_face", "head_turned"}
        assert stored == rebuilt
    finally:
        await p.close()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_stored_frame_is_compared_with_the_stored_thumbnails_before_it(services) -> None:
    """Frozen (the same picture as the frame before) and replayed (a picture from further back)
    are decided from the encrypted thumbnails of the attempt's earlier frames."""
    import numpy as np

    from proctor.tables import proctor_signals

    rng = np.random.default_rng(3)
    a, b, c = (rng.integers(0, 256, 80 * 60, dtype=np.uint8).tobytes() for _ in range(3))
    pictures = [a, b, b, c, a, c]
    expected = [[], [], ["camera_frozen"], [], ["camera_replayed"], ["camera_replayed"]]
    p = await proctored_attempt(services)
    try:
        attempt_id, seqs = await _frames_stored(services, p, len(pictures))
        runtime = runtime_of(services)
        for seq, thumb in zip(seqs, pictures, strict=True):
            result = {"found": [], "checked": CHECKED, "summary": {"face_count": 1}, "thumb": thumb}
            async with services.engine.begin() as conn:
                assert await record_result(conn, runtime.store, attempt_id, seq, result, runtime.settings)
        s = proctor_signals.c
        async with services.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(s.evidence_seq, s.found, s.checked, s.thumb)
                    .where(s.attempt_id == attempt_id)
                    .order_by(s.evidence_seq)
                )
            ).all()
        assert [sorted(r.found) for r in rows] == expected
        assert all("camera_frozen" in r.checked and "camera_replayed" in r.checked for r in rows)
        assert all(r.thumb is not None and r.thumb not in pictures for r in rows)  # stored sealed
    finally:
        await p.close()


async def test_a_still_empty_room_is_not_judged_frozen_a_still_face_is(services) -> None:
    """A still, low-noise room without a face repeats its picture like a frozen camera; only
    frames that show a face are judged (a live face always moves)."""
    import numpy as np

    from proctor.tables import proctor_signals

    room = np.random.default_rng(4).integers(0, 256, 80 * 60, dtype=np.uint8).tobytes()
    faces = [0, 0, 0, 1, 1]
    p = await proctored_attempt(services)
    try:
        attempt_id, seqs = await _frames_stored(services, p, len(faces))
        runtime = runtime_of(services)
        for seq, count in zip(seqs, faces, strict=True):
            result = {"found": [], "checked": CHECKED, "summary": {"face_count": count}, "thumb": room}
            async with services.engine.begin() as conn:
                assert await record_result(conn, runtime.store, attempt_id, seq, result, runtime.settings)
        s = proctor_signals.c
        async with services.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(s.found, s.checked).where(s.attempt_id == attempt_id).order_by(s.evidence_seq)
                )
            ).all()
        assert [sorted(r.found) for r in rows] == [[], [], [], ["camera_frozen"], ["camera_frozen"]]
        assert ["camera_frozen" in r.checked for r in rows] == [False, False, False, True, True]
    finally:
        await p.close()
