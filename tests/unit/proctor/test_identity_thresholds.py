"""The identity thresholds measured on three generated sets (docs/proctoring.md §6): "same" ends at
0.47, since a stranger made from a 25 px LFW crop scored 0.497; such a frame is "unknown" and
does not end a pending "different person" that the next frame confirms."""

from __future__ import annotations

import numpy as np

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
    """What the analysis of a frame reports for identity (proctor.analysis.frame.analyze_frame)."""
    result = compare(ENROLMENT, _at(distance), S)
    kind = frozenset({FlagKind.IDENTITY_MISMATCH})
    checked = kind if result.verdict is not Verdict.UNKNOWN else frozenset()
    found = kind if result.verdict is Verdict.DIFFERENT else frozenset()
    return FrameObservation(frame_id, t, found, checked)


def test_a_stranger_at_0_497_is_unknown_not_the_same_person() -> None:
    result = compare(ENROLMENT, _at(0.497), S)
    assert result.verdict is Verdict.UNKNOWN and result.reason is UnknownReason.BORDERLINE
    assert compare(ENROLMENT, _at(0.46), S).verdict is Verdict.SAME
    assert compare(ENROLMENT, _at(0.69), S).verdict is Verdict.UNKNOWN
    assert compare(ENROLMENT, _at(0.70), S).verdict is Verdict.DIFFERENT


def test_a_stranger_frame_near_the_same_threshold_does_not_end_a_pending_different_person() -> None:
    frames = [_observation("1", 0.0, 0.78), _observation("2", 5.0, 0.497), _observation("3", 10.0, 0.76)]
    assert [flag.kind for flag in attempt_flags(frames, settings=S)] == [FlagKind.IDENTITY_MISMATCH]
    # A frame that is surely the student ends it: the two "different" frames are not confirmed.
    frames[1] = _observation("2", 5.0, 0.30)
    assert attempt_flags(frames, settings=S) == []
