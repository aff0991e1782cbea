"""The journal: academic periods, journals, teachers, substitutes, lessons, cells and their
history, corrections, admission ratings, exam results received over the bridge.

Revision ID: 0002_journal
Revises: 0003_bank (assigned 0001; chained after the bank issue so the history has one head)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_journal"
down_revision = "0003_bank"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "academic_periods",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_academic_periods")),
    )
    op.create_table(
        "journal_cell_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lesson_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("student_id", sa.String(length=64), nullable=False),
        sa.Column("old_score", sa.SmallInteger(), nullable=True),
        sa.Column("old_mark", sa.String(length=32), nullable=True),
        sa.Column("new_score", sa.SmallInteger(), nullable=True),
        sa.Column("new_mark", sa.String(length=32), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("correction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_cell_history")),
    )
    op.create_index("ix_journal_cell_history_cell", "journal_cell_history", ["lesson_id", "student_id"], unique=False)
    op.create_table(
        "journal_exam_results",
        sa.Column("attempt_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.String(length=64), nullable=False),
        sa.Column("discipline_code", sa.String(length=64), nullable=False),
        sa.Column("exam_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_journal_exam_results")),
    )
    op.create_index(
        "ix_journal_exam_results_student", "journal_exam_results", ["student_id", "discipline_code"], unique=False
    )
    op.create_table(
        "journal_refused_results",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt_id", sa.String(length=64), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_refused_results")),
    )
    op.create_table(
        "journals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("group_code", sa.String(length=64), nullable=False),
        sa.Column("discipline_code", sa.String(length=64), nullable=False),
        sa.Column("period_code", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_code"], ["academic_periods.code"], name=op.f("fk_journals_period_code_academic_periods")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journals")),
        sa.UniqueConstraint("group_code", "discipline_code", "period_code", name="uq_journals_group_discipline_period"),
    )
    op.create_table(
        "journal_admissions",
        sa.Column("journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("student_id", sa.String(length=64), nullable=False),
        sa.Column("current", sa.SmallInteger(), nullable=True),
        sa.Column("midterm1", sa.SmallInteger(), nullable=True),
        sa.Column("midterm2", sa.SmallInteger(), nullable=True),
        sa.Column("admission", sa.SmallInteger(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["journal_id"], ["journals.id"], name=op.f("fk_journal_admissions_journal_id_journals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("journal_id", "student_id", name=op.f("pk_journal_admissions")),
    )
    op.create_table(
        "journal_lessons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=300), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("kind IN ('lesson', 'midterm1', 'midterm2')", name=op.f("ck_journal_lessons_kind_known")),
        sa.ForeignKeyConstraint(
            ["journal_id"], ["journals.id"], name=op.f("fk_journal_lessons_journal_id_journals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_lessons")),
    )
    op.create_index("ix_journal_lessons_journal", "journal_lessons", ["journal_id"], unique=False)
    op.create_table(
        "journal_substitutes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("teacher_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("granted_by_role", sa.String(length=32), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint("valid_until > valid_from", name=op.f("ck_journal_substitutes_window_ordered")),
        sa.ForeignKeyConstraint(
            ["journal_id"], ["journals.id"], name=op.f("fk_journal_substitutes_journal_id_journals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_substitutes")),
    )
    op.create_index("ix_journal_substitutes_teacher", "journal_substitutes", ["teacher_id"], unique=False)
    op.create_table(
        "journal_teachers",
        sa.Column("journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("teacher_id", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["journal_id"], ["journals.id"], name=op.f("fk_journal_teachers_journal_id_journals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("journal_id", "teacher_id", name=op.f("pk_journal_teachers")),
    )
    op.create_index("ix_journal_teachers_teacher", "journal_teachers", ["teacher_id"], unique=False)
    op.create_table(
        "journal_cells",
        sa.Column("lesson_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("student_id", sa.String(length=64), nullable=False),
        sa.Column("journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("mark", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("(score IS NULL) <> (mark IS NULL)", name=op.f("ck_journal_cells_score_or_mark")),
        sa.CheckConstraint("score IS NULL OR score BETWEEN 0 AND 100", name=op.f("ck_journal_cells_score_range")),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["journal_lessons.id"],
            name=op.f("fk_journal_cells_lesson_id_journal_lessons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lesson_id", "student_id", name=op.f("pk_journal_cells")),
    )
    op.create_index("ix_journal_cells_journal", "journal_cells", ["journal_id"], unique=False)
    op.create_table(
        "journal_corrections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("journal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lesson_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("student_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("old_score", sa.SmallInteger(), nullable=True),
        sa.Column("old_mark", sa.String(length=32), nullable=True),
        sa.Column("new_score", sa.SmallInteger(), nullable=True),
        sa.Column("new_mark", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.String(length=64), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approver_role", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["journal_id"], ["journals.id"], name=op.f("fk_journal_corrections_journal_id_journals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["journal_lessons.id"], name=op.f("fk_journal_corrections_lesson_id_journal_lessons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_corrections")),
    )
    op.create_index("ix_journal_corrections_journal", "journal_corrections", ["journal_id"], unique=False)
    op.create_index("ix_journal_corrections_state", "journal_corrections", ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("journal_corrections")
    op.drop_table("journal_cells")
    op.drop_table("journal_teachers")
    op.drop_table("journal_substitutes")
    op.drop_table("journal_lessons")
    op.drop_table("journal_admissions")
    op.drop_table("journals")
    op.drop_table("journal_refused_results")
    op.drop_table("journal_exam_results")
    op.drop_table("journal_cell_history")
    op.drop_table("academic_periods")
