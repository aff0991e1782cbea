"""Totals, letters, statuses and "what do I need" under the default scale (J1, J10, E1)."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal_bridge.errors import GradeInvalid
from journal_bridge.grading import (
    DisciplineStatus,
    ExamStatus,
    NeedVerdict,
    admission_rating,
    grade_outcome,
    total_score,
    what_do_i_need,
)
from journal_bridge.scale import AdmissionWeights, GradingScale

# The table, written out independently of the code's default scale.
SPEC = [
    ("A", 95, 100, "4.00", "өте жақсы", "отлично"),
    ("A-", 90, 94, "3.67", "өте жақсы", "отлично"),
    ("B+", 85, 89, "3.33", "жақсы", "хорошо"),
    ("B", 80, 84, "3.00", "жақсы", "хорошо"),
    ("B-", 75, 79, "2.67", "жақсы", "хорошо"),
    ("C+", 70, 74, "2.33", "жақсы", "хорошо"),
    ("C", 65, 69, "2.00", "қанағаттанарлық", "удовлетворительно"),
    ("C-", 60, 64, "1.67", "қанағаттанарлық", "удовлетворительно"),
    ("D+", 55, 59, "1.33", "қанағаттанарлық", "удовлетворительно"),
    ("D", 50, 54, "1.00", "қанағаттанарлық", "удовлетворительно"),
    ("FX", 25, 49, "0.5", "қанағаттанарлықсыз", "неудовлетворительно"),
    ("F", 0, 24, "0", "қанағаттанарлықсыз", "неудовлетворительно"),
]
EDGES = [(letter, edge, gpa, kk, ru) for letter, low, high, gpa, kk, ru in SPEC for edge in {low, high}]


@pytest.mark.parametrize(("letter", "total", "gpa", "kk", "ru"), EDGES)
def test_every_letter_edge_maps_to_its_letter_gpa_and_traditional_grade(letter, total, gpa, kk, ru):
    band = GradingScale().band_for(total)
    assert (band.letter, band.gpa, band.traditional("kk"), band.traditional("ru")) == (letter, Decimal(gpa), kk, ru)


@pytest.mark.parametrize(
    ("admission", "exam", "total", "letter", "status"),
    [
        (49, 100, None, None, DisciplineStatus.NOT_ADMITTED),
        (50, 50, 50, "D", DisciplineStatus.PASSED),
        (50, 49, 50, "FX", DisciplineStatus.EXAM_FAILED),
        (100, 49, 80, "FX", DisciplineStatus.EXAM_FAILED),
        (100, 0, 60, "FX", DisciplineStatus.EXAM_FAILED),
        (82, 2, 50, "FX", DisciplineStatus.EXAM_FAILED),
        (100, 100, 100, "A", DisciplineStatus.PASSED),
        (95, 94, 95, "A", DisciplineStatus.PASSED),  # 94.6 rounds up
        (94, 94, 94, "A-", DisciplineStatus.PASSED),
        (89, 90, 89, "B+", DisciplineStatus.PASSED),  # 89.4 rounds down
        (57, 50, 54, "D", DisciplineStatus.PASSED),  # 54.2
        (58, 50, 55, "D+", DisciplineStatus.PASSED),  # 54.8
    ],
)
def test_boundary_table_of_totals(admission, exam, total, letter, status):
    outcome = grade_outcome(admission, exam)
    assert (outcome.total, outcome.letter, outcome.status) == (total, letter, status)


def test_the_float_trap_total_is_exactly_fifty():
    assert 0.6 * 82 + 0.4 * 2 < 50  # the trap the integer formula avoids
    assert total_score(82, 2) == 50


def test_a_half_point_total_rounds_up():
    # 6·55 + 4·51 = 534 → 53.4 → 53; 6·55 + 4·52 = 538 → 53.8 → 54; 6·51 + 4·50 = 506 → 50.6 → 51
    assert [total_score(55, 51), total_score(55, 52), total_score(51, 50)] == [53, 54, 51]
    # exactly x.5: with a 50 % admission share 51/50 gives 50.5 → 51
    assert total_score(51, 50, GradingScale(admission_share=50, bands=GradingScale().bands)) == 51


@given(st.integers(0, 100), st.integers(0, 100))
def test_total_equals_the_exact_fraction_rounded_half_up(admission, exam):
    exact = Fraction(6 * admission + 4 * exam, 10)
    assert total_score(admission, exam) == int(exact + Fraction(1, 2))


def test_exam_failed_makes_the_discipline_unsatisfactory_even_with_a_high_admission():
    outcome = grade_outcome(100, 10)
    assert not outcome.passed
    assert outcome.traditional("ru") == "неудовлетворительно"


@pytest.mark.parametrize("status", [ExamStatus.TIMED_OUT, ExamStatus.ANNULLED])
def test_timed_out_or_annulled_exam_leaves_the_total_not_computed(status):
    outcome = grade_outcome(90, 70, exam_status=status)
    assert (outcome.total, outcome.letter, outcome.status.value) == (None, None, status.value)


def test_not_finishing_in_time_is_the_grade_unsatisfactory_with_no_total():
    # 000 §5.5.16: the system "gives the grade «қанағаттанарлықсыз»", and the discipline's final
    # grade is not computed. The journal showed no grade at all for such a student.
    outcome = grade_outcome(90, 70, exam_status=ExamStatus.TIMED_OUT)
    assert (outcome.total, outcome.letter, outcome.passed) == (None, None, False)
    assert (outcome.traditional("kk"), outcome.traditional("ru")) == ("қанағаттанарлықсыз", "неудовлетворительно")
    # An annulled exam is no grade at all (the proctor's decision, not the student's time).
    assert grade_outcome(90, 70, exam_status=ExamStatus.ANNULLED).traditional("kk") is None


def test_no_exam_yet_is_awaiting_and_an_unsatisfactory_status_without_score_is_refused():
    assert grade_outcome(70, None).status is DisciplineStatus.AWAITING_EXAM
    with pytest.raises(GradeInvalid) as error:
        grade_outcome(70, None, exam_status=ExamStatus.UNSATISFACTORY)
    assert error.value.code == "exam_score_missing"


@pytest.mark.parametrize(
    ("value", "code"),
    [(101, "score_out_of_range"), (-1, "score_out_of_range"), (50.5, "score_not_integer"), (True, "score_not_integer")],
)
def test_scores_outside_integers_zero_to_hundred_are_refused(value, code):
    with pytest.raises(GradeInvalid) as error:
        total_score(value, 60)
    assert (error.value.code, error.value.params["field"]) == (code, "admission")


def test_admission_rating_weights_current_half_and_each_midterm_a_quarter_by_default():
    assert admission_rating(80, 60, 70) == 73  # (160 + 60 + 70) / 4 = 72.5 → 73
    assert admission_rating(100, 0, 0) == 50


def test_admission_rating_weights_are_configurable():
    equal = GradingScale(admission_weights=AdmissionWeights(1, 1, 1))
    assert admission_rating(80, 60, 70, equal) == 70


@pytest.mark.parametrize(("admission", "target", "expected"), [(100, "A", 87), (50, "D", 50), (90, "B", 64)])
def test_what_do_i_need_names_the_lowest_exam_score_for_a_letter(admission, target, expected):
    need = what_do_i_need(admission, target)
    assert (need.verdict, need.minimum_exam) == (NeedVerdict.REACHABLE, expected)
    assert grade_outcome(admission, expected).band.low >= GradingScale().band(target).low
    assert grade_outcome(admission, expected - 1).letter != target


def test_what_do_i_need_says_impossible_or_not_admitted():
    assert what_do_i_need(70, "A").verdict is NeedVerdict.UNREACHABLE
    assert what_do_i_need(49, "D").verdict is NeedVerdict.NOT_ADMITTED
    code, params = what_do_i_need(100, "a-").message()
    assert (code, params["score"], params["letter"]) == ("need_reachable", 74, "A-")


def test_what_do_i_need_refuses_a_failing_or_unknown_target():
    for letter, code in (("FX", "target_not_passing"), ("Z", "grade_unknown_letter")):
        with pytest.raises(GradeInvalid) as error:
            what_do_i_need(80, letter)
        assert error.value.code == code


@given(st.integers(50, 100), st.sampled_from([row[0] for row in SPEC[:10]]))
def test_what_do_i_need_agrees_with_a_search_over_every_exam_score(admission, target):
    low = GradingScale().band(target).low
    outcomes = [grade_outcome(admission, e) for e in range(101)]
    reaching = [e for e, o in enumerate(outcomes) if o.passed and o.total >= low]
    need = what_do_i_need(admission, target)
    assert need.minimum_exam == (reaching[0] if reaching else None)
