"""Exam day: live attempt state (session binding, presence, pause, grants), the lobby, personal
terms (windows, multipliers, reschedules), prepared forms, and server uptime spans.

Revision ID: 0006_exam_day
Revises: 0005_trust
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_exam_day"
down_revision = "0005_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_live",
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("bound_session", sa.String(length=64), nullable=True),
        sa.Column("released_session", sa.String(length=64), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_total_s", sa.Float(), server_default="0", nullable=False),
        sa.Column("granted_s", sa.Integer(), server_default="0", nullable=False),
        sa.Column("downtime_credited_s", sa.Integer(), server_default="0", nullable=False),
        sa.Column("elsewhere_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("elsewhere_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_attempt_live")),
    )
    op.create_table(
        "exam_lobby",
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("student_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("exam_id", "student_id", name=op.f("pk_exam_lobby")),
    )
    op.create_table(
        "prepared_forms",
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("student_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("question_count", sa.SmallInteger(), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exam_id", "student_id", name=op.f("pk_prepared_forms")),
    )
    op.create_table(
        "server_uptime",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("process_id", sa.String(length=64), nullable=False),
        sa.Column("up_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("up_to", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_uptime")),
    )
    op.create_index("ix_server_uptime_up_to", "server_uptime", ["up_to"], unique=False)
    op.create_table(
        "student_terms",
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("student_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("multiplier_pct", sa.SmallInteger(), server_default="100", nullable=False),
        sa.Column("rescheduled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("document_ref", sa.String(length=200), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("multiplier_pct BETWEEN 100 AND 400", name=op.f("ck_student_terms_multiplier_range")),
        sa.PrimaryKeyConstraint("exam_id", "student_id", name=op.f("pk_student_terms")),
    )
    op.create_table(
        "prepared_items",
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("student_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("bank_item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("key_index", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id", "student_id"],
            ["prepared_forms.exam_id", "prepared_forms.student_id"],
            name=op.f("fk_prepared_items_exam_id_prepared_forms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("exam_id", "student_id", "position", name=op.f("pk_prepared_items")),
    )


def downgrade() -> None:
    op.drop_table("prepared_items")
    op.drop_table("student_terms")
    op.drop_index("ix_server_uptime_up_to", table_name="server_uptime")
    op.drop_table("server_uptime")
    op.drop_table("prepared_forms")
    op.drop_table("exam_lobby")
    op.drop_table("attempt_live")
