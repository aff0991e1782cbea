"""The video recording of the exam page: segments (one per page load) and their chunks (issue 21).

Revision ID: 0012_recordings
Revises: 0011_holds
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_recordings"
down_revision = "0011_holds"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "proctor_recording_segments",
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("segment", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("media_type", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["proctor_attempts.attempt_id"],
            name=op.f("fk_proctor_recording_segments_attempt_id_proctor_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attempt_id", "segment", name=op.f("pk_proctor_recording_segments")),
    )
    op.create_table(
        "proctor_recording_chunks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("evidence_seq", sa.Integer(), nullable=False),
        sa.Column("offset_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["proctor_attempts.attempt_id"],
            name=op.f("fk_proctor_recording_chunks_attempt_id_proctor_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proctor_recording_chunks")),
        sa.UniqueConstraint("attempt_id", "segment", "chunk", name="uq_proctor_recording_chunks_chunk"),
    )


def downgrade() -> None:
    op.drop_table("proctor_recording_chunks")
    op.drop_table("proctor_recording_segments")
