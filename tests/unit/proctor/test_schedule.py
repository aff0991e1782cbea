"""Which frames get the full-resolution pass and identity, and what that finds over an attempt."""

from __future__ import annotations

import numpy as np

from proctor.jobs import run_job
from proctor.queue import frame_passes
from proctor.settings import ProctorSettings
from tests.unit.proctor import evalset as ev

S = ProctorSettings()
EVENTS = ("no_face", "several_faces", "camera_covered", "camera_dark", "identity_mismatch", "identity_unconfirmed")


def passes(seq: int, last_found: list[str] | None = None, enrolled: bool = True) -> tuple[bool, bool]:
    return frame_passes(
        seq,
        last_found,
        enrolled,
        identity_every_n=S.identity_every_n_frames,
        thorough_every_n=S.thorough_every_n_frames,
    )


def test_every_nth_frame_gets_the_full_pass_and_identity_frames_always_do() -> None:
    n, n_id = S.thorough_every_n_frames, S.identity_every_n_frames
    assert 1 < n <= 4  # the documented "within 4 frames" (20 s at a frame every 5 s)
    full = [seq for seq in range(1, 41) if passes(seq)[1]]
    identity = [seq for seq in range(1, 41) if passes(seq)[0]]
    assert full == list(range(1, 41, n))
    assert identity == list(range(1, 41, n_id))
    assert set(identity) <= set(full)
    for seq in range(1, 41):  # whatever came before, an identity frame is a full-resolution frame
        for last in (None, [], ["head_turned"], *([e] for e in EVENTS)):
            check, thorough = passes(seq, last)
            assert thorough or not check


def test_the_frame_after_an_event_gets_the_full_pass_and_identity_when_enrolled() -> None:
    ordinary = 2  # neither an identity nor a scheduled full frame
    assert passes(ordinary) == (False, False)
    assert passes(ordinary, ["head_turned", "loud_noise"]) == (False, False)
    for event in EVENTS:
        assert passes(ordinary, [event]) == (True, True), event
        assert passes(ordinary, [event], enrolled=False) == (False, True), event


def test_no_schedule_leaves_the_full_pass_to_identity_and_event_frames() -> None:
    assert frame_passes(5, None, True, identity_every_n=20, thorough_every_n=0) == (False, False)
    assert frame_passes(21, None, True, identity_every_n=20, thorough_every_n=0) == (True, True)
    assert frame_passes(5, ["several_faces"], False, identity_every_n=20, thorough_every_n=0) == (False, True)


def _room_with_a_small_second_face(seed: int) -> bytes:
    """The student close to the camera and, at the back, a 32 px face the ordinary pass gives no box."""
    canvas = ev._backgrounds()[0].copy()  # brick
    ev._person(canvas, ev._sources()["A"], ev.FACE_A, 140, 250, 230, True)
    ev._lfw_person(canvas, ev._lfw_faces()[0], 32, 520, 150)
    noisy = canvas.astype(np.float32) + np.random.default_rng(seed).normal(0, 2.0, canvas.shape)
    return ev._jpeg(noisy.clip(0, 255).astype(np.uint8), 85)


def test_a_second_face_only_the_full_pass_finds_is_reported_within_n_frames_and_then_on_every_frame() -> None:
    """An attempt's frames 2–13 (frame 1 was before the second person came in), through the same
    schedule as the worker: the ordinary frames miss the small face, the next scheduled full pass
    finds it, and from then on every frame is a full one (the previous found ``several_faces``)."""
    first_seq, last_found, found_at = 2, None, []
    ordinary_missed = 0
    for seq in range(first_seq, first_seq + 12):
        check, thorough = passes(seq, last_found, enrolled=False)
        result = run_job("frame", _room_with_a_small_second_face(seq), None, check, thorough)
        assert result["summary"]["full_pass"] is thorough
        if "several_faces" in result["found"]:
            found_at.append(seq)
        elif not thorough:
            ordinary_missed += 1
        last_found = result["found"]
    assert ordinary_missed >= 1  # the ordinary pass alone would not report this person
    assert found_at and found_at[0] - first_seq < S.thorough_every_n_frames
    assert found_at == list(range(found_at[0], first_seq + 12))


def test_an_identity_frame_is_analysed_at_full_resolution() -> None:
    frame = _room_with_a_small_second_face(1)
    assert run_job("frame", frame, [0.0] * 128, True, False)["summary"]["full_pass"] is True
    assert run_job("frame", frame, None, False, False)["summary"]["full_pass"] is False
