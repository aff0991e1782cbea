"""Trust: the sealed hash chain over the audit log, and append-only triggers.

Revision ID: 0005_trust
Revises: 0001 (chained after 0004_proctor while the others are uncommitted, so the history has one head)

The triggers refuse UPDATE and DELETE on ``audit_log`` and ``audit_seals`` for every
ordinary session. They are a guard rail, not the proof: a superuser can still bypass
them (``SET session_replication_role = replica``, ``ALTER TABLE … DISABLE TRIGGER``),
which is why the rows are also sealed into a signed hash chain that
``exam-engine audit verify`` checks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_trust"
down_revision = "0004_proctor"
branch_labels = None
depends_on = None

GUARDED = ("audit_log", "audit_seals")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION exam_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_seals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("first_row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("row_digests", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("last_row_id >= first_row_id", name=op.f("ck_audit_seals_range_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_seals")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in GUARDED:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION exam_refuse_audit_change()"
            )
    else:
        for table in GUARDED:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS exam_refuse_audit_change()")
    else:
        for table in GUARDED:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    op.drop_table("audit_seals")
