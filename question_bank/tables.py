"""Bank storage. A published version is immutable; a re-upload is a new version.

Disciplines are referred to by their code: the bank knows nothing of the exam
server's catalog tables.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, SmallInteger, String, Table, Text, UniqueConstraint

from exam_engine.db import BigId, UtcDateTime, new_metadata

metadata = new_metadata()


banks = Table(
    "banks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("discipline_code", String(64), nullable=False),
    Column("language", String(2), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("discipline_code", "language", name="uq_banks_discipline_language"),
)

bank_versions = Table(
    "bank_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("bank_id", ForeignKey("banks.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # draft | published
    Column("source_name", String(300)),
    Column("source_sha256", String(64), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("published_at", UtcDateTime),
    Column("published_by", String(100)),
    UniqueConstraint("bank_id", "version", name="uq_bank_versions_number"),
)

bank_items = Table(
    "bank_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("bank_version_id", ForeignKey("bank_versions.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("correct", SmallInteger, nullable=False),
    Column("topic", String(200)),
    Column("difficulty", SmallInteger),
    Column("twin_key", String(100)),
    UniqueConstraint("bank_version_id", "number", name="uq_bank_items_number"),
)
Index("ix_bank_items_version", bank_items.c.bank_version_id)

# An exam's blueprint: how many items of each (topic, difficulty) cell every form
# holds (Q3). Keyed by the exam server's opaque exam id; written once, with the exam.
exam_blueprints = Table(
    "exam_blueprints",
    metadata,
    Column("exam_id", BigId, primary_key=True, autoincrement=False),
    # [{"topic": str | null, "difficulty": int | null, "count": int}, ...]
    Column("cells", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
