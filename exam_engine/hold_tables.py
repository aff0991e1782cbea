"""The item-analysis gate's tables: each exam's release state and the quality department's key decisions.

* ``exam_release`` — one row per exam once its results are final and analysed: ``released``
  (its results go to the journal) or ``held`` (an item is flagged; the results wait for the
  quality department, or until ``release_after``). No row: the exam is not final yet, so its
  results wait in the outbox (``outbox.exam_id``).
* ``exam_key_overrides`` — every decision on an item of an exam, newest last: a new key
  (``rekey``), several accepted options (``accept``) or the item dropped from scoring
  (``drop``), in the bank's option order, with the reason and who decided. The newest
  decision per bank item is in force; the older ones are the history.
"""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Column, Index, Integer, String, Table, Text

from .db import BigId, UtcDateTime, new_metadata

metadata = new_metadata()

exam_release = Table(
    "exam_release",
    metadata,
    Column("exam_id", BigId, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("flagged", JSON, nullable=False),
    Column("release_after", UtcDateTime),
    Column("released_at", UtcDateTime),
    Column("released_by", String(100)),
    Column("release_reason", Text),
    CheckConstraint("state IN ('released', 'held')", name="state_known"),
    Index("ix_exam_release_state", "state", "release_after"),
)

exam_key_overrides = Table(
    "exam_key_overrides",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exam_id", BigId, nullable=False),
    Column("bank_item_id", BigId, nullable=False),
    Column("action", String(16), nullable=False),
    Column("options", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("regraded", Integer, nullable=False),
    CheckConstraint("action IN ('rekey', 'accept', 'drop')", name="action_known"),
    Index("ix_exam_key_overrides_exam", "exam_id", "bank_item_id"),
)
