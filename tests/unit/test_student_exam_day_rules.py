"""Issue 20's pure rules: the time-left warnings, the checks phase, "needs help"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from exam_engine.domain import attempts as rules
from exam_engine.domain import exam_day
from exam_engine.domain.attempts import AttemptStatus, TimeWarning, time_warning
from exam_engine.domain.exam_day import LiveState
from exam_engine.errors import Conflict
from exam_engine.services.attempt_checks import clock_deadline

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _left(seconds: float) -> TimeWarning | None:
    return time_warning(T0 + timedelta(seconds=seconds), T0)


def test_a_late_entrant_with_2_43_left_is_warned_of_3_minutes_not_5():
    assert _left(163) == TimeWarning(threshold_s=300, minutes_left=3)


@pytest.mark.parametrize(
    "left, expected",
    [
        (3600, None),
        (300.5, None),  # more than the widest band: no warning
        (300, TimeWarning(300, 5)),
        (299, TimeWarning(300, 5)),
        (241, TimeWarning(300, 5)),
        (240, TimeWarning(300, 4)),
        (61, TimeWarning(300, 2)),
        (60, TimeWarning(60, 1)),
        (59.2, TimeWarning(60, 1)),
        (1, TimeWarning(60, 1)),
        (0, None),
        (-5, None),  # over: the time-up message, not a warning
    ],
)
def test_the_warning_is_the_band_the_real_time_left_is_in(left, expected):
    assert _left(left) == expected


def test_the_warning_bands_can_be_chosen():
    assert time_warning(T0 + timedelta(seconds=500), T0, thresholds=(600, 120)) == TimeWarning(600, 9)


def test_an_attempt_in_its_checks_takes_no_answers_but_takes_evidence_until_the_window_closes():
    close = T0 + timedelta(hours=1)
    with pytest.raises(Conflict) as refused:
        rules.check_accepts_answers(AttemptStatus.CHECKS, close, T0, 1.0)
    assert refused.value.code == "attempt_in_checks"
    rules.check_accepts_evidence(AttemptStatus.CHECKS, close, T0, 1.0)  # consent, photo, room scan: fine
    with pytest.raises(Conflict) as closed:
        rules.check_accepts_evidence(AttemptStatus.CHECKS, close, close + timedelta(seconds=2), 1.0)
    assert closed.value.code == "exam_closed"


def test_checks_lead_only_into_the_exam_or_to_the_end():
    rules.check_transition(AttemptStatus.CHECKS, AttemptStatus.IN_PROGRESS)
    rules.check_transition(AttemptStatus.CHECKS, AttemptStatus.TIMED_OUT)
    with pytest.raises(Conflict):
        rules.check_transition(AttemptStatus.CHECKS, AttemptStatus.PAUSED)
    with pytest.raises(Conflict):
        rules.check_transition(AttemptStatus.IN_PROGRESS, AttemptStatus.CHECKS)
    assert AttemptStatus.CHECKS in rules.OPEN_STATUSES


def test_the_clock_deadline_is_fixed_when_the_checks_pass_within_the_window():
    row = SimpleNamespace(
        duration_s=180,
        extra_s=60,
        multiplier_pct=100,
        closes_at=T0 + timedelta(hours=1),
        personal_closes_at=None,
        deadline_at=T0 + timedelta(hours=1),
    )
    passed = T0 + timedelta(minutes=7)
    assert clock_deadline(row, passed) == passed + timedelta(seconds=240)
    late = T0 + timedelta(minutes=58)
    assert clock_deadline(row, late) == T0 + timedelta(hours=1)  # the window close still bounds it


def test_a_student_in_the_checks_needs_help_after_a_failure_or_three_minutes():
    state = lambda since, failed, now: exam_day.live_state(  # noqa: E731
        "checks", False, now, now, 60, checks_since=since, failed_checks=failed
    )
    assert state(T0, 0, T0 + timedelta(seconds=30)) is LiveState.CHECKS
    assert state(T0, 1, T0 + timedelta(seconds=30)) is LiveState.NEEDS_HELP
    assert state(T0, 0, T0 + timedelta(seconds=exam_day.NEEDS_HELP_AFTER_S)) is LiveState.NEEDS_HELP
    assert exam_day.live_state("in_progress", False, T0, T0, 60, failed_checks=3) is LiveState.WRITING


def test_the_camera_check_looks_for_a_face_not_for_brightness():
    import cv2
    import numpy as np

    from exam_engine.services.attempt_checks import camera_verdict
    from proctor.settings import ProctorSettings
    from tests.unit.proctor import scenes as sc

    settings = ProctorSettings()
    wall = sc.live(sc.wall(), 1)
    assert cv2.imdecode(np.frombuffer(wall, np.uint8), cv2.IMREAD_GRAYSCALE).mean() > 60  # a lit picture
    assert camera_verdict(wall, settings) == {"ok": False, "reason": "no_face", "faces": 0}
    assert camera_verdict(sc.live(sc.person(), 2), settings) == {"ok": True, "reason": "ok", "faces": 1}
    black = cv2.imencode(".jpg", np.zeros((480, 640, 3), np.uint8))[1].tobytes()
    assert camera_verdict(black, settings)["reason"] in ("covered", "dark")


def test_a_passed_camera_check_counts_for_ten_minutes():
    from exam_engine.services.attempt_checks import CAMERA_CHECK_VALID_S, camera_passed

    seen = {"ok": True, "reason": "ok", "faces": 1, "at": T0.isoformat()}
    assert camera_passed(seen, T0 + timedelta(seconds=CAMERA_CHECK_VALID_S))
    assert not camera_passed(seen, T0 + timedelta(seconds=CAMERA_CHECK_VALID_S + 1))
    assert not camera_passed({**seen, "ok": False, "reason": "no_face"}, T0)
    assert not camera_passed(None, T0)
