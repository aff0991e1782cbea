"""Exam-day tables: live attempt state, the lobby, personal terms, prepared forms, server uptime.

They sit beside the attempt tables without changing them (no foreign keys into
``exam_engine.tables``: another metadata; attempts are never deleted anyway):

* ``attempt_live`` — one row per attempt, written at start: the session (browser) the
  attempt is bound to, last-seen (written at most every 15 s), the pause moment and the
  paused, granted and credited seconds, and refused requests from other sessions;
* ``exam_lobby`` — who signed in before the opening and which checks they passed;
* ``student_terms`` — a student's personal window and time multiplier for one exam
  (extra *minutes* stay in ``accommodations``), with the reason and document reference;
* ``prepared_forms`` / ``prepared_items`` — forms drawn, shuffled and frozen before the
  opening; starting moves the items onto the attempt and deletes them here;
* ``server_uptime`` — per server process, the spans it was serving (from beats), so a
  gap when no process was up can be measured and credited.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)

from .db import BigId, UtcDateTime, new_metadata

metadata = new_metadata()


attempt_live = Table(
    "attempt_live",
    metadata,
    Column("attempt_id", Uuid, primary_key=True),
    # SHA-256 of the session token that may act on the attempt; NULL after a device move until claimed.
    Column("bound_session", String(64)),
    Column("released_session", String(64)),
    Column("last_seen_at", UtcDateTime),
    Column("paused_at", UtcDateTime),
    Column("paused_total_s", Float, nullable=False, server_default="0"),
    Column("granted_s", Integer, nullable=False, server_default="0"),
    Column("downtime_credited_s", Integer, nullable=False, server_default="0"),
    Column("elsewhere_count", Integer, nullable=False, server_default="0"),
    Column("elsewhere_at", UtcDateTime),
    # Proctored exams (issue 20): the device checks before the clock. When they passed (or a proctor
    # let the student in), the last server-side camera check ({"ok", "reason", "faces", "at"}) and
    # how many checks failed (the live view's "needs help").
    Column("checks_passed_at", UtcDateTime),
    Column("camera_check", JSON),
    Column("failed_checks", Integer, nullable=False, server_default="0"),
)

exam_lobby = Table(
    "exam_lobby",
    metadata,
    Column("exam_id", BigId, nullable=False),
    Column("student_id", BigId, nullable=False),
    Column("joined_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("checks", JSON, nullable=False),
    PrimaryKeyConstraint("exam_id", "student_id"),
)

student_terms = Table(
    "student_terms",
    metadata,
    Column("exam_id", BigId, nullable=False),
    Column("student_id", BigId, nullable=False),
    Column("opens_at", UtcDateTime),
    Column("closes_at", UtcDateTime),
    Column("multiplier_pct", SmallInteger, nullable=False, server_default="100"),
    Column("rescheduled", Boolean, nullable=False, server_default="0"),
    Column("reason", Text, nullable=False),
    Column("document_ref", String(200)),
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("exam_id", "student_id"),
    CheckConstraint("multiplier_pct BETWEEN 100 AND 400", name="multiplier_range"),
)

prepared_forms = Table(
    "prepared_forms",
    metadata,
    Column("exam_id", BigId, nullable=False),
    Column("student_id", BigId, nullable=False),
    Column("language", String(2), nullable=False),
    Column("question_count", SmallInteger, nullable=False),
    Column("prepared_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("exam_id", "student_id"),
)

prepared_items = Table(
    "prepared_items",
    metadata,
    Column("exam_id", BigId, nullable=False),
    Column("student_id", BigId, nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("bank_item_id", BigId, nullable=False),
    Column("text", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("key_index", SmallInteger, nullable=False),
    PrimaryKeyConstraint("exam_id", "student_id", "position"),
    ForeignKeyConstraint(
        ["exam_id", "student_id"], ["prepared_forms.exam_id", "prepared_forms.student_id"], ondelete="CASCADE"
    ),
)

server_uptime = Table(
    "server_uptime",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("process_id", String(64), nullable=False),
    Column("up_from", UtcDateTime, nullable=False),
    Column("up_to", UtcDateTime, nullable=False),
)
Index("ix_server_uptime_up_to", server_uptime.c.up_to)
