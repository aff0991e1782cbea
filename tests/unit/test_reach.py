"""The reach of each role (issue 19) and the journal's pure reach rule."""

from __future__ import annotations

from exam_engine.domain.roles import Kind, Reach, Role, reach
from journal_bridge.rules import Actor, within_reach
from journal_bridge.rules import Role as JournalRole


def test_proctors_reach_only_assigned_exams_and_heads_only_their_faculty_or_department():
    assert {reach(Role.PROCTOR, k) for k in (Kind.EXAM, Kind.ATTEMPT, Kind.FLAG)} == {Reach.ASSIGNED_EXAMS}
    assert {reach(Role.FACULTY_HEAD, k) for k in (Kind.JOURNAL, Kind.CORRECTION)} == {Reach.FACULTY}
    assert {reach(Role.DEPARTMENT_HEAD, k) for k in (Kind.JOURNAL, Kind.CORRECTION)} == {Reach.DEPARTMENT}
    # The deputy heads keep academy-wide approval, as the regulation says; so do quality and the administration.
    for role in (Role.DEPUTY_HEAD, Role.QUALITY, Role.METHODOLOGIST, Role.ACADEMIC_ADMIN):
        assert {reach(role, k) for k in Kind} == {Reach.ALL}, role
    assert reach("wizard", Kind.EXAM) is Reach.OWN  # an unknown role reaches nothing by assignment


def test_a_journal_is_within_reach_by_its_group_and_its_discipline():
    dean = Actor("7", frozenset({JournalRole.FACULTY_HEAD}), group_codes=frozenset({"G1"}))
    head = Actor("8", frozenset(), discipline_codes=frozenset({"LAW-101"}))
    nobody = Actor("9", frozenset({JournalRole.FACULTY_HEAD}), group_codes=frozenset())
    deputy = Actor("10", frozenset({JournalRole.DEPUTY_HEAD}))
    assert within_reach(dean, "G1", "ANY") and not within_reach(dean, "G2", "LAW-101")
    assert within_reach(head, "G9", "LAW-101") and not within_reach(head, "G1", "HIST-1")
    assert not within_reach(nobody, "G1", "LAW-101")
    assert within_reach(deputy, "G2", "HIST-1")
