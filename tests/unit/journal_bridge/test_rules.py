"""The permission matrix: who may enter or change which cell, and when (R3, R4, J4–J7)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from journal_bridge.rules import (
    Action,
    Actor,
    ChangePolicy,
    JournalAccess,
    Role,
    SubstitutePermission,
    Verdict,
    decide_change,
)

KZ = timezone(timedelta(hours=5))
LESSON = date(2026, 3, 10)


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=KZ)


ACTORS = {
    "teacher": Actor("t1", frozenset({Role.TEACHER})),
    "other_teacher": Actor("t2", frozenset({Role.TEACHER})),
    "substitute": Actor("sub", frozenset({Role.TEACHER})),
    "substitute_by_deputy": Actor("sub2", frozenset({Role.TEACHER})),
    "deputy_head": Actor("dep", frozenset({Role.DEPUTY_HEAD})),
    "faculty_head": Actor("fh", frozenset({Role.FACULTY_HEAD})),
    "sysadmin": Actor("root", frozenset({Role.SYSADMIN})),
    "student": Actor("s1", frozenset({Role.STUDENT})),
}
JOURNAL = JournalAccess(
    journal_id="j1",
    teacher_ids=frozenset({"t1"}),
    period_closes_at=datetime(2026, 6, 30, tzinfo=KZ),
    substitutes=(
        SubstitutePermission("sub", "j1", at(10, 8), at(13, 0), "fh", Role.FACULTY_HEAD),
        SubstitutePermission("sub", "j2", at(1), at(30), "fh", Role.FACULTY_HEAD),
        SubstitutePermission("sub2", "j1", at(1), at(30), "dep", Role.DEPUTY_HEAD),
    ),
)
CLOSED = JournalAccess("j1", frozenset({"t1"}), period_closes_at=at(11, 12), substitutes=JOURNAL.substitutes)

A, N, D = Verdict.ALLOW, Verdict.NEEDS_CORRECTION, Verdict.DENY
MATRIX = [
    # actor, journal, action, unsatisfactory, now, verdict, reason, approver
    ("teacher", JOURNAL, Action.ENTER, False, at(10, 18), A, "within_entry_window", None),
    ("teacher", JOURNAL, Action.ENTER, False, at(12, 23, 59), A, "within_entry_window", None),
    ("teacher", JOURNAL, Action.ENTER, False, at(13, 0, 1), N, "entry_window_passed", Role.DEPUTY_HEAD),
    ("teacher", JOURNAL, Action.ENTER, False, at(9, 23), D, "lesson_in_future", None),
    ("teacher", JOURNAL, Action.CHANGE, False, at(10, 18), N, "value_already_entered", Role.DEPUTY_HEAD),
    ("teacher", JOURNAL, Action.DELETE_GRADE, False, at(11), N, "value_already_entered", Role.DEPUTY_HEAD),
    ("teacher", JOURNAL, Action.DELETE_GRADE, True, at(11), N, "deletion_needs_faculty_head", Role.FACULTY_HEAD),
    ("teacher", JOURNAL, Action.DELETE_LESSON, False, at(24, 23), N, "deletion_needs_faculty_head", Role.FACULTY_HEAD),
    ("teacher", JOURNAL, Action.DELETE_LESSON, False, at(25, 0, 1), D, "deletion_window_passed", None),
    ("teacher", CLOSED, Action.ENTER, False, at(11, 12, 1), N, "period_closed", Role.DEPUTY_HEAD),
    ("teacher", CLOSED, Action.CHANGE, False, at(12), N, "period_closed", Role.DEPUTY_HEAD),
    ("teacher", CLOSED, Action.DELETE_LESSON, False, at(12), D, "period_closed", None),
    ("other_teacher", JOURNAL, Action.ENTER, False, at(10, 18), D, "not_assigned", None),
    ("substitute", JOURNAL, Action.ENTER, False, at(10, 18), A, "within_entry_window", None),
    ("substitute", JOURNAL, Action.CHANGE, False, at(11), N, "value_already_entered", Role.DEPUTY_HEAD),
    ("substitute", JOURNAL, Action.ENTER, False, at(10, 7, 59), D, "substitute_window_closed", None),
    ("substitute", JOURNAL, Action.ENTER, False, at(13, 0), D, "substitute_window_closed", None),
    ("substitute", JOURNAL, Action.DELETE_LESSON, False, at(11), D, "substitute_cannot_delete", None),
    ("substitute_by_deputy", JOURNAL, Action.ENTER, False, at(10, 18), D, "permission_not_from_faculty_head", None),
    ("deputy_head", JOURNAL, Action.ENTER, False, at(10, 18), D, "not_assigned", None),
    ("faculty_head", JOURNAL, Action.DELETE_LESSON, False, at(10, 18), D, "not_assigned", None),
    ("sysadmin", JOURNAL, Action.CHANGE, False, at(10, 18), D, "sysadmin_no_academic_changes", None),
    ("student", JOURNAL, Action.ENTER, False, at(10, 18), D, "not_assigned", None),
]


@pytest.mark.parametrize(
    ("who", "journal", "action", "unsatisfactory", "now", "verdict", "reason", "approver"),
    MATRIX,
    ids=[f"{row[0]}-{row[2]}-{row[6]}-{i}" for i, row in enumerate(MATRIX)],
)
def test_permission_matrix(who, journal, action, unsatisfactory, now, verdict, reason, approver):
    decision = decide_change(ACTORS[who], journal, action, LESSON, now, grade_unsatisfactory=unsatisfactory)
    assert (decision.verdict, decision.reason.value, decision.approver) == (verdict, reason, approver)


def test_the_entry_window_is_configurable_and_counted_in_the_institutions_days():
    late_evening_utc = datetime(2026, 3, 12, 19, 30, tzinfo=UTC)  # already the 13th in Kazakhstan
    assert decide_change(ACTORS["teacher"], JOURNAL, Action.ENTER, LESSON, late_evening_utc).verdict is N
    generous = ChangePolicy(entry_days=5)
    assert decide_change(ACTORS["teacher"], JOURNAL, Action.ENTER, LESSON, at(15), policy=generous).verdict is A


def test_a_naive_now_is_a_programming_error():
    with pytest.raises(ValueError):
        decide_change(ACTORS["teacher"], JOURNAL, Action.ENTER, LESSON, datetime(2026, 3, 10, 12))
