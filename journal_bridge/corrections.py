"""Corrections: the only way a late entry or a changed value reaches the journal (J5, J6).

A teacher files a correction with a reason; the required approver reviews it (a deputy
head for a late entry or a changed value, the faculty head for deleting a held lesson or
an unsatisfactory grade — within 14 days of the lesson); only an approved correction is
applied, and it is applied even after the period has closed. The correction keeps the
old value, the new one, who, when and why, which is the change history of J11.

    filed ──approve──► approved ──apply──► applied
      └────reject────► rejected
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from journal_bridge.errors import CorrectionInvalid
from journal_bridge.marks import Cell
from journal_bridge.rules import (
    DEFAULT_POLICY,
    Action,
    Actor,
    ChangePolicy,
    Decision,
    JournalAccess,
    Reason,
    Role,
    Verdict,
    decide_change,
)


class CorrectionState(StrEnum):
    FILED = "filed"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"


_TRANSITIONS: dict[CorrectionState, frozenset[CorrectionState]] = {
    CorrectionState.FILED: frozenset({CorrectionState.APPROVED, CorrectionState.REJECTED}),
    CorrectionState.APPROVED: frozenset({CorrectionState.APPLIED}),
    CorrectionState.REJECTED: frozenset(),
    CorrectionState.APPLIED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Correction:
    """A request to change one cell (``old_value`` → ``new_value``; None is empty) or delete a lesson."""

    correction_id: str
    journal_id: str
    student_id: str | None
    lesson_date: date
    action: Action
    old_value: Cell | None
    new_value: Cell | None
    reason: str
    filed_by: str
    filed_at: datetime
    approver_role: Role
    state: CorrectionState = CorrectionState.FILED
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None
    applied_at: datetime | None = None


def _move(correction: Correction, target: CorrectionState) -> None:
    if target not in _TRANSITIONS[correction.state]:
        raise CorrectionInvalid("correction_illegal_transition", state=str(correction.state), target=str(target))


def file_correction(
    actor: Actor,
    journal: JournalAccess,
    *,
    correction_id: str,
    student_id: str | None,
    lesson_date: date,
    action: Action,
    old_value: Cell | None,
    new_value: Cell | None,
    reason: str,
    now: datetime,
    grade_unsatisfactory: bool = False,
    policy: ChangePolicy = DEFAULT_POLICY,
) -> Correction:
    """A filed correction, when the rules say this change needs one; else CorrectionInvalid."""
    if not reason.strip():
        raise CorrectionInvalid("correction_reason_missing")
    decision = decide_change(
        actor, journal, action, lesson_date, now, grade_unsatisfactory=grade_unsatisfactory, policy=policy
    )
    if decision.verdict is Verdict.ALLOW:
        raise CorrectionInvalid("correction_not_needed")
    if decision.verdict is Verdict.DENY or decision.approver is None:
        raise CorrectionInvalid(str(decision.reason))
    return Correction(
        correction_id,
        journal.journal_id,
        student_id,
        lesson_date,
        action,
        old_value,
        new_value,
        reason.strip(),
        actor.user_id,
        now,
        decision.approver,
    )


def decide_review(
    actor: Actor, correction: Correction, now: datetime, policy: ChangePolicy = DEFAULT_POLICY
) -> Decision:
    """May ``actor`` approve or reject ``correction`` at ``now``?"""
    if correction.state is not CorrectionState.FILED:
        return Decision(Verdict.DENY, Reason.CORRECTION_NOT_PENDING)
    if correction.approver_role not in actor.roles:
        return Decision(Verdict.DENY, Reason.APPROVER_WRONG_ROLE)
    if actor.user_id == correction.filed_by:
        return Decision(Verdict.DENY, Reason.SELF_APPROVAL)
    deleting = correction.approver_role is Role.FACULTY_HEAD
    today = now.astimezone(policy.zone).date()
    if deleting and today > correction.lesson_date + timedelta(days=policy.deletion_days):
        return Decision(Verdict.DENY, Reason.DELETION_WINDOW_PASSED)
    return Decision(Verdict.ALLOW, Reason.CORRECTION_APPROVABLE)


def review_correction(
    actor: Actor,
    correction: Correction,
    *,
    approve: bool,
    now: datetime,
    note: str | None = None,
    policy: ChangePolicy = DEFAULT_POLICY,
) -> Correction:
    """The correction approved or rejected by ``actor``; CorrectionInvalid when not theirs to decide."""
    decision = decide_review(actor, correction, now, policy)
    if not decision.allowed:
        raise CorrectionInvalid(str(decision.reason))
    target = CorrectionState.APPROVED if approve else CorrectionState.REJECTED
    return replace(correction, state=target, reviewed_by=actor.user_id, reviewed_at=now, review_note=note)


def apply_correction(correction: Correction, now: datetime) -> Correction:
    """Mark an approved correction applied; the period lock does not stop it (J5)."""
    _move(correction, CorrectionState.APPLIED)
    return replace(correction, state=CorrectionState.APPLIED, applied_at=now)
