"""The attempt life cycle as pure rules: states, deadlines, scoring, forms.

::

    checks ──checks passed (or a proctor admits)──► in_progress   (the clock starts here)
      └──window closed──► timed_out
    in_progress ──submit──────────────────────► submitted ─┐
     │  ▲  │                                            ├─► (graded in the same step)
     │  │  └──deadline passed (sweeper or any read)──► timed_out ┘
   pause resume
     ▼  │
    paused ──proctor terminates──► submitted
    submitted | timed_out ──proctor "violation"──► annulled

A completed attempt never goes back. A paused attempt's clock stands still: it
accepts no answers, the sweeper ignores it, and resuming moves its deadline by the
paused time (so it can never time out while paused). Auto-submit and manual submit are the same
finalisation; they differ only in who finished it and in the submit time (a
timed-out attempt's submit time is always its deadline, however late the sweeper).
Nothing here reads a clock: callers pass ``now``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ..errors import Conflict, DeadlinePassed, InvalidInput
from ..i18n import N_


class AttemptStatus(StrEnum):
    # A proctored exam's attempt before its device checks pass: no questions, no clock. Its
    # ``deadline_at`` holds the window close meanwhile; the real deadline is fixed when it begins.
    CHECKS = "checks"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    SUBMITTED = "submitted"
    TIMED_OUT = "timed_out"
    ANNULLED = "annulled"


class TimeoutPolicy(StrEnum):
    # E1: not finished in time ⇒ "unsatisfactory" (the raw score is kept for the record).
    UNSATISFACTORY = "unsatisfactory"
    GRADE_SAVED = "grade_saved"


class Result(StrEnum):
    PASSED = "passed"
    UNSATISFACTORY = "unsatisfactory"


class FinishedBy(StrEnum):
    STUDENT = "student"
    DEADLINE = "deadline"
    PROCTOR = "proctor"


TRANSITIONS: Mapping[AttemptStatus, frozenset[AttemptStatus]] = {
    # Out of checks only into the exam, or (window closed, a proctor's terminate) finished.
    AttemptStatus.CHECKS: frozenset({AttemptStatus.IN_PROGRESS, AttemptStatus.TIMED_OUT, AttemptStatus.SUBMITTED}),
    AttemptStatus.IN_PROGRESS: frozenset({AttemptStatus.SUBMITTED, AttemptStatus.TIMED_OUT, AttemptStatus.PAUSED}),
    # Never paused → timed_out: time does not run while paused. A proctor may finish it (terminate).
    AttemptStatus.PAUSED: frozenset({AttemptStatus.IN_PROGRESS, AttemptStatus.SUBMITTED}),
    AttemptStatus.SUBMITTED: frozenset({AttemptStatus.ANNULLED}),
    AttemptStatus.TIMED_OUT: frozenset({AttemptStatus.ANNULLED}),
    AttemptStatus.ANNULLED: frozenset(),
}


def check_transition(current: AttemptStatus, target: AttemptStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise Conflict(
            "illegal_transition",
            N_("An attempt in state {current} cannot become {target}."),
            current=str(current),
            target=str(target),
        )


OPEN_STATUSES = frozenset({AttemptStatus.CHECKS, AttemptStatus.IN_PROGRESS, AttemptStatus.PAUSED})


def compute_deadline(started_at: datetime, duration_s: int, extra_s: int, window_closes_at: datetime) -> datetime:
    """``min(start + duration + extra time, window close)`` — fixed once, at start.

    Compared in seconds first: an absurd extra time stored before numbers were bounded (2**53 - 1
    minutes) would overflow ``datetime`` and make every start of that student a 500."""
    if duration_s + extra_s >= (window_closes_at - started_at).total_seconds():
        return window_closes_at
    return started_at + timedelta(seconds=duration_s + extra_s)


def accommodated_extra_s(duration_s: int, extra_s: int, multiplier_pct: int) -> int:
    """Extra time of an accommodation: fixed minutes, or a multiplier of the duration (150 = ×1.5)."""
    return extra_s + (duration_s * (multiplier_pct - 100)) // 100


def remaining_s(status: AttemptStatus, deadline_at: datetime, now: datetime, paused_at: datetime | None) -> float:
    """Seconds left: frozen at the pause moment while paused, zero once finished."""
    if status is AttemptStatus.PAUSED and paused_at is not None:
        return max(0.0, (deadline_at - paused_at).total_seconds())
    if status is AttemptStatus.IN_PROGRESS:
        return max(0.0, (deadline_at - now).total_seconds())
    return 0.0


def check_can_pause(status: AttemptStatus, deadline_at: datetime, now: datetime) -> None:
    """Only a running attempt with time left can be paused (an expired one is due to the sweeper)."""
    if status is AttemptStatus.PAUSED:
        raise Conflict("attempt_already_paused", N_("This attempt is already paused."))
    if status is not AttemptStatus.IN_PROGRESS:
        raise Conflict("attempt_finished", N_("This attempt is already finished."))
    if now >= deadline_at:
        raise Conflict("attempt_time_up", N_("This attempt has no time left."))


def resumed_deadline(deadline_at: datetime, paused_at: datetime, now: datetime) -> datetime:
    """The deadline after a pause: moved by exactly the paused time, so the remaining time is kept."""
    return deadline_at + max(now - paused_at, timedelta(0))


def granted_deadline(deadline_at: datetime, add_s: int, cap: datetime) -> datetime:
    """A proctor's grant: the deadline moves by ``add_s``, never past ``cap`` and never backwards."""
    return max(deadline_at, min(deadline_at + timedelta(seconds=add_s), cap))


