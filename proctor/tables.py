"""Proctoring storage: evidence chain rows, analysis signals, flags, reviews.

Attempts and students are opaque ids here (no foreign keys into the exam server's
tables): the proctoring package knows nothing of how exams are run. Blobs are not
in the database; each evidence row names its encrypted file under
``<data_dir>/evidence/<attempt id>/``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from exam_engine.db import BigId, UtcDateTime, new_metadata

metadata = new_metadata()


# One row per proctored attempt: its wrapped data key, the sealed chain head, the
# enrolment descriptor (encrypted), the risk score and the review state.
proctor_attempts = Table(
    "proctor_attempts",
    metadata,
    Column("attempt_id", Uuid, primary_key=True),
    Column("student_id", BigId, nullable=False),
    Column("exam_id", BigId, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("wrapped_key", String(200), nullable=False),
    Column("consent_at", UtcDateTime, nullable=False),
    Column("consent", JSON, nullable=False),
    Column("head_seq", Integer, nullable=False, server_default="0"),
    Column("head_hash", String(64)),
    Column("head_key_id", String(64)),
    Column("head_mac", String(64)),
    Column("enrolment_seq", Integer),
    Column("enrolment_state", String(16), nullable=False, server_default="missing"),
    Column("enrolment_reason", String(40)),
    Column("enrolment_descriptor", LargeBinary),
    Column("frames_received", Integer, nullable=False, server_default="0"),
    Column("frames_analysed", Integer, nullable=False, server_default="0"),
    Column("last_item_at", UtcDateTime),
    Column("risk_score", SmallInteger, nullable=False, server_default="0"),
    Column("risk_raw", Float, nullable=False, server_default="0"),
    Column("flag_count", Integer, nullable=False, server_default="0"),
    # none | pending | decided | appeal: evidence of pending and appeal is never purged.
    Column("review_state", String(16), nullable=False, server_default="none"),
    Column("live_page", String(64)),
    Column("live_page_seen_at", UtcDateTime),
    Column("purged_at", UtcDateTime),
)
Index("ix_proctor_attempts_risk", proctor_attempts.c.review_state, proctor_attempts.c.risk_score)

# The hash chain: one row per evidence item, in append order (``id``).
evidence_items = Table(
    "evidence_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("attempt_id", ForeignKey("proctor_attempts.attempt_id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("client_seq", Integer, nullable=False),
    Column("at", String(40), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("media_type", String(40), nullable=False),
    Column("trigger", String(32)),
    Column("analysed", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("attempt_id", "seq", name="uq_evidence_items_seq"),
    UniqueConstraint("attempt_id", "kind", "client_seq", name="uq_evidence_items_client_seq"),
)

# What analysis or the page said about one item, on the attempt's time scale
# (seconds since the attempt started). Frames keep an encrypted 80×60 thumbnail
# for the frozen/replayed check across workers.
proctor_signals = Table(
    "proctor_signals",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("attempt_id", ForeignKey("proctor_attempts.attempt_id", ondelete="CASCADE"), nullable=False),
    Column("evidence_seq", Integer, nullable=False),
    Column("source", String(16), nullable=False),  # frame | screen | roomscan | event | noise
    Column("at_s", Float, nullable=False),
    Column("duration", Float, nullable=False, server_default="0"),
    Column("kind", String(40)),
    Column("found", JSON, nullable=False),
    Column("checked", JSON, nullable=False),
    Column("data", JSON),
    Column("thumb", LargeBinary),
    UniqueConstraint("attempt_id", "evidence_seq", name="uq_proctor_signals_item"),
)
Index("ix_proctor_signals_attempt_at", proctor_signals.c.attempt_id, proctor_signals.c.at_s)

# Flags are recomputed from the signals; a reviewed flag keeps its review.
proctor_flags = Table(
    "proctor_flags",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("attempt_id", ForeignKey("proctor_attempts.attempt_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("severity", String(8), nullable=False),
    Column("count", Integer, nullable=False),
    Column("occurrence", Integer, nullable=False),
    Column("peak", Float),
    Column("evidence_seqs", JSON, nullable=False),
    Column("status", String(12), nullable=False, server_default="open"),  # open | confirmed | dismissed
    Column("reviewed_by", String(100)),
    Column("reviewed_at", UtcDateTime),
    Column("note", Text),
    UniqueConstraint("attempt_id", "kind", "start_ms", name="uq_proctor_flags_episode"),
)

# Every decision is kept; the latest is the attempt's current one.
proctor_decisions = Table(
    "proctor_decisions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("attempt_id", ForeignKey("proctor_attempts.attempt_id", ondelete="CASCADE"), nullable=False),
    Column("decision", String(16), nullable=False),  # clean | suspicious | violation
    Column("reason", Text, nullable=False),
    Column("reviewer", String(100), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("overrules", BigId),
)
Index("ix_proctor_decisions_attempt", proctor_decisions.c.attempt_id)

# A proctor's live request (room scan) the student's page polls for.
proctor_requests = Table(
    "proctor_requests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("attempt_id", ForeignKey("proctor_attempts.attempt_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("fulfilled_seq", Integer),
    Column("fulfilled_at", UtcDateTime),
)
Index("ix_proctor_requests_attempt", proctor_requests.c.attempt_id)

# A reference photo per student, uploaded by an administrator, encrypted with its own key.
proctor_references = Table(
    "proctor_references",
    metadata,
    Column("student_id", BigId, primary_key=True),
    Column("wrapped_key", String(200), nullable=False),
    Column("photo", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by", String(100), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
)

# Per-exam capture settings; an exam without a row uses the global defaults.
proctor_exam_settings = Table(
    "proctor_exam_settings",
    metadata,
    Column("exam_id", BigId, primary_key=True),
    Column("frame_interval_s", Float, nullable=False),
    Column("screen_interval_s", Float, nullable=False),
    Column("room_scan_at_start", Boolean, nullable=False),
    Column("screen_policy", String(8), nullable=False),  # require | flag | off
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The video recording of the exam page (issue 21). Each page load records one *segment* (a WebM
# stream with its own header, from one MediaRecorder); the page uploads it in *chunks* every few
# seconds. Each chunk is an evidence item of kind ``recording`` (its link in ``evidence_items``,
# its encrypted bytes in ``<attempt>/rec/``); these rows add what playback needs: where a chunk
# lies in its segment and when the segment started on the server's clock.
proctor_recording_segments = Table(
    "proctor_recording_segments",
    metadata,
    Column("attempt_id", ForeignKey("proctor_attempts.attempt_id", ondelete="CASCADE"), primary_key=True),
    Column("segment", Integer, primary_key=True, autoincrement=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("media_type", String(60), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

proctor_recording_chunks = Table(
    "proctor_recording_chunks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("attempt_id", ForeignKey("proctor_attempts.attempt_id", ondelete="CASCADE"), nullable=False),
    Column("segment", Integer, nullable=False),
    Column("chunk", Integer, nullable=False),
    Column("evidence_seq", Integer, nullable=False),
    Column("offset_ms", BigInteger, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("attempt_id", "segment", "chunk", name="uq_proctor_recording_chunks_chunk"),
)
