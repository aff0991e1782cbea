"""The scale at its boundaries (J1: 60/40, J10: letters): exactly at each threshold, one below, and x.5.

With integer scores and a 60/40 split a total is a multiple of 0.2, so x.5 never reaches the total;
it reaches the admission rating (current ×2 + midterms, over 4) and the current-control average,
which are rounded half up — 49.5 is admitted, 49.25 is not.
"""

from __future__ import annotations

import pytest

from journal_bridge.grading import DisciplineStatus, admission_rating, grade_outcome, total_score
from journal_bridge.marks import Cell, current_control
from journal_bridge.scale import DEFAULT_SCALE


def _pair_for(total: int) -> tuple[int, int]:
    """An (admission, exam) pair, both ≥ 50, whose 60/40 total is exactly ``total`` (no rounding)."""
    for exam in range(50, 101):
        for admission in range(50, 101):
            if 6 * admission + 4 * exam == 10 * total:
                return admission, exam
    raise AssertionError(total)


@pytest.mark.parametrize("band", [b for b in DEFAULT_SCALE.bands if b.low >= 50], ids=lambda b: b.letter)
def test_a_total_exactly_at_a_letters_lower_bound_gets_it_and_one_below_does_not(band):  # type: ignore[no-untyped-def]
    admission, exam = _pair_for(band.low)
    at = grade_outcome(admission, exam)
    assert (at.total, at.letter, at.status) == (band.low, band.letter, DisciplineStatus.PASSED)
    if band.low > 50:
        below = grade_outcome(*_pair_for(band.low - 1))
        assert below.total == band.low - 1 and below.letter != band.letter


@pytest.mark.parametrize(
    ("admission", "exam", "total", "letter"),
    [
        (90, 95, 92, "A-"),  # 54 + 38 = 92.0
        (94, 97, 95, "A"),  # 56.4 + 38.8 = 95.2
        (93, 97, 95, "A"),  # 55.8 + 38.8 = 94.6 → 95
        (96, 92, 94, "A-"),  # 57.6 + 36.8 = 94.4 → 94
    ],
)
def test_fractional_totals_round_half_up_at_the_a_boundary(admission, exam, total, letter):  # type: ignore[no-untyped-def]
    assert total_score(admission, exam) == total
    assert grade_outcome(admission, exam).letter == letter


def test_the_exam_threshold_is_inclusive_and_a_high_total_does_not_pass_a_failed_exam():
    assert grade_outcome(50, 50).status is DisciplineStatus.PASSED
    failed = grade_outcome(100, 49)  # total 79.6 → 80, but the exam is under 50
    assert (failed.total, failed.status, failed.letter) == (80, DisciplineStatus.EXAM_FAILED, "FX")


def test_an_admission_of_exactly_49_5_rounds_up_to_50_and_is_admitted():
    assert admission_rating(50, 49, 49) == 50  # (100 + 98) / 4 = 49.5 → 50
    assert grade_outcome(admission_rating(50, 49, 49), 50).status is DisciplineStatus.PASSED
    assert admission_rating(49, 50, 49) == 49  # (98 + 99) / 4 = 49.25 → 49
    assert grade_outcome(admission_rating(49, 50, 49), 100).status is DisciplineStatus.NOT_ADMITTED


def test_the_current_control_average_rounds_half_up():
    assert current_control([Cell(score=49), Cell(score=50)]) == 50  # 49.5
    assert current_control([Cell(score=94), Cell(score=95)]) == 95  # 94.5
    assert current_control([Cell(score=49), Cell(score=49), Cell(score=50)]) == 49  # 49.33
