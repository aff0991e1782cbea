"""The journal's public surface, the admission rating from cells, and the error mapping at the edge."""

from __future__ import annotations

from datetime import date

import pytest

import journal_bridge.api as api
from journal_bridge.errors import CellInvalid, CorrectionInvalid, JournalConflict, JournalDenied, JournalNotFound
from journal_bridge.marks import Cell
from journal_bridge.store import Lesson, compute_admission


def test_the_public_surface_names_only_what_exists_and_sorted():
    assert api.__all__ == sorted(api.__all__)
    assert [name for name in api.__all__ if not hasattr(api, name)] == []


def _lessons(*kinds: str) -> list[Lesson]:
    return [Lesson(i, 1, date(2026, 3, i), kind, "", False) for i, kind in enumerate(kinds, start=1)]


def test_the_admission_rating_counts_current_control_half_and_each_midterm_a_quarter():
    lessons = _lessons("lesson", "lesson", "midterm1", "midterm2")
    cells = {
        (1, "s"): Cell(score=90),
        (2, "s"): Cell(mark="absent"),
        (3, "s"): Cell(score=70),
        (4, "s"): Cell(score=81),
    }
    a = compute_admission(lessons, cells, "s")
    # current = 90 (the absence mark is attendance, not a score); (2·90 + 70 + 81) / 4 = 82.75 → 83
    assert (a.current, a.midterm1, a.midterm2, a.admission) == (90, 70, 81, 83)


def test_no_admission_rating_until_both_midterms_hold_a_value_and_a_missed_midterm_counts_zero():
    lessons = _lessons("lesson", "midterm1", "midterm2")
    assert compute_admission(lessons, {(1, "s"): Cell(score=100), (2, "s"): Cell(score=100)}, "s").admission is None
    missed = {(1, "s"): Cell(score=100), (2, "s"): Cell(score=100), (3, "s"): Cell(mark="ill")}
    assert compute_admission(lessons, missed, "s").admission == 75


def test_the_latest_midterm_of_a_kind_wins():
    lessons = _lessons("midterm1", "midterm1", "midterm2")
    cells = {(1, "s"): Cell(score=20), (2, "s"): Cell(score=60), (3, "s"): Cell(score=60)}
    assert compute_admission(lessons, cells, "s").midterm1 == 60


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (JournalDenied("not_assigned"), 403),
        (CorrectionInvalid("self_approval"), 403),
        (CorrectionInvalid("value_already_entered"), 409),
        (JournalNotFound("journal_not_found"), 404),
        (CellInvalid("cell_out_of_range", value=101), 422),
        (JournalConflict("period_already_locked", period="P"), 409),
    ],
)
def test_journal_errors_become_http_answers_that_keep_their_code(error, status):
    from exam_engine.web.api_journal import as_domain_error

    mapped = as_domain_error(error)
    assert (mapped.status, mapped.code, mapped.msgid, mapped.params) == (status, error.code, error.msgid, error.params)
