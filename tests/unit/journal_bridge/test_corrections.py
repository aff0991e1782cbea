"""Corrections: filed with a reason, approved by the right head only, applied even after the lock (J5, J6)."""

from datetime import date, datetime, timedelta, timezone

import pytest

from journal_bridge.corrections import (
    CorrectionState,
    apply_correction,
    decide_review,
    file_correction,
    review_correction,
)
from journal_bridge.errors import CorrectionInvalid
from journal_bridge.marks import Cell
from journal_bridge.rules import Action, Actor, JournalAccess, Role

KZ = timezone(timedelta(hours=5))
LESSON = date(2026, 3, 10)
TEACHER = Actor("t1", frozenset({Role.TEACHER}))
DEPUTY = Actor("dep", frozenset({Role.DEPUTY_HEAD}))
FACULTY_HEAD = Actor("fh", frozenset({Role.FACULTY_HEAD}))
TEACHER_AND_DEPUTY = Actor("t1", frozenset({Role.TEACHER, Role.DEPUTY_HEAD}))
JOURNAL = JournalAccess("j1", frozenset({"t1"}), period_closes_at=datetime(2026, 6, 30, tzinfo=KZ))


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=KZ)


def _change(now=None, action=Action.CHANGE, unsatisfactory=False, reason="typed 58 instead of 85"):
    return file_correction(
        TEACHER,
        JOURNAL,
        correction_id="c1",
        student_id="s1",
        lesson_date=LESSON,
        action=action,
        old_value=Cell(score=58),
        new_value=Cell(score=85),
        reason=reason,
        now=now or at(3, 15),
        grade_unsatisfactory=unsatisfactory,
    )


def test_a_change_is_filed_approved_by_a_deputy_head_and_applied_after_the_period_closed():
    filed = _change()
    assert (filed.state, filed.approver_role, filed.old_value, filed.filed_by) == (
        CorrectionState.FILED,
        Role.DEPUTY_HEAD,
        Cell(score=58),
        "t1",
    )
    approved = review_correction(DEPUTY, filed, approve=True, now=at(3, 16), note="ok")
    applied = apply_correction(approved, now=at(7, 15))  # after period_closes_at
    assert (applied.state, applied.reviewed_by, applied.applied_at) == (CorrectionState.APPLIED, "dep", at(7, 15))


@pytest.mark.parametrize(
    ("reviewer", "reason"),
    [(FACULTY_HEAD, "approver_wrong_role"), (TEACHER, "approver_wrong_role"), (TEACHER_AND_DEPUTY, "self_approval")],
)
def test_only_a_deputy_head_other_than_the_filer_approves_a_change(reviewer, reason):
    filed = _change()
    assert decide_review(reviewer, filed, at(3, 16)).reason.value == reason
    with pytest.raises(CorrectionInvalid) as error:
        review_correction(reviewer, filed, approve=True, now=at(3, 16))
    assert error.value.code == reason


def test_a_rejected_or_unreviewed_correction_is_never_applied():
    filed = _change()
    rejected = review_correction(DEPUTY, filed, approve=False, now=at(3, 16))
    for correction in (filed, rejected):
        with pytest.raises(CorrectionInvalid) as error:
            apply_correction(correction, now=at(3, 17))
        assert error.value.code == "correction_illegal_transition"
    assert decide_review(DEPUTY, rejected, at(3, 17)).reason.value == "correction_not_pending"


def test_deleting_an_unsatisfactory_grade_goes_to_the_faculty_head_within_two_weeks():
    filed = _change(action=Action.DELETE_GRADE, unsatisfactory=True, now=at(3, 11))
    assert filed.approver_role is Role.FACULTY_HEAD
    assert decide_review(DEPUTY, filed, at(3, 12)).reason.value == "approver_wrong_role"
    assert decide_review(FACULTY_HEAD, filed, at(3, 24)).allowed
    assert decide_review(FACULTY_HEAD, filed, at(3, 25)).reason.value == "deletion_window_passed"


def test_a_correction_needs_a_reason_and_a_change_that_needs_one():
    for kwargs, code in (
        (dict(reason="  "), "correction_reason_missing"),
        (dict(action=Action.ENTER, now=at(3, 11)), "correction_not_needed"),
        (dict(action=Action.DELETE_LESSON, now=at(3, 26)), "deletion_window_passed"),
    ):
        with pytest.raises(CorrectionInvalid) as error:
            _change(**kwargs)
        assert error.value.code == code
