"""The journal's public surface: the only module the exam server (and the pages) import.

Everything the composition root wires is here by name; a test checks ``__all__``.
The journal imports nothing of ours except ``exam_engine.db`` for its column types and
``exam_engine.db_bulk`` for writing a batch of results in one statement.
"""

from __future__ import annotations

from pathlib import Path

from journal_bridge.bridge import Acceptance, AuditBatchSink, AuditEntry, accept, accept_many, stored_result
from journal_bridge.errors import (
    CellInvalid,
    CorrectionInvalid,
    FontMissing,
    GradeInvalid,
    JournalConflict,
    JournalDenied,
    JournalError,
    JournalNotFound,
    MarkSetInvalid,
    ResultForged,
    ResultInvalid,
    ScaleInvalid,
)
from journal_bridge.exports import final_results_json, statement_csv, statement_xlsx
from journal_bridge.grading import DEFAULT_SCALE, GradingScale, grade_outcome, what_do_i_need
from journal_bridge.grid_export import grid_csv, grid_xlsx
from journal_bridge.keeping import (
    MAX_REASON,
    add_lesson,
    assign_teacher,
    correction_journal_id,
    create_journal,
    enter_cell,
    file_correction,
    grant_substitute,
    lock_period,
    remove_teacher,
    review,
)
from journal_bridge.marks import DEFAULT_MARKS
from journal_bridge.result_corrections import (
    ResultChange,
    file_result_corrections,
    result_corrections,
    result_history,
    review_result_correction,
)
from journal_bridge.results import ExamResult, SignedExamResult, public_key_from_bytes, sign_result
from journal_bridge.rules import Actor, Role, within_reach
from journal_bridge.statement import Statement, Translate
from journal_bridge.store import AuditSink, Journal, journal_student_ids, load_journal, load_journals, teacher_ids
from journal_bridge.views import (
    Names,
    Roster,
    cell_history,
    corrections,
    grid,
    journal_with_view,
    statement,
    statistics_dict,
    student_results,
    visible_journals,
)


def render_statement_pdf(
    statement: Statement, language: str, translate: Translate, font_path: Path | None = None
) -> bytes:
    """:func:`journal_bridge.statement_pdf.render_statement_pdf`, loaded on first use: reportlab
    is the largest import of the journal and a server start (which must finalise overdue
    attempts at once) does not need it."""
    from journal_bridge.statement_pdf import render_statement_pdf as render

    return render(statement, language, translate, font_path)


__all__ = [
    "Acceptance",
    "Actor",
    "AuditBatchSink",
    "AuditEntry",
    "AuditSink",
    "CellInvalid",
    "CorrectionInvalid",
    "DEFAULT_MARKS",
    "DEFAULT_SCALE",
    "ExamResult",
    "FontMissing",
    "GradeInvalid",
    "GradingScale",
    "Journal",
    "JournalConflict",
    "JournalDenied",
    "JournalError",
    "JournalNotFound",
    "MAX_REASON",
    "MarkSetInvalid",
    "Names",
    "ResultChange",
    "ResultForged",
    "ResultInvalid",
    "Role",
    "Roster",
    "ScaleInvalid",
    "SignedExamResult",
    "accept",
    "accept_many",
    "add_lesson",
    "assign_teacher",
    "cell_history",
    "correction_journal_id",
    "corrections",
    "create_journal",
    "enter_cell",
    "file_correction",
    "file_result_corrections",
    "final_results_json",
    "grade_outcome",
    "grant_substitute",
    "grid",
    "grid_csv",
    "grid_xlsx",
    "journal_student_ids",
    "journal_with_view",
    "load_journal",
    "load_journals",
    "lock_period",
    "public_key_from_bytes",
    "remove_teacher",
    "render_statement_pdf",
    "result_corrections",
    "result_history",
    "review",
    "review_result_correction",
    "sign_result",
    "statement",
    "statement_csv",
    "statement_xlsx",
    "statistics_dict",
    "stored_result",
    "student_results",
    "teacher_ids",
    "visible_journals",
    "what_do_i_need",
    "within_reach",
]
