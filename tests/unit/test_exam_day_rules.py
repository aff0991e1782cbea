"""Exam-day rules without a database: pause arithmetic, grants, live states, downtime, reschedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from babel.messages.extract import extract_from_file

from exam_engine.domain import attempts as rules
from exam_engine.domain import exam_day
from exam_engine.domain.attempts import AttemptStatus
from exam_engine.domain.exam_day import Interval, LiveState
from exam_engine.errors import Conflict, InvalidInput
from exam_engine.i18n import LANGUAGES, catalog
from exam_engine.services.attempt_binding import Binding, verdict

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_pause_keeps_the_remaining_time_and_resume_moves_the_deadline_by_the_paused_time():
    deadline = at(60)
    assert rules.remaining_s(AttemptStatus.PAUSED, deadline, at(50), paused_at=at(20)) == 40 * 60
    moved = rules.resumed_deadline(deadline, paused_at=at(20), now=at(35))
    assert moved == at(75)
    assert rules.remaining_s(AttemptStatus.IN_PROGRESS, moved, at(35), None) == 40 * 60


def test_a_paused_attempt_accepts_no_answers_with_its_own_code():
    with pytest.raises(Conflict) as err:
        rules.check_accepts_answers(AttemptStatus.PAUSED, at(60), at(10), 1.0)
    assert err.value.code == "attempt_paused"


@pytest.mark.parametrize(
    "status,deadline,code",
    [
        (AttemptStatus.PAUSED, at(60), "attempt_already_paused"),
        (AttemptStatus.SUBMITTED, at(60), "attempt_finished"),
        (AttemptStatus.IN_PROGRESS, at(10), "attempt_time_up"),
    ],
)
def test_only_a_running_attempt_with_time_left_can_be_paused(status, deadline, code):
    with pytest.raises(Conflict) as err:
        rules.check_can_pause(status, deadline, at(10))
    assert err.value.code == code
    rules.check_can_pause(AttemptStatus.IN_PROGRESS, at(60), at(10))


def test_a_paused_attempt_can_never_time_out_and_a_finished_one_never_pauses():
    with pytest.raises(Conflict):
        rules.check_transition(AttemptStatus.PAUSED, AttemptStatus.TIMED_OUT)
    with pytest.raises(Conflict):
        rules.check_transition(AttemptStatus.SUBMITTED, AttemptStatus.PAUSED)
    rules.check_transition(AttemptStatus.IN_PROGRESS, AttemptStatus.PAUSED)
    rules.check_transition(AttemptStatus.PAUSED, AttemptStatus.IN_PROGRESS)
    rules.check_transition(AttemptStatus.PAUSED, AttemptStatus.SUBMITTED)


def test_a_grant_moves_the_deadline_up_to_the_cap_and_never_backwards():
    assert rules.granted_deadline(at(60), 600, cap=at(120)) == at(70)
    assert rules.granted_deadline(at(60), 600, cap=at(65)) == at(65)
    assert rules.granted_deadline(at(60), 600, cap=at(50)) == at(60)
    with pytest.raises(Conflict) as err:
        exam_day.check_window_cap(at(60), at(60))
    assert err.value.code == "window_cap_reached"


def test_the_grant_cap_is_the_window_plus_the_time_lost_to_pauses():
    assert exam_day.grant_cap(at(120), 300) == at(125)


def test_an_accommodation_is_minutes_plus_a_multiplier_of_the_duration():
    assert rules.accommodated_extra_s(3600, 0, 150) == 1800
    assert rules.accommodated_extra_s(3600, 600, 100) == 600
    assert rules.accommodated_extra_s(3600, 600, 125) == 1500
    assert exam_day.multiplier_pct(1.5) == 150
    for bad in (1.0, 0.5, 4.01, float("nan"), float("inf")):
        with pytest.raises(InvalidInput):
            exam_day.multiplier_pct(bad)


@pytest.mark.parametrize(
    "status,in_lobby,seen_s_ago,state",
    [
        (None, False, None, LiveState.ABSENT),
        (None, True, 5, LiveState.LOBBY),
        ("in_progress", False, 10, LiveState.WRITING),
        ("in_progress", False, 61, LiveState.SILENT),
        ("in_progress", False, None, LiveState.SILENT),
        ("paused", False, 600, LiveState.PAUSED),
        ("submitted", True, 1, LiveState.FINISHED),
        ("annulled", False, None, LiveState.FINISHED),
    ],
)
def test_each_student_has_one_live_state(status, in_lobby, seen_s_ago, state):
    seen = None if seen_s_ago is None else at(10) - timedelta(seconds=seen_s_ago)
    assert exam_day.live_state(status, in_lobby, seen, at(10), 60) is state


def test_last_seen_is_written_at_most_every_fifteen_seconds():
    assert exam_day.presence_due(None, at(0))
    assert not exam_day.presence_due(at(0), at(0) + timedelta(seconds=14.9))
    assert exam_day.presence_due(at(0), at(0) + timedelta(seconds=15))


def test_downtime_is_the_part_of_the_span_no_process_covered():
    up = [Interval(at(0), at(10)), Interval(at(15), at(30))]
    gaps = exam_day.outages(up, Interval(at(5), at(30)), tolerance_s=5, min_gap_s=10)
    assert gaps == [Interval(at(10) + timedelta(seconds=5), at(15))]
    assert exam_day.creditable_s(gaps, 0) == 295
    assert exam_day.creditable_s(gaps, 295) == 0


def test_overlapping_processes_leave_no_gap_and_short_stalls_are_noise():
    up = [Interval(at(0), at(10)), Interval(at(9), at(20)), Interval(at(20) + timedelta(seconds=8), at(30))]
    assert exam_day.outages(up, Interval(at(0), at(30)), tolerance_s=5, min_gap_s=10) == []


def test_a_student_who_started_cannot_be_rescheduled():
    exam_day.check_reschedulable(None)
    for status in ("in_progress", "paused", "submitted", "timed_out", "annulled"):
        with pytest.raises(Conflict) as err:
            exam_day.check_reschedulable(status)
        assert err.value.code == "reschedule_is_retake"


@pytest.mark.parametrize(
    "opens,closes,code",
    [
        (at(60), at(30), "invalid_window"),
        (at(-120), at(-60), "window_in_past"),
        (at(60), at(60 * 24 * 40), "window_outside_session"),
    ],
)
def test_a_personal_window_must_be_real_future_and_inside_the_session(opens, closes, code):
    with pytest.raises(InvalidInput) as err:
        exam_day.check_personal_window(opens, closes, at(0), date(2026, 6, 1), date(2026, 6, 30))
    assert err.value.code == code
    exam_day.check_personal_window(at(60 * 24), at(60 * 26), at(0), date(2026, 6, 1), date(2026, 6, 30))


def test_reasons_and_documents_are_required():
    for check in (exam_day.check_reason, exam_day.check_document_ref):
        with pytest.raises(InvalidInput):
            check("   ")
    assert exam_day.check_reason("  camera died ") == "camera died"


@pytest.mark.parametrize(
    "bound,released,session,expected",
    [
        ("a", None, "a", Binding.ALLOW),
        ("a", None, None, Binding.ALLOW),
        ("a", None, "b", Binding.REFUSE),
        (None, "a", "b", Binding.CLAIM),
        (None, "a", "a", Binding.REFUSE),
        (None, None, "a", Binding.CLAIM),
    ],
)
def test_one_session_per_attempt(bound, released, session, expected):
    assert verdict(bound, released, session) is expected


EXAM_DAY_FILES = [
    "exam_engine/domain/exam_day.py",
    "exam_engine/domain/attempts.py",
    "exam_engine/services/attempt_binding.py",
    "exam_engine/services/live_control.py",
    "exam_engine/services/live_view.py",
    "exam_engine/services/lobby.py",
    "exam_engine/services/terms.py",
    "exam_engine/web/api_live.py",
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_exam_day_message_has_a_kazakh_and_russian_translation(language):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    ids = {m for f in EXAM_DAY_FILES for _l, m, _c, _x in extract_from_file("python", root / f, keywords={"N_": None})}
    assert len(ids) > 20
    missing = sorted(m for m in ids if not catalog(language).get(m))
    assert not missing, missing
