"""Admission rating, the 60/40 total, letters and "what do I need" (J1, J10, E1).

All arithmetic is on integers, because a float total can turn a pass into a fail
(``0.6*82 + 0.4*2`` is 49.999…, the exact value is 50). Two formulas, both rounded
**half up** to an integer (x.5 goes up; every value here is non-negative):

* admission rating (J1, "current and midterm control"), weights ``w`` configurable::

      admission = round_half_up((w_c·current + w_1·midterm1 + w_2·midterm2) / (w_c + w_1 + w_2))

  The default weights 2 : 1 : 1 give the usual credit-system rule
  ``R = (R1 + R2) / 2`` with ``Ri = (current_i + midterm_i) / 2`` when the current-control
  average is the same over both halves: current control counts half, each midterm a quarter.
* total, with ``p`` the admission share in percent (60 by default)::

      total = round_half_up((p·admission + (100 − p)·exam) / 100)
            = (p·admission + (100 − p)·exam + 50) // 100

  For ``p = 60`` this is ``total×10 = 6·admission + 4·exam`` rounded half up.

Statuses: an admission below the threshold means the student is not admitted (no
total); a timed-out (E1) or annulled exam leaves the total *not computed*; an exam
below the threshold fails the discipline, and its letter is capped at the best
failing band (FX/F) even when the admission rating would lift the total higher.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from journal_bridge.errors import GradeInvalid
from journal_bridge.scale import DEFAULT_SCALE, AdmissionWeights, GradingScale, LetterBand

__all__ = [
    "DEFAULT_SCALE",
    "AdmissionWeights",
    "DisciplineStatus",
    "ExamNeed",
    "ExamStatus",
    "GradeOutcome",
    "GradingScale",
    "LetterBand",
    "NeedVerdict",
    "admission_rating",
    "grade_outcome",
    "round_half_up_div",
    "total_score",
    "what_do_i_need",
]


class ExamStatus(StrEnum):
    """What the exam engine says about an attempt (the bridge contract)."""

    PASSED = "passed"
    UNSATISFACTORY = "unsatisfactory"
    TIMED_OUT = "timed_out"
    ANNULLED = "annulled"


class DisciplineStatus(StrEnum):
    """Where a student stands in the discipline after the final control."""

    PASSED = "passed"
    EXAM_FAILED = "exam_failed"
    NOT_ADMITTED = "not_admitted"
    TIMED_OUT = "timed_out"
    ANNULLED = "annulled"
    AWAITING_EXAM = "awaiting_exam"


class NeedVerdict(StrEnum):
    REACHABLE = "reachable"
    NOT_ADMITTED = "not_admitted"
    UNREACHABLE = "unreachable"


def round_half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def _check_score(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GradeInvalid("score_not_integer", field=name, value=value)
    if not 0 <= value <= 100:
        raise GradeInvalid("score_out_of_range", field=name, value=value)
    return value


def admission_rating(current: int, midterm1: int, midterm2: int, scale: GradingScale = DEFAULT_SCALE) -> int:
    """The admission rating from current control and the two midterm controls (J1)."""
    w = scale.admission_weights
    numerator = (
        w.current * _check_score("current", current)
        + w.midterm1 * _check_score("midterm1", midterm1)
        + w.midterm2 * _check_score("midterm2", midterm2)
    )
    return round_half_up_div(numerator, w.current + w.midterm1 + w.midterm2)


def total_score(admission: int, exam: int, scale: GradingScale = DEFAULT_SCALE) -> int:
    """The discipline total, exactly: ``(p·admission + (100−p)·exam + 50) // 100``."""
    p = scale.admission_share
    weighted = p * _check_score("admission", admission) + (100 - p) * _check_score("exam", exam)
    return round_half_up_div(weighted, 100)


