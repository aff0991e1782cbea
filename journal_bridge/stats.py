"""Group statistics for a discipline (J9): letter distribution, averages, pass rate.

The caller chooses the population (one group × discipline, a whole faculty…) by the
outcomes it passes in. Every student counts in ``students`` and in the pass rate's
denominator: a student who was not admitted, or whose total is not computed, has not
passed. Averages are over the values that exist (a not-admitted student has no exam
score, a timed-out one no total) and are rounded half up to two decimals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from journal_bridge.grading import DisciplineStatus, GradeOutcome
from journal_bridge.scale import DEFAULT_SCALE, GradingScale

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class GroupStatistics:
    students: int
    status_counts: tuple[tuple[DisciplineStatus, int], ...]
    distribution: tuple[tuple[str, int], ...]  # every letter of the scale, best first
    pass_rate: Decimal | None  # percent
    average_admission: Decimal | None
    average_exam: Decimal | None
    average_total: Decimal | None
    average_gpa: Decimal | None

    def count(self, status: DisciplineStatus) -> int:
        return dict(self.status_counts)[status]

    @property
    def not_computed(self) -> int:
        return self.count(DisciplineStatus.TIMED_OUT) + self.count(DisciplineStatus.ANNULLED)


def _mean(values: list[int] | list[Decimal]) -> Decimal | None:
    if not values:
        return None
    return (Decimal(sum(values)) / len(values)).quantize(_CENT, rounding=ROUND_HALF_UP)


def group_statistics(outcomes: Iterable[GradeOutcome], scale: GradingScale = DEFAULT_SCALE) -> GroupStatistics:
    rows = list(outcomes)
    statuses = Counter(o.status for o in rows)
    letters = Counter(o.letter for o in rows if o.letter is not None)
    computed = [o for o in rows if o.total is not None]
    passed = statuses[DisciplineStatus.PASSED]
    return GroupStatistics(
        students=len(rows),
        status_counts=tuple((s, statuses[s]) for s in DisciplineStatus),
        distribution=tuple((b.letter, letters[b.letter]) for b in scale.bands),
        pass_rate=(Decimal(100 * passed) / len(rows)).quantize(_CENT, rounding=ROUND_HALF_UP) if rows else None,
        average_admission=_mean([o.admission for o in rows]),
        average_exam=_mean([o.exam for o in computed if o.exam is not None]),
        average_total=_mean([o.total for o in computed if o.total is not None]),
        average_gpa=_mean([o.band.gpa for o in computed if o.band is not None]),
    )
