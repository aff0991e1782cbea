"""Exam-day rules as plain functions: lobby and live states, reasons, personal windows,
accommodations, reschedules and the server's measured downtime.

Nothing here reads a clock or a database; callers pass ``now`` and the facts. The
attempt's own time rules (pause, resume, grant) live in :mod:`exam_engine.domain.attempts`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from ..errors import Conflict, InvalidInput
from ..i18n import N_
from .attempts import AttemptStatus

# Last-seen is written at most this often per attempt (or lobby place): a write per autosave would cost
# more than the autosave itself, and "silent" is measured in tens of seconds anyway.
PRESENCE_EVERY_S = 15
MAX_GRANT_MINUTES = 600
MAX_MULTIPLIER_PCT = 400
MAX_REASON = 2000
MAX_DOCUMENT_REF = 200


class LiveState(StrEnum):
    ABSENT = "absent"  # assigned, not in the lobby, no attempt
    LOBBY = "lobby"  # signed in and waiting (checks passed or not), no attempt yet
    CHECKS = "checks"  # a proctored attempt in its device checks: the clock has not started
    NEEDS_HELP = "needs_help"  # in the checks and failing them, or there for longer than NEEDS_HELP_AFTER_S
    WRITING = "writing"
    SILENT = "silent"  # writing, but no request for longer than the threshold
    PAUSED = "paused"
    FINISHED = "finished"


NEEDS_HELP_AFTER_S = 180
"""A student still in the device checks this long after starting them needs a proctor."""


def needs_help(checks_since: datetime | None, failed_checks: int, now: datetime) -> bool:
    """A student in the checks who failed one, or has been in them for :data:`NEEDS_HELP_AFTER_S`."""
    if failed_checks > 0:
        return True
    return checks_since is not None and (now - checks_since).total_seconds() >= NEEDS_HELP_AFTER_S


def live_state(
    status: str | None,
    in_lobby: bool,
    last_seen_at: datetime | None,
    now: datetime,
    silent_after_s: float,
    *,
    checks_since: datetime | None = None,
    failed_checks: int = 0,
) -> LiveState:
    """Where one student stands, for the proctor's live view."""
    if status is None:
        return LiveState.LOBBY if in_lobby else LiveState.ABSENT
    if status == AttemptStatus.CHECKS:
        return LiveState.NEEDS_HELP if needs_help(checks_since, failed_checks, now) else LiveState.CHECKS
    if status == AttemptStatus.PAUSED:
        return LiveState.PAUSED
    if status != AttemptStatus.IN_PROGRESS:
        return LiveState.FINISHED
    if last_seen_at is None or (now - last_seen_at).total_seconds() > silent_after_s:
        return LiveState.SILENT
    return LiveState.WRITING


def presence_due(last_seen_at: datetime | None, now: datetime) -> bool:
    """Whether this request should refresh last-seen (at most every :data:`PRESENCE_EVERY_S`)."""
    return last_seen_at is None or (now - last_seen_at).total_seconds() >= PRESENCE_EVERY_S


def check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("reason_required", N_("Give the reason."))
    if len(text) > MAX_REASON:
        raise InvalidInput(
            "reason_too_long", N_("The reason is too long: at most {limit} characters."), limit=MAX_REASON
        )
    return text


def check_document_ref(document_ref: str | None) -> str:
    text = (document_ref or "").strip()
    if not text:
        raise InvalidInput(
            "document_required", N_("Give the reference of the supporting document (certificate, order).")
        )
    if len(text) > MAX_DOCUMENT_REF:
        raise InvalidInput(
            "document_ref_too_long",
            N_("The document reference is too long: at most {limit} characters."),
            limit=MAX_DOCUMENT_REF,
        )
    return text


def check_grant_minutes(minutes: int) -> int:
    if not 1 <= minutes <= MAX_GRANT_MINUTES:
        raise InvalidInput("invalid_minutes", N_("Minutes must be between 1 and {limit}."), limit=MAX_GRANT_MINUTES)
    return minutes


def multiplier_pct(multiplier: float) -> int:
    """A time multiplier (1.5 = half as long again) as whole percent, 101–400."""
    if not 1 < multiplier <= MAX_MULTIPLIER_PCT / 100:  # also refuses NaN
        raise InvalidInput("invalid_multiplier", N_("The multiplier must be more than 1 and at most 4."))
    pct = round(multiplier * 100)
    if not 100 < pct <= MAX_MULTIPLIER_PCT:
        raise InvalidInput("invalid_multiplier", N_("The multiplier must be more than 1 and at most 4."))
    return pct


