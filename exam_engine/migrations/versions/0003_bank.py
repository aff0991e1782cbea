"""Exam blueprints: topic × difficulty counts every drawn form must hold.

Revision ID: 0003_bank
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_bank"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exam_blueprints",
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_exam_blueprints")),
    )


def downgrade() -> None:
    op.drop_table("exam_blueprints")
