"""Who may enter or change which journal cell, and when (R4, J4–J7).

Pure decisions: each function takes the facts and ``now`` (an aware datetime) and
returns a :class:`Decision` — ``allow``, ``needs_correction`` (file a correction with a
reason; ``approver`` says whose approval it needs) or ``deny`` — with a reason code the
edges translate. The rules, in the order they are checked:

1. Only the teachers assigned to the journal (R4), or a substitute inside a time-bound
   permission window granted by the faculty head (J7), touch its cells. The technical
   administrator never changes academic data (R3).
2. Nothing is entered for a lesson that has not happened yet (J4: a grade belongs to the
   day it was earned).
3. Deleting a held lesson or an unsatisfactory grade needs the faculty head's approval,
   asked within ``deletion_days`` (14) of the lesson, before the period closes (J6).
   Substitutes never delete.
4. After the academic period closes, a cell changes only through an approved correction (J5).
5. A first entry is allowed within ``entry_days`` (2) of the lesson (J4); a later entry and
   any change of an existing value go through a correction approved by a deputy head (J6).

Days are calendar days in the institution's time zone: a lesson on the 10th with a
2-day window may be filled in until the end of the 12th.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from enum import StrEnum


class Role(StrEnum):
    TEACHER = "teacher"
    DEPUTY_HEAD = "deputy_head"
    FACULTY_HEAD = "faculty_head"
    METHODOLOGIST = "methodologist"
    QUALITY = "quality"
    EDU_CENTRE = "edu_centre"
    SYSADMIN = "sysadmin"
    STUDENT = "student"


class Action(StrEnum):
    ENTER = "enter"  # the cell is empty
    CHANGE = "change"  # the cell holds a value
    DELETE_GRADE = "delete_grade"
    DELETE_LESSON = "delete_lesson"


class Verdict(StrEnum):
    ALLOW = "allow"
    NEEDS_CORRECTION = "needs_correction"
    DENY = "deny"


class Reason(StrEnum):
    WITHIN_ENTRY_WINDOW = "within_entry_window"
    ENTRY_WINDOW_PASSED = "entry_window_passed"
    VALUE_ALREADY_ENTERED = "value_already_entered"
    PERIOD_CLOSED = "period_closed"
    DELETION_NEEDS_FACULTY_HEAD = "deletion_needs_faculty_head"
    DELETION_WINDOW_PASSED = "deletion_window_passed"
    NOT_ASSIGNED = "not_assigned"
    SYSADMIN_NO_ACADEMIC_CHANGES = "sysadmin_no_academic_changes"
    SUBSTITUTE_WINDOW_CLOSED = "substitute_window_closed"
    PERMISSION_NOT_FROM_FACULTY_HEAD = "permission_not_from_faculty_head"
    SUBSTITUTE_CANNOT_DELETE = "substitute_cannot_delete"
    LESSON_IN_FUTURE = "lesson_in_future"
    CORRECTION_APPROVABLE = "correction_approvable"
    APPROVER_WRONG_ROLE = "approver_wrong_role"
    SELF_APPROVAL = "self_approval"
    CORRECTION_NOT_PENDING = "correction_not_pending"
    RESULT_PERIOD_OPEN = "result_period_open"


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    roles: frozenset[Role]
    # The journals this person reaches as staff (issue 19), given by the server from its assignments:
    # a faculty head the groups of their faculty, a head of department the disciplines their department
    # teaches. None: no limit on that side (deputy heads, quality, administrators; teachers are limited
    # by assignment and substitute windows instead).
    group_codes: frozenset[str] | None = None
    discipline_codes: frozenset[str] | None = None


def within_reach(actor: Actor, group_code: str, discipline_code: str) -> bool:
    """Whether a journal of this group and discipline is within the actor's staff reach."""
    return (actor.group_codes is None or group_code in actor.group_codes) and (
        actor.discipline_codes is None or discipline_code in actor.discipline_codes
    )


@dataclass(frozen=True, slots=True)
class SubstitutePermission:
    """The faculty head's written permission (J7): valid in ``[valid_from, valid_until)``."""

    teacher_id: str
    journal_id: str
    valid_from: datetime
    valid_until: datetime
    granted_by: str
    granted_by_role: Role


