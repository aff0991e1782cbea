"""The gate before the journal as pure rules: when an exam's results are final, when a hold expires.

Nothing here reads a clock or the database: callers pass ``now`` and the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo

# Kazakhstan has one time zone, UTC+5, since March 2024 (as the journal's rules).
LOCAL_ZONE = timezone(timedelta(hours=5))

KEY_ACTIONS = ("rekey", "accept", "drop")


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """The gate's settings (``EXAM_HOLD_*``): evidence thresholds and when an unresolved hold ends."""

    min_attempts: int = 10
    discrimination_below: float = -0.2
    release_at: tuple[int, int] = (23, 59)  # local time of day
    zone: tzinfo = field(default=LOCAL_ZONE)


def results_final(
    *, now: datetime, window_closes_at: datetime, open_attempts: int, assigned: int, finished_assigned: int
) -> bool:
    """An exam's results are final when no attempt is open and either its window has closed (the
    latest personal window included) or every assigned student has finished."""
    if open_attempts:
        return False
    return now >= window_closes_at or (assigned > 0 and finished_assigned >= assigned)


def hold_expires_at(held_at: datetime, policy: HoldPolicy) -> datetime:
    """The end of the hold's exam day: ``release_at`` local time on the day it began, or on the
    next day when the hold began after that time."""
    local = held_at.astimezone(policy.zone)
    hour, minute = policy.release_at
    end = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def accepted_options(action: str, options: list[int], n_options: int) -> frozenset[int] | None:
    """The bank option indices a decision makes score (None: dropped); ValueError when it makes no sense.

    ``rekey``: exactly one option (the bank's own key restores it). ``accept``: two or more
    options. ``drop``: no option.
    """
    if action not in KEY_ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    chosen = frozenset(options)
    if any(not 0 <= o < n_options for o in chosen) or len(chosen) != len(options):
        raise ValueError("option out of range or repeated")
    if action == "drop":
        if chosen:
            raise ValueError("a dropped item takes no option")
        return None
    if action == "rekey" and len(chosen) != 1:
        raise ValueError("a new key is exactly one option")
    if action == "accept" and len(chosen) < 2:
        raise ValueError("accepting needs two or more options")
    return chosen