def check_can_start(now: datetime, opens_at: datetime, closes_at: datetime) -> None:
    if now < opens_at:
        raise Conflict("exam_not_open", N_("The exam opens at {opens_at}."), opens_at=opens_at.isoformat())
    if now >= closes_at:
        raise Conflict("exam_closed", N_("The exam window closed at {closes_at}."), closes_at=closes_at.isoformat())


def is_expired(deadline_at: datetime, now: datetime, grace_s: float) -> bool:
    """True once no more answers may arrive: the deadline plus the network grace."""
    return now > deadline_at + timedelta(seconds=grace_s)


def checks_refusal() -> Conflict:
    return Conflict("attempt_in_checks", N_("Finish the checks before the exam first: your time has not started yet."))


def check_accepts_answers(status: AttemptStatus, deadline_at: datetime, now: datetime, grace_s: float) -> None:
    if status is AttemptStatus.CHECKS:
        raise checks_refusal()
    if status is AttemptStatus.PAUSED:
        raise Conflict("attempt_paused", N_("The proctor has paused this attempt; your time is not running."))
    if status is not AttemptStatus.IN_PROGRESS:
        raise Conflict("attempt_finished", N_("This attempt is already finished."))
    if is_expired(deadline_at, now, grace_s):
        raise DeadlinePassed("deadline_passed", N_("Time is up: answers are no longer accepted."))


def check_accepts_evidence(status: AttemptStatus, deadline_at: datetime, now: datetime, grace_s: float) -> None:
    """Proctoring uploads: as answers, and also during the checks (consent, photo, room scan)
    until the window closes (a checks attempt's ``deadline_at`` is its window close)."""
    if status is AttemptStatus.CHECKS:
        if is_expired(deadline_at, now, grace_s):
            raise Conflict(
                "exam_closed", N_("The exam window closed at {closes_at}."), closes_at=deadline_at.isoformat()
            )
        return
    check_accepts_answers(status, deadline_at, now, grace_s)


# ---------------------------------------------------------------------------------------------- warnings

WARN_AT_S = (300, 60)
"""Time-left thresholds of the exam page's warnings (5 and 1 minute)."""


@dataclass(frozen=True, slots=True)
class TimeWarning:
    threshold_s: int  # the warning band the time left is in (300: under 5 minutes, 60: under 1 minute)
    minutes_left: int  # whole minutes, rounded up: the warning says "less than N min" (2:43 → 3)


def time_warning(deadline_at: datetime, now: datetime, thresholds: Sequence[int] = WARN_AT_S) -> TimeWarning | None:
    """The warning that matches the real time left, or None (more than the widest band, or none left).

    The band is the narrowest threshold the time left is under, so a student entering with 2:43
    left is warned "less than 3 minutes", never "5 minutes"; the page shows each band once, the first being
    the one it enters in. ``minutes_left`` rounds up, so "less than N minutes" is always true.
    """
    left = (deadline_at - now).total_seconds()
    bands = [t for t in sorted(thresholds) if left <= t]
    if left <= 0 or not bands:
        return None
    return TimeWarning(threshold_s=bands[0], minutes_left=math.ceil(left / 60))