@dataclass(frozen=True, slots=True)
class JournalAccess:
    """What the rules need to know about one journal."""

    journal_id: str
    teacher_ids: frozenset[str]
    period_closes_at: datetime
    substitutes: tuple[SubstitutePermission, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangePolicy:
    entry_days: int = 2
    deletion_days: int = 14
    # Kazakhstan has one time zone, UTC+5, since March 2024.
    zone: tzinfo = field(default=timezone(timedelta(hours=5)))


DEFAULT_POLICY = ChangePolicy()


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: Reason
    approver: Role | None = None

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


def _deny(reason: Reason) -> Decision:
    return Decision(Verdict.DENY, reason)


def _correction(reason: Reason, approver: Role = Role.DEPUTY_HEAD) -> Decision:
    return Decision(Verdict.NEEDS_CORRECTION, reason, approver)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now


def _refusal(actor: Actor, journal: JournalAccess, now: datetime) -> Reason | None:
    """Why ``actor`` may not touch ``journal`` at ``now``; None for an assigned teacher
    or a substitute inside a faculty head's permission window."""
    if actor.user_id in journal.teacher_ids and Role.TEACHER in actor.roles:
        return None
    # A substitute is a teacher too: a window granted to any other account (a student, the system
    # administrator) lets them keep nothing (R3, R4).
    own = [
        p
        for p in journal.substitutes
        if p.teacher_id == actor.user_id and p.journal_id == journal.journal_id and Role.TEACHER in actor.roles
    ]
    granted = [p for p in own if p.granted_by_role is Role.FACULTY_HEAD]
    if any(p.valid_from <= now < p.valid_until for p in granted):
        return None
    if granted:
        return Reason.SUBSTITUTE_WINDOW_CLOSED
    if own:
        return Reason.PERMISSION_NOT_FROM_FACULTY_HEAD
    if Role.SYSADMIN in actor.roles:
        return Reason.SYSADMIN_NO_ACADEMIC_CHANGES
    return Reason.NOT_ASSIGNED


def decide_change(
    actor: Actor,
    journal: JournalAccess,
    action: Action,
    lesson_date: date,
    now: datetime,
    *,
    grade_unsatisfactory: bool = False,
    policy: ChangePolicy = DEFAULT_POLICY,
) -> Decision:
    """May ``actor`` do ``action`` on a cell (or lesson) of ``lesson_date`` at ``now``?

    ``grade_unsatisfactory`` tells whether a grade to delete is an unsatisfactory one;
    deleting any other grade is a change of an existing value.
    """
    now = _aware(now)
    refusal = _refusal(actor, journal, now)
    if refusal is not None:
        return _deny(refusal)
    assigned = actor.user_id in journal.teacher_ids and Role.TEACHER in actor.roles
    today = now.astimezone(policy.zone).date()
    if lesson_date > today:
        return _deny(Reason.LESSON_IN_FUTURE)
    closed = now >= journal.period_closes_at
    if action is Action.DELETE_LESSON or (action is Action.DELETE_GRADE and grade_unsatisfactory):
        if not assigned:
            return _deny(Reason.SUBSTITUTE_CANNOT_DELETE)
        if closed:
            return _deny(Reason.PERIOD_CLOSED)
        if today > lesson_date + timedelta(days=policy.deletion_days):
            return _deny(Reason.DELETION_WINDOW_PASSED)
        return _correction(Reason.DELETION_NEEDS_FACULTY_HEAD, Role.FACULTY_HEAD)
    if closed:
        return _correction(Reason.PERIOD_CLOSED)
    if action is Action.ENTER:
        if today <= lesson_date + timedelta(days=policy.entry_days):
            return Decision(Verdict.ALLOW, Reason.WITHIN_ENTRY_WINDOW)
        return _correction(Reason.ENTRY_WINDOW_PASSED)
    return _correction(Reason.VALUE_ALREADY_ENTERED)


def decide_result_change(period_closes_at: datetime, now: datetime) -> Decision:
    """A newer exam result from the engine (a regrade after a key decision) for a journal:
    applied at once while its period is open; after the period closed (J5) it is a correction
    a deputy head approves (J6), like any other change of a value."""
    now = _aware(now)
    if now >= period_closes_at:
        return _correction(Reason.PERIOD_CLOSED)
    return Decision(Verdict.ALLOW, Reason.RESULT_PERIOD_OPEN)
