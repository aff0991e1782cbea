"""Tables of the trust layer: the sealed hash chain over ``audit_log``.

A seal covers a contiguous range of audit row ids. It stores each covered row's
digest (so ``audit verify`` can name the exact row that was altered or removed),
the hash of (previous seal hash, range, digests), and an Ed25519 signature of that
hash made with the engine's signing key, which is never in the database. A person
with write access to the database can change rows and even recompute hashes, but
cannot sign: the chain then fails verification at the first changed link.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Integer, String, Table, Text

from exam_engine.db import BigId, UtcDateTime, new_metadata

metadata = new_metadata()


audit_seals = Table(
    "audit_seals",
    metadata,
    # Not autoincrement: the sealer writes previous id + 1, so two sealers racing
    # for the same link collide on the primary key instead of forking the chain.
    Column("id", BigId, primary_key=True, autoincrement=False),
    Column("first_row_id", BigId, nullable=False),
    Column("last_row_id", BigId, nullable=False),
    Column("row_count", Integer, nullable=False),
    # "id:sha256hex" per covered row, one per line, in id order.
    Column("row_digests", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("sealed_at", UtcDateTime, nullable=False),
    CheckConstraint("last_row_id >= first_row_id", name="range_ordered"),
)
