"""The exam server's tables (SQLAlchemy Core): people, catalog, exams, attempts.

Invariants the schema itself enforces, so that no code path can break them:

* one attempt per student per discipline per exam session (E2: no retake), even
  under concurrent start requests;
* one stored answer per served question, with the client's sequence number, so
  replays and reordering keep the newest answer;
* the outbox row that carries a result to the journal is unique per attempt and
  event version.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from .db import BigId, UtcDateTime, new_metadata

metadata = new_metadata()


users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("full_name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("language", String(2), nullable=False, server_default="kk"),
    Column("is_active", Boolean, nullable=False, server_default="1"),
    Column("must_change_password", Boolean, nullable=False, server_default="1"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("password_changed_at", UtcDateTime),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    # sha256 of the cookie token: a leaked table does not let anyone in.
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("ip", String(64)),
    Column("user_agent", String(300)),
)

faculties = Table(
    "faculties",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(300), nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("faculty_id", ForeignKey("faculties.id"), nullable=True),
)

# Membership keeps its history (J11): a transfer closes one row and opens another.
group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("student_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("joined_at", UtcDateTime, nullable=False),
    Column("left_at", UtcDateTime),
    PrimaryKeyConstraint("group_id", "student_id", "joined_at"),
    Index("ix_group_members_student", "student_id"),
)

group_teachers = Table(
    "group_teachers",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("teacher_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("group_id", "teacher_id"),
)

disciplines = Table(
    "disciplines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(300), nullable=False),
    Column("credits", SmallInteger),
)

exam_sessions = Table(
    "exam_sessions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(300), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
)

exams = Table(
    "exams",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("title", String(300), nullable=False),
    Column("discipline_id", ForeignKey("disciplines.id"), nullable=False),
    Column("exam_session_id", ForeignKey("exam_sessions.id"), nullable=False),
    Column("question_count", SmallInteger, nullable=False),
    Column("duration_s", Integer, nullable=False),
    Column("opens_at", UtcDateTime, nullable=False),
    Column("closes_at", UtcDateTime, nullable=False),
    Column("timeout_policy", String(32), nullable=False),
    Column("pass_score", SmallInteger, nullable=False),
    Column("requires_proctoring", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", BigId, nullable=True),
    CheckConstraint("closes_at > opens_at", name="window_ordered"),
    CheckConstraint("question_count > 0", name="questions_positive"),
    CheckConstraint("duration_s > 0", name="duration_positive"),
    CheckConstraint("pass_score BETWEEN 0 AND 100", name="pass_score_range"),
)

# The bank version each exam pins, per language (kk and ru twins of one bank).
exam_banks = Table(
    "exam_banks",
    metadata,
    Column("exam_id", ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
    Column("language", String(2), nullable=False),
    Column("bank_version_id", BigId, nullable=False),
    PrimaryKeyConstraint("exam_id", "language"),
)

exam_groups = Table(
    "exam_groups",
    metadata,
    Column("exam_id", ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", ForeignKey("groups.id"), nullable=False),
    PrimaryKeyConstraint("exam_id", "group_id"),
)

# Per-student extra time decided before the exam (E6 accommodations).
accommodations = Table(
    "accommodations",
    metadata,
    Column("exam_id", ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
    Column("student_id", ForeignKey("users.id"), nullable=False),
    Column("extra_s", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", BigId, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("exam_id", "student_id"),
    CheckConstraint("extra_s >= 0", name="extra_nonnegative"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("exam_id", ForeignKey("exams.id"), nullable=False),
    Column("student_id", ForeignKey("users.id"), nullable=False),
    # Denormalised from the exam so the no-retake rule is one unique index.
    Column("discipline_id", BigId, nullable=False),
    Column("exam_session_id", BigId, nullable=False),
    Column("language", String(2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("deadline_at", UtcDateTime, nullable=False),
    Column("submitted_at", UtcDateTime),
    Column("finished_by", String(16)),
    Column("question_count", SmallInteger, nullable=False),
    Column("correct_count", SmallInteger),
    Column("score", SmallInteger),
    Column("result", String(16)),
    Column("timeout_policy", String(32), nullable=False),
    Column("pass_score", SmallInteger, nullable=False),
    UniqueConstraint("student_id", "discipline_id", "exam_session_id", name="uq_attempts_no_retake"),
    CheckConstraint("deadline_at > started_at", name="deadline_after_start"),
    CheckConstraint("score IS NULL OR score BETWEEN 0 AND 100", name="score_range"),
)
Index(
    "ix_attempts_open_deadline",
    attempts.c.deadline_at,
    sqlite_where=attempts.c.status == "in_progress",
    postgresql_where=attempts.c.status == "in_progress",
)
# The sweeper's second look: attempts still in their device checks when the window closes.
Index(
    "ix_attempts_checks_deadline",
    attempts.c.deadline_at,
    sqlite_where=attempts.c.status == "checks",
    postgresql_where=attempts.c.status == "checks",
)
Index("ix_attempts_exam", attempts.c.exam_id)

# What each student was served, frozen at start: later bank edits change nothing here.
attempt_items = Table(
    "attempt_items",
    metadata,
    Column("attempt_id", ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("bank_item_id", BigId, nullable=False),
    Column("text", Text, nullable=False),
    Column("options", JSON, nullable=False),
    # Index of the key in the served order: server-side only, never serialised to a student.
    Column("key_index", SmallInteger, nullable=False),
    PrimaryKeyConstraint("attempt_id", "position"),
)

answers = Table(
    "answers",
    metadata,
    Column("attempt_id", ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("choice", SmallInteger),
    Column("seq", BigInteger, nullable=False),
    Column("saved_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("attempt_id", "position"),
)

# Transactional outbox: written in the grading transaction, relayed to the journal.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    # The exam a result belongs to: the relay delivers it once the exam is released
    # (hold_tables.exam_release); None (rows written before the gate) is never held.
    Column("exam_id", BigId),
    UniqueConstraint("topic", "key", "version", name="uq_outbox_event"),
)
Index(
    "ix_outbox_pending",
    outbox.c.id,
    sqlite_where=outbox.c.delivered_at.is_(None),
    postgresql_where=outbox.c.delivered_at.is_(None),
)

# Append-only record of every academic change (who, when, before, after).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Column("ip", String(64)),
)
Index("ix_audit_subject", audit_log.c.subject)

# ---------------------------------------------------------------------------------------- assignments
# Who acts where (issue 19): authority is data. A role says what kind of thing a person may do; these
# rows say on which exams and journals. ``services/authority.py`` reads them; docs/security.md explains.

# The proctors the academic administration assigned to watch an exam (editable during the exam).
exam_proctors = Table(
    "exam_proctors",
    metadata,
    Column("exam_id", ForeignKey("exams.id", ondelete="CASCADE"), nullable=False),
    Column("proctor_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
    Column("assigned_by", String(100), nullable=False),
    PrimaryKeyConstraint("exam_id", "proctor_id"),
    Index("ix_exam_proctors_proctor", "proctor_id"),
)

# Departments (кафедра / кафедра) belong to a faculty and teach disciplines.
departments = Table(
    "departments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(300), nullable=False),
    Column("faculty_id", ForeignKey("faculties.id"), nullable=False),
)

# Which department teaches a discipline: a journal (group × discipline × period) belongs to the
# department of its discipline, and to the faculty of its group.
discipline_departments = Table(
    "discipline_departments",
    metadata,
    Column("discipline_id", ForeignKey("disciplines.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), nullable=False),
)

# The faculty a faculty head heads (one faculty per person; a faculty may have an acting head too).
faculty_heads = Table(
    "faculty_heads",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("faculty_id", ForeignKey("faculties.id", ondelete="CASCADE"), nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
    Column("assigned_by", String(100), nullable=False),
)

# The department a head of department heads.
department_heads = Table(
    "department_heads",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
    Column("assigned_by", String(100), nullable=False),
)