def grant_cap(window_closes_at: datetime, paused_total_s: float) -> datetime:
    """How far grants may move a deadline: the student's window close, plus the time lost to pauses
    (a pause is the proctor's decision and must not eat into the student's window)."""
    return window_closes_at + timedelta(seconds=paused_total_s)


def check_window_cap(old_deadline: datetime, new_deadline: datetime) -> None:
    if new_deadline <= old_deadline:
        raise Conflict(
            "window_cap_reached",
            N_(
                "The deadline is already at the close of the student's window; "
                "the academic administrator can widen the window."
            ),
        )


@dataclass(frozen=True, slots=True)
class Window:
    opens_at: datetime
    closes_at: datetime


def effective_window(
    exam_opens_at: datetime,
    exam_closes_at: datetime,
    personal_opens_at: datetime | None,
    personal_closes_at: datetime | None,
) -> Window:
    """The student's own window: the exam's, with whatever the administrator set for them."""
    return Window(personal_opens_at or exam_opens_at, personal_closes_at or exam_closes_at)


def check_personal_window(
    opens_at: datetime, closes_at: datetime, now: datetime, session_starts_on: date, session_ends_on: date
) -> None:
    """A personal window must be a real interval, not over yet, and inside the exam session (UTC dates)."""
    if opens_at.tzinfo is None or closes_at.tzinfo is None:
        raise InvalidInput("invalid_window", N_("Give the exam window with a time zone."))
    if closes_at <= opens_at:
        raise InvalidInput("invalid_window", N_("The exam window closes before it opens."))
    if closes_at <= now:
        raise InvalidInput("window_in_past", N_("The new window is already over."))
    if opens_at.date() < session_starts_on or closes_at.date() > session_ends_on:
        raise InvalidInput(
            "window_outside_session",
            N_("The window must lie inside the exam session ({starts_on} to {ends_on})."),
            starts_on=session_starts_on.isoformat(),
            ends_on=session_ends_on.isoformat(),
        )


def check_reschedulable(attempt_status: str | None) -> None:
    """003 §5.16: only a student who has not started may get a later window; otherwise it is a retake (E2)."""
    if attempt_status is not None:
        raise Conflict(
            "reschedule_is_retake",
            N_(
                "This student has already started this exam in this session ({status}); a new window would be a retake."
            ),
            status=attempt_status,
        )


def check_accommodation_before_start(attempt_status: str | None) -> None:
    if attempt_status is not None:
        raise Conflict(
            "accommodation_after_start",
            N_("The student has already started; grant extra minutes to the attempt instead."),
        )


def prepare_due(opens_at: datetime, closes_at: datetime, now: datetime, lead_s: float) -> bool:
    """Forms are prepared from ``lead_s`` before the opening until the window closes."""
    return opens_at - timedelta(seconds=lead_s) <= now < closes_at


def check_lobby_open(window: Window, now: datetime) -> None:
    if now >= window.closes_at:
        raise Conflict(
            "exam_closed", N_("The exam window closed at {closes_at}."), closes_at=window.closes_at.isoformat()
        )


# ------------------------------------------------------------------------------------ downtime


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def outages(up: Iterable[Interval], span: Interval, *, tolerance_s: float, min_gap_s: float) -> list[Interval]:
    """The parts of ``span`` when no server process was confirmed up.

    ``up`` are the intervals some process was serving (from its first to its last beat);
    a process is taken to be up for ``tolerance_s`` after each beat (beats are periodic),
    and gaps shorter than ``min_gap_s`` are noise, not downtime.
    """
    covered = sorted((Interval(i.start, i.end + timedelta(seconds=tolerance_s)) for i in up), key=lambda i: i.start)
    gaps: list[Interval] = []
    cursor = span.start
    for interval in covered:
        if interval.end <= cursor:
            continue
        if interval.start > cursor:
            gap_end = min(interval.start, span.end)
            if (gap_end - cursor).total_seconds() >= min_gap_s:
                gaps.append(Interval(cursor, gap_end))
        cursor = max(cursor, interval.end)
        if cursor >= span.end:
            return gaps
    if cursor < span.end and (span.end - cursor).total_seconds() >= min_gap_s:
        gaps.append(Interval(cursor, span.end))
    return gaps


def creditable_s(gaps: Iterable[Interval], credited_s: int) -> int:
    """Whole seconds of measured downtime not yet credited (rounded up: the student gets the doubt)."""
    measured = math.ceil(sum(g.seconds for g in gaps))
    return max(0, measured - credited_s)
