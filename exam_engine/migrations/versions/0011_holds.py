"""The item-analysis gate before the journal: exam release states, key overrides, the outbox's
exam id; the journal's exam-result history and result corrections after a period closed.

Revision ID: 0011_holds
Revises: 0006_exam_day
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_holds"
down_revision = "0009_checks"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "exam_release",
        sa.Column("exam_id", _ID, autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.JSON(), nullable=False),
        sa.Column("release_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=100), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('released', 'held')", name=op.f("ck_exam_release_state_known")),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_exam_release")),
    )
    op.create_index("ix_exam_release_state", "exam_release", ["state", "release_after"], unique=False)
    op.create_table(
        "exam_key_overrides",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("exam_id", _ID, nullable=False),
        sa.Column("bank_item_id", _ID, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("regraded", sa.Integer(), nullable=False),
        sa.CheckConstraint("action IN ('rekey', 'accept', 'drop')", name=op.f("ck_exam_key_overrides_action_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_key_overrides")),
    )
    op.create_index("ix_exam_key_overrides_exam", "exam_key_overrides", ["exam_id", "bank_item_id"], unique=False)
    op.add_column("outbox", sa.Column("exam_id", _ID, nullable=True))
    op.create_table(
        "journal_exam_result_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.String(length=64), nullable=False),
        sa.Column("discipline_code", sa.String(length=64), nullable=False),
        sa.Column("old_score", sa.SmallInteger(), nullable=True),
        sa.Column("old_status", sa.String(length=16), nullable=False),
        sa.Column("old_version", sa.Integer(), nullable=False),
        sa.Column("new_score", sa.SmallInteger(), nullable=True),
        sa.Column("new_status", sa.String(length=16), nullable=False),
        sa.Column("new_version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("correction_id", _ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_exam_result_history")),
    )
    op.create_index(
        "ix_journal_exam_result_history_student",
        "journal_exam_result_history",
        ["student_id", "discipline_code"],
        unique=False,
    )
    op.create_table(
        "journal_result_corrections",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("journal_id", _ID, nullable=False),
        sa.Column("attempt_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.String(length=64), nullable=False),
        sa.Column("old_score", sa.SmallInteger(), nullable=True),
        sa.Column("old_status", sa.String(length=16), nullable=True),
        sa.Column("new_score", sa.SmallInteger(), nullable=True),
        sa.Column("new_status", sa.String(length=16), nullable=False),
        sa.Column("new_version", sa.Integer(), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approver_role", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["journal_id"],
            ["journals.id"],
            name=op.f("fk_journal_result_corrections_journal_id_journals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_result_corrections")),
        sa.UniqueConstraint("attempt_id", "new_version", name=op.f("uq_journal_result_corrections_version")),
    )
    op.create_index("ix_journal_result_corrections_state", "journal_result_corrections", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_journal_result_corrections_state", table_name="journal_result_corrections")
    op.drop_table("journal_result_corrections")
    op.drop_index("ix_journal_exam_result_history_student", table_name="journal_exam_result_history")
    op.drop_table("journal_exam_result_history")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("exam_id")
    op.drop_index("ix_exam_key_overrides_exam", table_name="exam_key_overrides")
    op.drop_table("exam_key_overrides")
    op.drop_index("ix_exam_release_state", table_name="exam_release")
    op.drop_table("exam_release")
