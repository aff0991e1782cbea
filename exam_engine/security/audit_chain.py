"""The audit hash chain, as pure functions over plain values.

Each audit row has a *digest*: SHA-256 over a canonical JSON encoding of all its
columns. A *seal* covers the rows with ids in ``[first_row_id, last_row_id]`` that
existed when it was made; it lists their digests and its hash is

    SHA-256("audit-seal-v1" | seal id | previous seal's hash | range | sealed_at | digests)

so every seal commits to all seals before it. The hash is signed with Ed25519.

:func:`verify` walks the seals and the rows together in id order and reports the
*first* broken link: a seal missing, re-linked, altered or badly signed, or a row
altered, deleted, or inserted into an already sealed range. Rows after the last seal
are simply not sealed yet (the sealer runs every few seconds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64
HEAD_PREFIX = b"exam-engine audit head v1\n"


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: Any
    after: Any
    ip: str | None


@dataclass(frozen=True, slots=True)
class Seal:
    id: int
    first_row_id: int
    last_row_id: int
    row_count: int
    row_digests: str
    prev_hash: str
    hash: str
    key_id: str
    signature: str
    sealed_at: datetime


class BreakKind(StrEnum):
    SEAL_MISSING = "seal_missing"
    SEAL_RELINKED = "seal_relinked"
    SEAL_ALTERED = "seal_altered"
    SEAL_SIGNATURE = "seal_signature_invalid"
    SEAL_UNKNOWN_KEY = "seal_unknown_key"
    ROW_ALTERED = "row_altered"
    ROW_DELETED = "row_deleted"
    ROW_INSERTED = "row_inserted"
    ROW_MALFORMED = "row_malformed"  # a column no longer reads as its type (edited by hand)
    SEAL_MALFORMED = "seal_malformed"


@dataclass(frozen=True, slots=True)
class Break:
    kind: BreakKind
    seal_id: int | None
    row_id: int | None
    detail: str
    column: str | None = None  # of a malformed row or seal
    problem: str | None = None

    def describe(self) -> str:
        where = ", ".join(
            ([f"seal {self.seal_id}"] if self.seal_id is not None else [])
            + ([f"audit row {self.row_id}"] if self.row_id is not None else [])
        )
        return f"{self.kind.value} at {where}: {self.detail}"


class Malformed(Exception):
    """A stored row or seal whose column cannot be read as its type; raised while streaming them."""

    def __init__(self, table: str, row_id: object, column: str, problem: str) -> None:
        super().__init__(f"{table} row {row_id}, column {column}: {problem}")
        self.table, self.row_id, self.column, self.problem = table, row_id, column, problem

    def as_break(self) -> Break:
        row_id = self.row_id if isinstance(self.row_id, int) else None
        detail = f"column {self.column} cannot be read: {self.problem}"
        if self.table == "audit_seals":
            return Break(BreakKind.SEAL_MALFORMED, row_id, None, detail, self.column, self.problem)
        return Break(BreakKind.ROW_MALFORMED, None, row_id, detail, self.column, self.problem)


@dataclass(frozen=True, slots=True)
class Report:
    seals: int
    sealed_rows: int
    unsealed_rows: int
    head_hash: str
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_row(row: AuditRow) -> bytes:
    """All columns, in a fixed order, JSON with sorted keys: the same bytes on both databases."""
    data = [row.id, _utc(row.at), row.actor, row.action, row.subject, row.before, row.after, row.ip]
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_digest(row: AuditRow) -> str:
    return hashlib.sha256(b"audit-row-v1\n" + canonical_row(row)).hexdigest()


def digests_text(pairs: Iterable[tuple[int, str]]) -> str:
    return "\n".join(f"{row_id}:{digest}" for row_id, digest in pairs)


def parse_digests(text: str) -> list[tuple[int, str]]:
    """The seal's ``id:digest`` lines; raises ValueError when malformed."""
    pairs = []
    for line in text.split("\n") if text else []:
        row_id, digest = line.split(":", 1)
        pairs.append((int(row_id), digest))
    return pairs


def seal_hash(
    seal_id: int, prev_hash: str, first_row_id: int, last_row_id: int, sealed_at: datetime, row_digests: str
) -> str:
    header = f"audit-seal-v1\n{seal_id}\n{prev_hash}\n{first_row_id}\n{last_row_id}\n{_utc(sealed_at)}\n"
    return hashlib.sha256(header.encode() + row_digests.encode()).hexdigest()


def head_message(hash_hex: str) -> bytes:
    return HEAD_PREFIX + hash_hex.encode()


