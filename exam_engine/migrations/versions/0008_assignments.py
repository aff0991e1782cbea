"""Assignments (issue 19): the proctors of an exam, departments and the disciplines they teach, the
heads of faculties and departments. Authority is data: ``services/authority.py`` reads these.

Revision ID: 0008_assignments
Revises: 0006_exam_day
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_assignments"
down_revision = "0006_exam_day"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("faculty_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["faculty_id"], ["faculties.id"], name=op.f("fk_departments_faculty_id_faculties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "faculty_heads",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("faculty_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["faculty_id"], ["faculties.id"], name=op.f("fk_faculty_heads_faculty_id_faculties"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_faculty_heads_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_faculty_heads")),
    )
    op.create_table(
        "department_heads",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_department_heads_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_department_heads_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_department_heads")),
    )
    op.create_table(
        "discipline_departments",
        sa.Column("discipline_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_discipline_departments_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["discipline_id"],
            ["disciplines.id"],
            name=op.f("fk_discipline_departments_discipline_id_disciplines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("discipline_id", name=op.f("pk_discipline_departments")),
    )
    op.create_table(
        "exam_proctors",
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("proctor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_exam_proctors_exam_id_exams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["proctor_id"], ["users.id"], name=op.f("fk_exam_proctors_proctor_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("exam_id", "proctor_id", name=op.f("pk_exam_proctors")),
    )
    op.create_index("ix_exam_proctors_proctor", "exam_proctors", ["proctor_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_exam_proctors_proctor", table_name="exam_proctors")
    op.drop_table("exam_proctors")
    op.drop_table("discipline_departments")
    op.drop_table("department_heads")
    op.drop_table("faculty_heads")
    op.drop_table("departments")
