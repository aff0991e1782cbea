"""The attempt's pure rules, with a fake clock: no database, no network."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from exam_engine.domain import attempts as rules
from exam_engine.domain.attempts import AttemptStatus, FinishedBy, Result, TimeoutPolicy
from exam_engine.errors import Conflict, DeadlinePassed, InvalidInput

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_deadline_is_start_plus_duration_plus_extra_time():
    close = T0 + timedelta(hours=3)
    assert rules.compute_deadline(T0, 3600, 600, close) == T0 + timedelta(minutes=70)


def test_deadline_never_passes_the_window_close():
    close = T0 + timedelta(minutes=30)
    assert rules.compute_deadline(T0, 3600, 0, close) == close


def test_start_is_refused_before_the_window_and_after_it():
    opens, closes = T0, T0 + timedelta(hours=1)
    with pytest.raises(Conflict) as before:
        rules.check_can_start(T0 - timedelta(seconds=1), opens, closes)
    assert before.value.code == "exam_not_open"
    with pytest.raises(Conflict) as after:
        rules.check_can_start(closes, opens, closes)
    assert after.value.code == "exam_closed"
    rules.check_can_start(T0, opens, closes)


def test_answers_are_accepted_until_the_deadline_plus_grace_and_not_after():
    deadline = T0 + timedelta(minutes=20)
    rules.check_accepts_answers(AttemptStatus.IN_PROGRESS, deadline, deadline + timedelta(seconds=1), 1.0)
    with pytest.raises(DeadlinePassed):
        rules.check_accepts_answers(AttemptStatus.IN_PROGRESS, deadline, deadline + timedelta(seconds=1.001), 1.0)


def test_a_finished_attempt_accepts_no_answers_even_before_its_deadline():
    with pytest.raises(Conflict) as err:
        rules.check_accepts_answers(AttemptStatus.SUBMITTED, T0 + timedelta(hours=1), T0, 1.0)
    assert err.value.code == "attempt_finished"


@pytest.mark.parametrize(
    "current,target,allowed",
    [
        (AttemptStatus.IN_PROGRESS, AttemptStatus.SUBMITTED, True),
        (AttemptStatus.IN_PROGRESS, AttemptStatus.TIMED_OUT, True),
        (AttemptStatus.SUBMITTED, AttemptStatus.ANNULLED, True),
        (AttemptStatus.TIMED_OUT, AttemptStatus.ANNULLED, True),
        (AttemptStatus.SUBMITTED, AttemptStatus.IN_PROGRESS, False),
        (AttemptStatus.TIMED_OUT, AttemptStatus.SUBMITTED, False),
        (AttemptStatus.ANNULLED, AttemptStatus.SUBMITTED, False),
        (AttemptStatus.IN_PROGRESS, AttemptStatus.ANNULLED, False),
    ],
)
def test_a_completed_attempt_never_goes_back(current, target, allowed):
    if allowed:
        rules.check_transition(current, target)
    else:
        with pytest.raises(Conflict):
            rules.check_transition(current, target)


@pytest.mark.parametrize(
    "correct,total,score",
    [
        (0, 25, 0),
        (25, 25, 100),
        (1, 3, 33),
        (2, 3, 67),
        (1, 8, 13),
        (1, 40, 3),
        (1, 200, 1),
        (1, 201, 0),
        (49, 100, 49),
        (99, 200, 50),
    ],
)
def test_score_is_a_percentage_rounded_half_up_with_integers(correct, total, score):
    assert rules.score_percent(correct, total) == score


def _keys(n: int) -> dict[int, int]:
    return {p: 0 for p in range(1, n + 1)}


def test_a_timed_out_attempt_is_unsatisfactory_under_the_default_policy_but_keeps_its_raw_score():
    deadline = T0 + timedelta(minutes=20)
    g = rules.grade(
        timed_out=True,
        deadline_at=deadline,
        now=deadline + timedelta(seconds=7),
        keys=_keys(4),
        choices={1: 0, 2: 0, 3: 0, 4: 0},
        pass_score=50,
        policy=TimeoutPolicy.UNSATISFACTORY,
    )
    assert g.status is AttemptStatus.TIMED_OUT and g.result is Result.UNSATISFACTORY
    assert g.score == 100 and g.correct_count == 4
    assert g.submitted_at == deadline and g.finished_by is FinishedBy.DEADLINE


def test_a_timed_out_attempt_is_graded_on_saved_answers_under_the_alternative_policy():
    deadline = T0 + timedelta(minutes=20)
    g = rules.grade(
        timed_out=True,
        deadline_at=deadline,
        now=deadline,
        keys=_keys(4),
        choices={1: 0, 2: 0, 3: 1},
        pass_score=50,
        policy=TimeoutPolicy.GRADE_SAVED,
    )
    assert g.result is Result.PASSED and g.score == 50
    g2 = rules.grade(
        timed_out=True,
        deadline_at=deadline,
        now=deadline,
        keys=_keys(4),
        choices={1: 0},
        pass_score=50,
        policy=TimeoutPolicy.GRADE_SAVED,
    )
    assert g2.result is Result.UNSATISFACTORY and g2.score == 25


def test_a_submitted_attempt_records_the_submit_time_and_passes_at_the_threshold():
    now = T0 + timedelta(minutes=5)
    g = rules.grade(
        timed_out=False,
        deadline_at=T0 + timedelta(minutes=20),
        now=now,
        keys=_keys(2),
        choices={1: 0, 2: None},
        pass_score=50,
        policy=TimeoutPolicy.UNSATISFACTORY,
    )
    assert g.status is AttemptStatus.SUBMITTED and g.submitted_at == now and g.result is Result.PASSED


def _pool(n: int, options: int = 5) -> list[rules.SourceItem]:
    return [
        rules.SourceItem(id=i, text=f"q{i}", options=tuple(f"o{i}.{k}" for k in range(options)), correct=i % options)
        for i in range(1, n + 1)
    ]


def test_a_form_keeps_each_items_key_through_the_shuffle():
    pool = _pool(30)
    form = rules.build_form(pool, 10, random.Random(7))
    by_id = {p.id: p for p in pool}
    assert [s.position for s in form] == list(range(1, 11))
    assert len({s.bank_item_id for s in form}) == 10
    for served in form:
        source = by_id[served.bank_item_id]
        assert sorted(served.options) == sorted(source.options)
        assert served.options[served.key_index] == source.options[source.correct]


def test_forms_differ_between_students():
    pool = _pool(30)
    a = rules.build_form(pool, 10, random.Random(1))
    b = rules.build_form(pool, 10, random.Random(2))
    assert [(s.bank_item_id, s.options) for s in a] != [(s.bank_item_id, s.options) for s in b]


def test_a_form_cannot_need_more_questions_than_the_bank_has():
    with pytest.raises(InvalidInput) as err:
        rules.build_form(_pool(3), 4, random.Random(1))
    assert err.value.code == "bank_too_small"


def test_a_choice_outside_the_options_is_refused():
    rules.check_choice(None, 5)
    rules.check_choice(4, 5)
    for bad in (-1, 5):
        with pytest.raises(InvalidInput):
            rules.check_choice(bad, 5)
