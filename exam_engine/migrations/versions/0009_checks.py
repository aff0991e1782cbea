"""Device checks before the clock (issue 20): when an attempt's checks passed, the last
server-side camera check and the failed checks; an index for the sweeper over attempts
still in their checks (their deadline is the window close).

Revision ID: 0009_checks
Revises: 0006_exam_day
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_checks"
down_revision = "0008_assignments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempt_live") as batch:
        batch.add_column(sa.Column("checks_passed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("camera_check", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("failed_checks", sa.Integer(), server_default="0", nullable=False))
    op.create_index(
        "ix_attempts_checks_deadline",
        "attempts",
        ["deadline_at"],
        unique=False,
        sqlite_where=sa.text("status = 'checks'"),
        postgresql_where=sa.text("status = 'checks'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_attempts_checks_deadline",
        table_name="attempts",
        sqlite_where=sa.text("status = 'checks'"),
        postgresql_where=sa.text("status = 'checks'"),
    )
    with op.batch_alter_table("attempt_live") as batch:
        batch.drop_column("failed_checks")
        batch.drop_column("camera_check")
        batch.drop_column("checks_passed_at")
