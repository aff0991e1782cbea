"""The exam-rating statement (емтихан-рейтингтік ведомость, J8) as plain data.

:func:`build_statement` grades every student under the institution's scale, orders
them in Kazakh alphabetical order and computes the group statistics. The PDF, XLSX
and CSV renderers all read the same :func:`statement_table`, so the three never
disagree about a column. Renderers take ``translate(language, msgid, **params)`` —
the project's ``exam_engine.i18n.translate`` — because this package imports nothing
of ours (the composition root wires it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from journal_bridge.collation import kazakh_sort_key
from journal_bridge.grading import DisciplineStatus, ExamStatus, GradeOutcome, grade_outcome
from journal_bridge.messages import MESSAGES
from journal_bridge.scale import DEFAULT_SCALE, GradingScale
from journal_bridge.stats import GroupStatistics, group_statistics

Translate = Callable[..., str]
Value = int | str | Decimal | None


@dataclass(frozen=True, slots=True)
class StatementHeader:
    institution: str
    faculty: str
    group: str
    discipline: str
    discipline_code: str
    credits: int
    exam_date: date
    examiner: str


@dataclass(frozen=True, slots=True)
class StudentEntry:
    """A student's inputs: the admission rating and, once graded, the exam result."""

    student_id: str
    full_name: str
    admission: int
    exam: int | None = None
    exam_status: ExamStatus | None = None


@dataclass(frozen=True, slots=True)
class StatementRow:
    number: int
    student_id: str
    full_name: str
    outcome: GradeOutcome


@dataclass(frozen=True, slots=True)
class Statement:
    header: StatementHeader
    rows: tuple[StatementRow, ...]
    statistics: GroupStatistics
    scale: GradingScale


def build_statement(
    header: StatementHeader, entries: Iterable[StudentEntry], scale: GradingScale = DEFAULT_SCALE
) -> Statement:
    ordered = sorted(entries, key=lambda e: kazakh_sort_key(e.full_name))
    rows = tuple(
        StatementRow(i, e.student_id, e.full_name, grade_outcome(e.admission, e.exam, scale, e.exam_status))
        for i, e in enumerate(ordered, start=1)
    )
    return Statement(header, rows, group_statistics((r.outcome for r in rows), scale), scale)


COLUMNS = (
    "col_number",
    "col_student",
    "col_admission",
    "col_exam",
    "col_total",
    "col_letter",
    "col_gpa",
    "col_traditional",
    "col_status",
)
# A timed-out or annulled attempt, or a student not admitted, has no total: say so in the cell.
# The raw score of a timed-out or annulled attempt stays in the record, not on the statement.
_RAW_SCORE_ONLY = frozenset({DisciplineStatus.TIMED_OUT, DisciplineStatus.ANNULLED})
_NO_TOTAL = frozenset({DisciplineStatus.TIMED_OUT, DisciplineStatus.ANNULLED, DisciplineStatus.NOT_ADMITTED})


def label(translate: Translate, language: str, code: str, **params: object) -> str:
    """The translated text of a registered message code."""
    return translate(language, MESSAGES[code], **params)


def statement_table(statement: Statement, language: str, translate: Translate) -> tuple[list[str], list[list[Value]]]:
    """Column titles and one row of typed values per student (None is an empty cell)."""
    titles = [label(translate, language, c) for c in COLUMNS]
    body: list[list[Value]] = []
    for row in statement.rows:
        o = row.outcome
        exam: Value = o.exam
        total: Value = o.total
        if o.status in _NO_TOTAL:
            total = label(translate, language, "total_not_computed")
        if o.status in _RAW_SCORE_ONLY:
            exam = None
        body.append(
            [
                row.number,
                row.full_name,
                o.admission,
                exam,
                total,
                o.letter,
                o.band.gpa if o.band else None,
                o.traditional(language),
                label(translate, language, f"status_{o.status}"),
            ]
        )
    return titles, body


def format_value(value: Value) -> str:
    return "" if value is None else str(value)