def score_percent(correct: int, total: int) -> int:
    """Percentage of correct answers, 0–100, rounded half up with integers only."""
    if total <= 0:
        raise ValueError("an attempt has at least one question")
    if not 0 <= correct <= total:
        raise ValueError("correct count out of range")
    return (200 * correct + total) // (2 * total)


def count_correct(keys: Mapping[int, int], choices: Mapping[int, int | None]) -> int:
    """Number of positions whose chosen option is the key."""
    return sum(1 for position, key in keys.items() if choices.get(position) == key)


Accepted = frozenset[int] | None
"""A key override of one served position: the served option indices that score (a re-key is
one index, "accept two options" two), or None when the item is dropped from scoring."""


def scored_counts(
    keys: Mapping[int, int], choices: Mapping[int, int | None], accepted: Mapping[int, Accepted] | None = None
) -> tuple[int, int]:
    """(correct, scored questions) with the exam's key overrides: a dropped position counts in
    neither, an overridden one scores when its choice is among the accepted options."""
    if not accepted:
        return count_correct(keys, choices), len(keys)
    correct = total = 0
    for position, key in keys.items():
        if position in accepted:
            options = accepted[position]
            if options is None:
                continue
        else:
            options = frozenset({key})
        total += 1
        correct += choices.get(position) in options
    return correct, total


@dataclass(frozen=True, slots=True)
class Grade:
    status: AttemptStatus
    submitted_at: datetime
    finished_by: FinishedBy
    correct_count: int
    score: int
    result: Result


def grade(
    *,
    timed_out: bool,
    deadline_at: datetime,
    now: datetime,
    keys: Mapping[int, int],
    choices: Mapping[int, int | None],
    pass_score: int,
    policy: TimeoutPolicy,
    accepted: Mapping[int, Accepted] | None = None,
) -> Grade:
    """Finalise an attempt: the one path for manual submit, auto-submit and a regrade.

    ``accepted`` are the exam's key overrides by served position (see :data:`Accepted`); a
    regrade passes the attempt's stored choices, its submit time as ``now`` and its status's
    ``timed_out``, so the same answers under the same overrides always give the same grade.
    """
    correct, total = scored_counts(keys, choices, accepted)
    if total == 0:
        raise InvalidInput("nothing_to_score", N_("Every question of this attempt is dropped from scoring."))
    score = score_percent(correct, total)
    passed = score >= pass_score
    if timed_out:
        if policy is TimeoutPolicy.UNSATISFACTORY:
            passed = False
        return Grade(
            status=AttemptStatus.TIMED_OUT,
            submitted_at=deadline_at,
            finished_by=FinishedBy.DEADLINE,
            correct_count=correct,
            score=score,
            result=Result.PASSED if passed else Result.UNSATISFACTORY,
        )
    return Grade(
        status=AttemptStatus.SUBMITTED,
        submitted_at=min(now, deadline_at),
        finished_by=FinishedBy.STUDENT,
        correct_count=correct,
        score=score,
        result=Result.PASSED if passed else Result.UNSATISFACTORY,
    )


@dataclass(frozen=True, slots=True)
class SourceItem:
    id: int
    text: str
    options: tuple[str, ...]
    correct: int


@dataclass(frozen=True, slots=True)
class ServedItem:
    position: int
    bank_item_id: int
    text: str
    options: tuple[str, ...]
    key_index: int


def build_form(pool: Sequence[SourceItem], count: int, rng: random.Random) -> list[ServedItem]:
    """Draw ``count`` items, shuffle their order and each item's options.

    The served order and text are frozen on the attempt by the caller.
    """
    if count > len(pool):
        raise InvalidInput(
            "bank_too_small",
            N_("The bank has {available} questions but the exam needs {needed}."),
            available=len(pool),
            needed=count,
        )
    drawn = rng.sample(list(pool), count)
    form: list[ServedItem] = []
    for position, item in enumerate(drawn, start=1):
        order = list(range(len(item.options)))
        rng.shuffle(order)
        form.append(
            ServedItem(
                position=position,
                bank_item_id=item.id,
                text=item.text,
                options=tuple(item.options[i] for i in order),
                key_index=order.index(item.correct),
            )
        )
    return form


def check_choice(choice: int | None, option_count: int) -> None:
    if choice is not None and not 0 <= choice < option_count:
        raise InvalidInput(
            "invalid_choice",
            N_("Choice {choice} does not exist: expected 0 to {last}."),
            choice=choice,
            last=option_count - 1,
        )
