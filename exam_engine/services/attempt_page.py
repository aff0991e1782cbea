"""The student's page of an attempt, from rows already read: the attempt, its items, its saved answers.

Pure (no database, ``now`` is an argument): :mod:`.attempts` (a read) and :mod:`.attempt_start`
(a new attempt's first page, built from what the start just wrote) both use it, so the start
never imports :mod:`.attempts` (which re-exports the start) and the two pages cannot drift. Never
includes the key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain import attempts as rules
from ..domain.attempts import AttemptStatus


def page(attempt: Any, items: Any, saved: dict[int, Any], now: datetime) -> dict[str, Any]:
    """The student's page from the attempt, its items in order and the saved answers by position.

    An attempt still in its device checks shows no question: its clock has not started.
    """
    if attempt.status == AttemptStatus.CHECKS:
        items = ()
    return {
        "attempt": attempt_summary(attempt, now),
        "questions": [
            {
                "position": it.position,
                "text": it.text,
                "options": list(it.options),
                "choice": saved[it.position].choice if it.position in saved else None,
                "seq": saved[it.position].seq if it.position in saved else None,
            }
            for it in items
        ],
    }


def attempt_summary(row: Any, now: datetime) -> dict[str, Any]:
    status = AttemptStatus(row.status)
    finished = status not in rules.OPEN_STATUSES
    summary = {
        "id": str(row.id),
        "exam_id": row.exam_id,
        "status": row.status,
        "language": row.language,
        "started_at": row.started_at.isoformat(),
        "deadline_at": row.deadline_at.isoformat(),
        "server_now": now.isoformat(),
        # While paused the clock stands still; resuming moves the deadline by the paused time.
        "remaining_s": round(rules.remaining_s(status, row.deadline_at, now, getattr(row, "paused_at", None)), 3),
        "question_count": row.question_count,
        # What running out of time means (E1): the page words its warnings after it.
        "timeout_policy": row.timeout_policy,
    }
    if finished:
        summary.update(
            submitted_at=row.submitted_at.isoformat() if row.submitted_at else None,
            finished_by=row.finished_by,
            score=row.score,
            correct_count=row.correct_count,
            result=row.result,
        )
    return summary
