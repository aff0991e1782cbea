"""The identity thresholds measured on three generated sets (docs/proctoring.md §6): "same" ends at
0.47, since a stranger made from a 25 px LFW crop scored 0.497; such a frame is "unknown" and
does not end a pending "different person" that the next frame confirms."""

from __future__ import annotations

import numpy as np

from proctor.analysis.frame import identity_findings
from proctor.analysis.identity import Descriptor, UnknownReason, Verdict, compare
from proctor.flags import attempt_flags
from proctor.kinds import FlagKind
from proctor.settings import ProctorSettings
from proctor.signals import FrameObservation

S = ProctorSettings()
ENROLMENT = Descriptor(tuple([0.0] * 128))


def _at(distance: float) -> Descriptor:
    vector = np.zeros(128)
    vector[0] = distance
    return Descriptor(tuple(float(v) for v in vector))


def _observation(frame_id: str, t: float, distance: float) -> FrameObservation:
    """What the analysis of a frame reports for identity (the frame analysis's own mapping)."""
    found, checked = identity_findings(compare(ENROLMENT, _at(distance), S))
    return FrameObservation(frame_id, t, found, checked)


def test_a_stranger_at_0_497_is_unknown_not_the_same_person() -> None:
    result = compare(ENROLMENT, _at(0.497), S)
    assert result.verdict is Verdict.UNKNOWN and result.reason is UnknownReason.BORDERLINE
    assert compare(ENROLMENT, _at(0.46), S).verdict is Verdict.SAME
    assert compare(ENROLMENT, _at(0.69), S).verdict is Verdict.UNKNOWN
    assert compare(ENROLMENT, _at(0.70), S).verdict is Verdict.DIFFERENT


def test_a_stranger_frame_near_the_same_threshold_does_not_end_a_pending_different_person() -> None:
    frames = [_observation("1", 0.0, 0.78), _observation("2", 5.0, 0.497), _observation("3", 10.0, 0.76)]
    flags = attempt_flags(frames, settings=S)
    assert [flag.kind for flag in flags] == [FlagKind.IDENTITY_MISMATCH]
    assert flags[0].evidence_ids == ("1", "3")
    # A frame that is surely the student ends it: the two "different" frames are not confirmed.
    frames[1] = _observation("2", 5.0, 0.30)
    assert attempt_flags(frames, settings=S) == []


def test_two_undecided_checks_in_a_row_are_put_before_a_person_as_identity_not_confirmed() -> None:
    # LFW strangers made from 25 px crops measured 0.50-0.59 on every frame: never "different".
    frames = [_observation("1", 0.0, 0.54), _observation("2", 5.0, 0.55), _observation("3", 10.0, 0.52)]
    flags = attempt_flags(frames, settings=S)
    assert [(flag.kind, flag.severity.value, flag.count) for flag in flags] == [
        (FlagKind.IDENTITY_UNCONFIRMED, "low", 3)
    ]
    # One undecided check between two sure ones is not a flag, and a sure "same" ends the run.
    single = [_observation("1", 0.0, 0.30), _observation("2", 5.0, 0.55), _observation("3", 10.0, 0.30)]
    assert attempt_flags(single, settings=S) == []
    broken = [_observation("1", 0.0, 0.55), _observation("2", 5.0, 0.30), _observation("3", 10.0, 0.55)]
    assert attempt_flags(broken, settings=S) == []


def test_an_identity_check_that_could_not_compare_is_neither_confirmation_nor_doubt() -> None:
    for reason in (UnknownReason.NO_FACE, UnknownReason.SEVERAL_FACES, UnknownReason.FACE_TOO_SMALL):
        frames = [
            _observation("1", 0.0, 0.55),
            FrameObservation("2", 5.0, *identity_findings(compare(ENROLMENT, Descriptor(None, reason), S))),
            _observation("3", 10.0, 0.56),
        ]
        assert [flag.kind for flag in attempt_flags(frames, settings=S)] == [FlagKind.IDENTITY_UNCONFIRMED], reason