@dataclass(frozen=True, slots=True)
class GradeOutcome:
    """A student's result in one discipline; ``total``/``band`` are None when not computed."""

    admission: int
    exam: int | None
    total: int | None
    band: LetterBand | None
    status: DisciplineStatus
    # The grade words of a result that has a grade but no total: not finishing in time is
    # "unsatisfactory" (000 §5.5.16) while the discipline's final grade is not computed.
    graded_as: LetterBand | None = None

    @property
    def letter(self) -> str | None:
        return self.band.letter if self.band else None

    @property
    def passed(self) -> bool:
        return self.status is DisciplineStatus.PASSED

    def traditional(self, language: str) -> str | None:
        band = self.band or self.graded_as
        return band.traditional(language) if band else None


def grade_outcome(
    admission: int,
    exam: int | None,
    scale: GradingScale = DEFAULT_SCALE,
    exam_status: ExamStatus | None = None,
) -> GradeOutcome:
    """Total, letter and status of one student.

    ``exam_status`` is the engine's verdict, if any. Timed-out and annulled attempts are
    never totalled, whatever raw score they carry (E1). For the other statuses the
    journal decides pass or fail from the score with *its* threshold, so the
    institution's scale is the single source of truth.
    """
    _check_score("admission", admission)
    if admission < scale.admission_threshold:
        return GradeOutcome(admission, exam, None, None, DisciplineStatus.NOT_ADMITTED)
    if exam_status is ExamStatus.TIMED_OUT:
        # 000 §5.5.16: the grade "unsatisfactory" (the scale's lowest band gives its words), no total.
        return GradeOutcome(admission, exam, None, None, DisciplineStatus.TIMED_OUT, graded_as=scale.band_for(0))
    if exam_status is ExamStatus.ANNULLED:
        return GradeOutcome(admission, exam, None, None, DisciplineStatus.ANNULLED)
    if exam is None:
        if exam_status is not None:
            raise GradeInvalid("exam_score_missing", status=str(exam_status))
        return GradeOutcome(admission, None, None, None, DisciplineStatus.AWAITING_EXAM)
    total = total_score(admission, exam, scale)
    if exam < scale.exam_threshold:
        capped = min(total, scale.minimum_passing_total - 1)
        return GradeOutcome(admission, exam, total, scale.band_for(capped), DisciplineStatus.EXAM_FAILED)
    return GradeOutcome(admission, exam, total, scale.band_for(total), DisciplineStatus.PASSED)


@dataclass(frozen=True, slots=True)
class ExamNeed:
    """The lowest exam score that reaches ``target`` (None unless ``verdict`` is reachable)."""

    target: str
    verdict: NeedVerdict
    minimum_exam: int | None
    admission: int
    admission_threshold: int

    def message(self) -> tuple[str, dict[str, object]]:
        """The message code (``need_<verdict>``) and its parameters, for the edges to translate."""
        params: dict[str, object] = {
            "letter": self.target,
            "admission": self.admission,
            "threshold": self.admission_threshold,
            "score": self.minimum_exam,
        }
        return f"need_{self.verdict}", params


def what_do_i_need(admission: int, target_letter: str, scale: GradingScale = DEFAULT_SCALE) -> ExamNeed:
    """The minimum exam score for ``target_letter`` given an admission rating.

    Solved exactly: ``p·A + (100−p)·E + 50 ≥ 100·low`` gives
    ``E ≥ ceil((100·low − 50 − p·A) / (100 − p))``, and never below the exam threshold.
    """
    _check_score("admission", admission)
    band = scale.band(target_letter)
    if band.low < scale.minimum_passing_total:
        raise GradeInvalid("target_not_passing", letter=band.letter)
    if admission < scale.admission_threshold:
        return ExamNeed(band.letter, NeedVerdict.NOT_ADMITTED, None, admission, scale.admission_threshold)
    p = scale.admission_share
    needed = -((50 + p * admission - 100 * band.low) // (100 - p))  # ceiling division
    minimum = max(needed, scale.exam_threshold, 0)
    if minimum > 100:
        return ExamNeed(band.letter, NeedVerdict.UNREACHABLE, None, admission, scale.admission_threshold)
    return ExamNeed(band.letter, NeedVerdict.REACHABLE, minimum, admission, scale.admission_threshold)
