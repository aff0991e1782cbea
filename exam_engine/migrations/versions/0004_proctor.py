"""Proctoring: per-attempt evidence state and keys, the evidence hash chain, analysis
signals, flags, review decisions, live requests, reference photos, per-exam settings.

Revision ID: 0004_proctor
Revises: 0001 (chained after 0002_journal while the others are uncommitted, so the history has one head)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_proctor"
down_revision = "0002_journal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proctor_attempts",
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wrapped_key", sa.String(length=200), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=False),
        sa.Column("head_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=True),
        sa.Column("head_key_id", sa.String(length=64), nullable=True),
        sa.Column("head_mac", sa.String(length=64), nullable=True),
        sa.Column("enrolment_seq", sa.Integer(), nullable=True),
        sa.Column("enrolment_state", sa.String(length=16), server_default="missing", nullable=False),
        sa.Column("enrolment_reason", sa.String(length=40), nullable=True),
        sa.Column("enrolment_descriptor", sa.LargeBinary(), nullable=True),
        sa.Column("frames_received", sa.Integer(), server_default="0", nullable=False),
        sa.Column("frames_analysed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_item_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("risk_score", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("risk_raw", sa.Float(), server_default="0", nullable=False),
        sa.Column("flag_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("review_state", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("live_page", sa.String(length=64), nullable=True),
        sa.Column("live_page_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_proctor_attempts")),
    )
    op.create_index("ix_proctor_attempts_risk", "proctor_attempts", ["review_state", "risk_score"], unique=False)
    op.create_table(
        "proctor_exam_settings",
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("frame_interval_s", sa.Float(), nullable=False),
        sa.Column("screen_interval_s", sa.Float(), nullable=False),
        sa.Column("room_scan_at_start", sa.Boolean(), nullable=False),
        sa.Column("screen_policy", sa.String(length=8), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_proctor_exam_settings")),
    )
    op.create_table(
        "proctor_references",
        sa.Column("student_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("wrapped_key", sa.String(length=200), nullable=False),
        sa.Column("photo", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("student_id", name=op.f("pk_proctor_references")),
    )
    op.create_table(
        "evidence_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("client_seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=True),
        sa.Column("analysed", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["proctor_attempts.attempt_id"],
            name=op.f("fk_evidence_items_attempt_id_proctor_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_items")),
        sa.UniqueConstraint("attempt_id", "kind", "client_seq", name="uq_evidence_items_client_seq"),
        sa.UniqueConstraint("attempt_id", "seq", name="uq_evidence_items_seq"),
    )
    op.create_table(
        "proctor_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overrules", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["proctor_attempts.attempt_id"],
            name=op.f("fk_proctor_decisions_attempt_id_proctor_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proctor_decisions")),
    )
    op.create_index("ix_proctor_decisions_attempt", "proctor_decisions", ["attempt_id"], unique=False)
    op.create_table(
        "proctor_flags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Float(), nullable=True),
        sa.Column("evidence_seqs", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="open", nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["proctor_attempts.attempt_id"],
            name=op.f("fk_proctor_flags_attempt_id_proctor_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proctor_flags")),
        sa.UniqueConstraint("attempt_id", "kind", "start_ms", name="uq_proctor_flags_episode"),
    )
    op.create_table(
        "proctor_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fulfilled_seq", sa.Integer(), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["proctor_attempts.attempt_id"],
            name=op.f("fk_proctor_requests_attempt_id_proctor_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proctor_requests")),
    )
    op.create_index("ix_proctor_requests_attempt", "proctor_requests", ["attempt_id"], unique=False)
    op.create_table(
        "proctor_signals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), server_default="0", nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=True),
        sa.Column("found", sa.JSON(), nullable=False),
        sa.Column("checked", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("thumb", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["proctor_attempts.attempt_id"],
            name=op.f("fk_proctor_signals_attempt_id_proctor_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proctor_signals")),
        sa.UniqueConstraint("attempt_id", "evidence_seq", name="uq_proctor_signals_item"),
    )
    op.create_index("ix_proctor_signals_attempt_at", "proctor_signals", ["attempt_id", "at_s"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_proctor_signals_attempt_at", table_name="proctor_signals")
    op.drop_table("proctor_signals")
    op.drop_index("ix_proctor_requests_attempt", table_name="proctor_requests")
    op.drop_table("proctor_requests")
    op.drop_table("proctor_flags")
    op.drop_index("ix_proctor_decisions_attempt", table_name="proctor_decisions")
    op.drop_table("proctor_decisions")
    op.drop_table("evidence_items")
    op.drop_table("proctor_references")
    op.drop_table("proctor_exam_settings")
    op.drop_index("ix_proctor_attempts_risk", table_name="proctor_attempts")
    op.drop_table("proctor_attempts")
