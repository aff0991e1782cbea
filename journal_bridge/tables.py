"""The journal's tables (SQLAlchemy Core).

The journal knows people, groups and disciplines only by opaque ids and codes: a
student or teacher is the exam server's user id as a string, a group or discipline
its code. Nothing here refers to another package's tables.

Invariants the schema enforces:

* one journal per group × discipline × academic period;
* one cell per lesson × student, holding exactly one of a score 0–100 or a mark;
* every change of a cell is a row of ``journal_cell_history`` (old value, new value,
  who, when, why, and the correction that allowed it) — nothing is overwritten
  without a trace (J11);
* one exam result per attempt id (the bridge's exactly-once key), with its version.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from exam_engine.db import BigId, UtcDateTime, new_metadata

metadata = new_metadata()

PersonId = String(64)

# An academic period (semester). Locking it (J5) moves its effective close to the lock time.
academic_periods = Table(
    "academic_periods",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("closes_at", UtcDateTime, nullable=False),
    Column("locked_at", UtcDateTime),
    Column("locked_by", String(100)),
)

journals = Table(
    "journals",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("group_code", String(64), nullable=False),
    Column("discipline_code", String(64), nullable=False),
    Column("period_code", ForeignKey("academic_periods.code"), nullable=False),
    Column("institution", String(300), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    UniqueConstraint("group_code", "discipline_code", "period_code", name="uq_journals_group_discipline_period"),
)

journal_teachers = Table(
    "journal_teachers",
    metadata,
    Column("journal_id", ForeignKey("journals.id", ondelete="CASCADE"), nullable=False),
    Column("teacher_id", PersonId, nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
    Column("assigned_by", String(100), nullable=False),
    PrimaryKeyConstraint("journal_id", "teacher_id"),
    Index("ix_journal_teachers_teacher", "teacher_id"),
)

# The faculty head's written permission for a substitute (J7), valid in [valid_from, valid_until).
journal_substitutes = Table(
    "journal_substitutes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("journal_id", ForeignKey("journals.id", ondelete="CASCADE"), nullable=False),
    Column("teacher_id", PersonId, nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_until", UtcDateTime, nullable=False),
    Column("granted_by", PersonId, nullable=False),
    Column("granted_by_role", String(32), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    CheckConstraint("valid_until > valid_from", name="window_ordered"),
    Index("ix_journal_substitutes_teacher", "teacher_id"),
)

# kind: lesson (current control) | midterm1 | midterm2. A deleted lesson keeps its row and cells.
journal_lessons = Table(
    "journal_lessons",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("journal_id", ForeignKey("journals.id", ondelete="CASCADE"), nullable=False),
    Column("held_on", Date, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("topic", String(300), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", PersonId, nullable=False),
    Column("deleted_at", UtcDateTime),
    Column("deleted_by", String(100)),
    CheckConstraint("kind IN ('lesson', 'midterm1', 'midterm2')", name="kind_known"),
    Index("ix_journal_lessons_journal", "journal_id"),
)

journal_cells = Table(
    "journal_cells",
    metadata,
    Column("lesson_id", ForeignKey("journal_lessons.id", ondelete="CASCADE"), nullable=False),
    Column("student_id", PersonId, nullable=False),
    Column("journal_id", BigId, nullable=False),
    Column("score", SmallInteger),
    Column("mark", String(32)),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", PersonId, nullable=False),
    PrimaryKeyConstraint("lesson_id", "student_id"),
    CheckConstraint("(score IS NULL) <> (mark IS NULL)", name="score_or_mark"),
    CheckConstraint("score IS NULL OR score BETWEEN 0 AND 100", name="score_range"),
    Index("ix_journal_cells_journal", "journal_id"),
)

journal_corrections = Table(
    "journal_corrections",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("journal_id", ForeignKey("journals.id", ondelete="CASCADE"), nullable=False),
    Column("lesson_id", ForeignKey("journal_lessons.id"), nullable=False),
    Column("student_id", PersonId),
    Column("action", String(16), nullable=False),
    Column("old_score", SmallInteger),
    Column("old_mark", String(32)),
    Column("new_score", SmallInteger),
    Column("new_mark", String(32)),
    Column("reason", Text, nullable=False),
    Column("filed_by", PersonId, nullable=False),
    Column("filed_at", UtcDateTime, nullable=False),
    Column("approver_role", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reviewed_by", PersonId),
    Column("reviewed_at", UtcDateTime),
    Column("review_note", Text),
    Column("applied_at", UtcDateTime),
    Index("ix_journal_corrections_journal", "journal_id"),
    Index("ix_journal_corrections_state", "state"),
)

# Every change of a cell: the old and new value, who, when, why (J11).
journal_cell_history = Table(
    "journal_cell_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("journal_id", BigId, nullable=False),
    Column("lesson_id", BigId, nullable=False),
    Column("student_id", PersonId, nullable=False),
    Column("old_score", SmallInteger),
    Column("old_mark", String(32)),
    Column("new_score", SmallInteger),
    Column("new_mark", String(32)),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("changed_by", PersonId, nullable=False),
    Column("reason", Text, nullable=False),
    Column("correction_id", BigId),
    Index("ix_journal_cell_history_cell", "lesson_id", "student_id"),
)

# The admission rating of each student, recomputed in the transaction of every change of its inputs.
journal_admissions = Table(
    "journal_admissions",
    metadata,
    Column("journal_id", ForeignKey("journals.id", ondelete="CASCADE"), nullable=False),
    Column("student_id", PersonId, nullable=False),
    Column("current", SmallInteger),
    Column("midterm1", SmallInteger),
    Column("midterm2", SmallInteger),
    Column("admission", SmallInteger),
    Column("computed_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("journal_id", "student_id"),
)

# Exam results from the engine, one per attempt (the exactly-once key), verified and kept with their signature.
journal_exam_results = Table(
    "journal_exam_results",
    metadata,
    Column("attempt_id", String(64), primary_key=True),
    Column("student_id", PersonId, nullable=False),
    Column("discipline_code", String(64), nullable=False),
    Column("exam_id", String(64), nullable=False),
    Column("score", SmallInteger),
    Column("status", String(16), nullable=False),
    Column("graded_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("signature", String(128), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_journal_exam_results_student", "student_id", "discipline_code"),
)

# Results the journal refused (forged, altered, malformed, contradicting): kept for investigation.
journal_refused_results = Table(
    "journal_refused_results",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("attempt_id", String(64)),
    Column("code", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("envelope", Text, nullable=False),
)

# Every change of a stored exam result (a newer version: a regrade or an annulment), with the
# old and new score and status: the exam column's history (J11). The first delivery is the
# result's own row; only changes are written here, so a mass deadline writes nothing extra.
journal_exam_result_history = Table(
    "journal_exam_result_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("attempt_id", String(64), nullable=False),
    Column("student_id", PersonId, nullable=False),
    Column("discipline_code", String(64), nullable=False),
    Column("old_score", SmallInteger),
    Column("old_status", String(16), nullable=False),
    Column("old_version", Integer, nullable=False),
    Column("new_score", SmallInteger),
    Column("new_status", String(16), nullable=False),
    Column("new_version", Integer, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("correction_id", BigId),
    Index("ix_journal_exam_result_history_student", "student_id", "discipline_code"),
)

# A newer exam result that arrived after the journal's period closed (J5): it waits as a
# correction a deputy head approves (J6); the signed envelope is applied on approval.
journal_result_corrections = Table(
    "journal_result_corrections",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("journal_id", ForeignKey("journals.id", ondelete="CASCADE"), nullable=False),
    Column("attempt_id", String(64), nullable=False),
    Column("student_id", PersonId, nullable=False),
    Column("old_score", SmallInteger),
    Column("old_status", String(16)),
    Column("new_score", SmallInteger),
    Column("new_status", String(16), nullable=False),
    Column("new_version", Integer, nullable=False),
    Column("envelope", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("filed_by", String(100), nullable=False),
    Column("filed_at", UtcDateTime, nullable=False),
    Column("approver_role", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reviewed_by", PersonId),
    Column("reviewed_at", UtcDateTime),
    Column("review_note", Text),
    Column("applied_at", UtcDateTime),
    UniqueConstraint("attempt_id", "new_version", name="uq_journal_result_corrections_version"),
    Index("ix_journal_result_corrections_state", "state"),
)