def make_seal(
    seal_id: int,
    prev_hash: str,
    rows: Sequence[AuditRow],
    sealed_at: datetime,
    key_id: str,
    sign: Callable[[bytes], str],
) -> Seal:
    """The next link over ``rows`` (in id order, non-empty)."""
    text = digests_text((r.id, row_digest(r)) for r in rows)
    first, last = rows[0].id, rows[-1].id
    hash_hex = seal_hash(seal_id, prev_hash, first, last, sealed_at, text)
    return Seal(
        id=seal_id,
        first_row_id=first,
        last_row_id=last,
        row_count=len(rows),
        row_digests=text,
        prev_hash=prev_hash,
        hash=hash_hex,
        key_id=key_id,
        signature=sign(head_message(hash_hex)),
        sealed_at=sealed_at,
    )


Verify = Callable[[str, bytes, str], bool]


def _check_seal(
    seal: Seal, expected_id: int, prev_hash: str, prev_last: int, verify: Verify, known_key: Callable[[str], bool]
) -> tuple[Break | None, list[tuple[int, str]]]:
    if seal.id != expected_id:
        return Break(BreakKind.SEAL_MISSING, expected_id, None, f"expected seal {expected_id}, found {seal.id}"), []
    if seal.prev_hash != prev_hash:
        return Break(BreakKind.SEAL_RELINKED, seal.id, None, "its previous-hash does not match the seal before it"), []
    recomputed = seal_hash(
        seal.id, seal.prev_hash, seal.first_row_id, seal.last_row_id, seal.sealed_at, seal.row_digests
    )
    try:
        pairs = parse_digests(seal.row_digests)
    except ValueError:
        pairs = []
    ids = [p[0] for p in pairs]
    well_formed = (
        len(pairs) == seal.row_count > 0
        and ids == sorted(set(ids))
        and ids[0] == seal.first_row_id
        and ids[-1] == seal.last_row_id
        and seal.first_row_id > prev_last
    )
    if recomputed != seal.hash or not well_formed:
        return Break(BreakKind.SEAL_ALTERED, seal.id, None, "its contents do not match its hash"), []
    if not known_key(seal.key_id):
        return Break(
            BreakKind.SEAL_UNKNOWN_KEY,
            seal.id,
            None,
            f"signed with key {seal.key_id}, which is not among the trusted public keys",
        ), []
    if not verify(seal.key_id, head_message(seal.hash), seal.signature):
        return Break(BreakKind.SEAL_SIGNATURE, seal.id, None, "the signature of its hash is not valid"), []
    return None, pairs


def verify(
    seals: Iterable[Seal], rows: Iterable[AuditRow], verify_signature: Verify, known_key: Callable[[str], bool]
) -> Report:
    """Check every seal, then every row against the seals, both in id order; stop at the first break.

    A row or seal the iterators cannot read raises :class:`Malformed`; it is reported as the break.
    """
    try:
        return _verify(seals, rows, verify_signature, known_key)
    except Malformed as malformed:
        return Report(0, 0, 0, GENESIS, malformed.as_break())


def _verify(
    seals: Iterable[Seal], rows: Iterable[AuditRow], verify_signature: Verify, known_key: Callable[[str], bool]
) -> Report:
    row_iter: Iterator[AuditRow] = iter(rows)
    pending = next(row_iter, None)
    prev_hash, prev_last, count, sealed_rows = GENESIS, 0, 0, 0
    for seal in seals:
        problem, pairs = _check_seal(seal, count + 1, prev_hash, prev_last, verify_signature, known_key)
        if problem is not None:
            return Report(count, sealed_rows, 0, prev_hash, problem)
        for row_id, digest in pairs:
            if pending is not None and pending.id < row_id:
                return Report(
                    count,
                    sealed_rows,
                    0,
                    prev_hash,
                    Break(BreakKind.ROW_INSERTED, seal.id, pending.id, "this row was added to a sealed range later"),
                )
            if pending is None or pending.id > row_id:
                return Report(
                    count,
                    sealed_rows,
                    0,
                    prev_hash,
                    Break(BreakKind.ROW_DELETED, seal.id, row_id, "a sealed row is missing"),
                )
            if row_digest(pending) != digest:
                return Report(
                    count,
                    sealed_rows,
                    0,
                    prev_hash,
                    Break(BreakKind.ROW_ALTERED, seal.id, row_id, "the row differs from what was sealed"),
                )
            sealed_rows += 1
            pending = next(row_iter, None)
        if pending is not None and pending.id <= seal.last_row_id:
            return Report(
                count,
                sealed_rows,
                0,
                prev_hash,
                Break(BreakKind.ROW_INSERTED, seal.id, pending.id, "this row was added to a sealed range later"),
            )
        count, prev_hash, prev_last = count + 1, seal.hash, seal.last_row_id
    unsealed = 0
    while pending is not None:
        unsealed += 1
        pending = next(row_iter, None)
    return Report(count, sealed_rows, unsealed, prev_hash, None)
