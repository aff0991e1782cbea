"""The gate before the journal as pure rules (issue 25): finality, hold expiry, decisions, regrading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from exam_engine.config import load_settings
from exam_engine.domain.attempts import AttemptStatus, TimeoutPolicy, grade
from exam_engine.domain.holds import HoldPolicy, accepted_options, hold_expires_at, results_final
from exam_engine.errors import ConfigError, InvalidInput
from question_bank.analysis import Flag, GatePolicy, ItemStats, analyse_items, held_items, hold_reasons

KZ = timezone(timedelta(hours=5))
T0 = datetime(2026, 6, 2, 9, 0, tzinfo=KZ)


def test_results_are_final_when_nothing_is_open_and_the_window_closed_or_everyone_finished():
    closes = T0 + timedelta(hours=3)
    assert not results_final(now=T0, window_closes_at=closes, open_attempts=0, assigned=3, finished_assigned=2)
    assert results_final(now=T0, window_closes_at=closes, open_attempts=0, assigned=3, finished_assigned=3)
    assert results_final(now=closes, window_closes_at=closes, open_attempts=0, assigned=3, finished_assigned=1)
    assert not results_final(now=closes, window_closes_at=closes, open_attempts=1, assigned=3, finished_assigned=2)
    assert not results_final(now=T0, window_closes_at=closes, open_attempts=0, assigned=0, finished_assigned=0)


def test_a_hold_expires_at_the_end_of_its_exam_day_in_local_time():
    policy = HoldPolicy(release_at=(23, 59))
    assert hold_expires_at(T0, policy) == datetime(2026, 6, 2, 23, 59, tzinfo=KZ)
    late = datetime(2026, 6, 2, 23, 59, 30, tzinfo=KZ)  # held after the time: the next day's
    assert hold_expires_at(late, policy) == datetime(2026, 6, 3, 23, 59, tzinfo=KZ)
    # 20:00 UTC is 01:00 local on the next day: the local day counts, not the UTC one.
    utc = datetime(2026, 6, 2, 20, 0, tzinfo=UTC)
    assert hold_expires_at(utc, HoldPolicy(release_at=(18, 0))) == datetime(2026, 6, 3, 18, 0, tzinfo=KZ)


def test_a_decision_names_its_options_as_its_action_needs():
    assert accepted_options("rekey", [2], 5) == frozenset({2})
    assert accepted_options("accept", [0, 2], 5) == frozenset({0, 2})
    assert accepted_options("drop", [], 5) is None
    for action, options in (
        ("rekey", [1, 2]),
        ("rekey", []),
        ("accept", [1]),
        ("drop", [0]),
        ("rekey", [5]),
        ("accept", [1, 1]),
        ("swap", [1]),
    ):
        with pytest.raises(ValueError):
            accepted_options(action, options, 5)


KEYS = {1: 0, 2: 3, 3: 1, 4: 2}
CHOICES = {1: 2, 2: 3, 3: 1, 4: None}


def _grade(accepted=None, timed_out=False):  # type: ignore[no-untyped-def]
    return grade(
        timed_out=timed_out,
        deadline_at=T0,
        now=T0 - timedelta(minutes=5),
        keys=KEYS,
        choices=CHOICES,
        pass_score=50,
        policy=TimeoutPolicy.UNSATISFACTORY,
        accepted=accepted,
    )


def test_regrading_applies_a_new_key_accepted_options_and_a_dropped_question_deterministically():
    assert (_grade().correct_count, _grade().score) == (2, 50)
    assert (_grade({1: frozenset({2})}).correct_count, _grade({1: frozenset({2})}).score) == (3, 75)
    assert _grade({1: frozenset({0, 2})}).score == 75
    dropped = _grade({4: None})
    assert (dropped.correct_count, dropped.score) == (2, 67)  # 2 of the 3 questions still scored
    assert _grade({1: frozenset({2}), 4: None}) == _grade({1: frozenset({2}), 4: None})
    late = _grade({1: frozenset({2})}, timed_out=True)
    assert (late.status, late.submitted_at, late.score, late.result.value) == (
        AttemptStatus.TIMED_OUT,
        T0,
        75,
        "unsatisfactory",
    )  # E1 stands: the raw score changes, not the policy
    with pytest.raises(InvalidInput):
        _grade({1: None, 2: None, 3: None, 4: None})


def _item(flags, attempts=20, discrimination=-0.05):  # type: ignore[no-untyped-def]
    return ItemStats("i", 0, attempts, 5, 0.25, discrimination, (5, 15), 0, (0, 6), tuple(flags))


def test_the_gate_holds_on_a_miskey_or_a_clearly_negative_discrimination_with_enough_attempts():
    policy = GatePolicy(min_attempts=10, discrimination_below=-0.2)
    assert hold_reasons(_item([Flag.MISKEYED]), policy) == (Flag.MISKEYED,)
    assert hold_reasons(_item([Flag.NEGATIVE_DISCRIMINATION]), policy) == ()  # −0.05 is noise
    assert hold_reasons(_item([Flag.NEGATIVE_DISCRIMINATION], discrimination=-0.4), policy) == (
        Flag.NEGATIVE_DISCRIMINATION,
    )
    assert hold_reasons(_item([Flag.MISKEYED], attempts=9), policy) == ()
    assert hold_reasons(_item([Flag.NOBODY_CORRECT]), policy) == ()


def test_the_reported_miskeyed_bank_is_held_on_exactly_that_item():
    # 20 students, 12 questions; question "m" is stored with key 0 but the 8 strongest pick 1.
    responses = []
    for n in range(20):
        strong = n < 8
        answers = {f"q{q}": 0 if strong or q < n % 6 else 3 for q in range(11)}
        responses.append({**answers, "m": 1 if strong else 0})
    analysis = analyse_items(responses, {**{f"q{q}": 0 for q in range(11)}, "m": 0})
    held = held_items(analysis, GatePolicy())
    assert list(held) == ["m"] and set(held["m"]) == {Flag.MISKEYED, Flag.NEGATIVE_DISCRIMINATION}


def test_the_hold_settings_are_read_and_checked():
    base = {"EXAM_DATABASE_URL": "sqlite:///x.db", "EXAM_SECRET_KEY": "k" * 40, "EXAM_DATA_DIR": "/tmp/h25-cfg"}
    settings = load_settings(
        {**base, "EXAM_HOLD_RELEASE_AT": "18:30", "EXAM_HOLD_MIN_ATTEMPTS": "15", "EXAM_HOLD_DISCRIMINATION": "-0.3"}
    )
    assert (settings.hold_release_at, settings.hold_min_attempts, settings.hold_discrimination) == ((18, 30), 15, -0.3)
    assert load_settings(base).hold_release_at == (23, 59)
    for name, value in (
        ("EXAM_HOLD_RELEASE_AT", "25:00"),
        ("EXAM_HOLD_RELEASE_AT", "evening"),
        ("EXAM_HOLD_MIN_ATTEMPTS", "1"),
        ("EXAM_HOLD_DISCRIMINATION", "0.5"),
    ):
        with pytest.raises(ConfigError, match=name):
            load_settings({**base, name: value})
