"""The evidence store: encrypted blob files plus chain rows, in the caller's transaction.

Appending an item (one transaction, the attempt's row locked so items of one
attempt are chained one at a time):

1. the data key is unwrapped with the master keyring;
2. the item is linked after the current head (:func:`proctor.evidence.next_link`);
3. the ciphertext is written to ``<root>/<attempt>/<seq>.bin``: temporary file,
   ``fsync``, rename, ``fsync`` of the directory — before the row is inserted, so an
   acknowledged item is on disk;
4. the row is inserted and the head re-sealed with the master key.

A crash between 3 and the commit leaves an orphan file that the next append of
that seq overwrites; the chain only ever names committed rows.

Recording chunks (video, up to a few MB each) are links of the same chain, but their bytes are
encrypted and written *before* the transaction (:meth:`EvidenceStore.stage_chunk`, bound to
(attempt, segment, chunk) instead of the chain seq, which is not known yet); the transaction
only renames the staged file into place and inserts the link (:meth:`EvidenceStore.append_staged`),
so no row lock is held while megabytes are encrypted and synced.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from proctor.errors import EvidenceUnreadable
from proctor.evidence import (
    ChainLink,
    ChainProblem,
    ChainVerdict,
    Keyring,
    SealedHead,
    WrappedKey,
    decrypt_chunk,
    decrypt_item,
    encrypt_chunk,
    encrypt_item,
    genesis,
    link_hash,
    new_data_key,
    next_link,
    rewrap_data_key,
    seal_head,
    unwrap_data_key,
    verify_chain,
)
from proctor.tables import (
    evidence_items,
    proctor_attempts,
    proctor_recording_chunks,
    proctor_recording_segments,
    proctor_references,
    proctor_signals,
)


class ItemKind(StrEnum):
    ENROLMENT = "enrolment"
    FRAME = "frame"
    SCREEN = "screen"
    ROOMSCAN = "roomscan"
    EVENT = "event"
    NOISE = "noise"
    RECORDING = "recording"


MEDIA_TYPES: dict[ItemKind, str] = {
    ItemKind.ENROLMENT: "image/jpeg",
    ItemKind.FRAME: "image/jpeg",
    ItemKind.SCREEN: "image/jpeg",
    ItemKind.ROOMSCAN: "application/x-exam-burst",
    ItemKind.EVENT: "application/json",
    ItemKind.NOISE: "application/json",
    ItemKind.RECORDING: "video/webm",
}

CHUNKS_PER_SEGMENT = 100_000
"""A recording chunk's client seq in the chain is ``segment * CHUNKS_PER_SEGMENT + chunk`` (unique per
attempt and kind like every client seq); segments 1–9999 and chunks 1–99999 fit a 32-bit integer."""


def chunk_client_seq(segment: int, chunk: int) -> int:
    return segment * CHUNKS_PER_SEGMENT + chunk


def chunk_of(client_seq: int) -> tuple[int, int]:
    """(segment, chunk) of a recording item's client seq."""
    return divmod(client_seq, CHUNKS_PER_SEGMENT)


_DESCRIPTOR_SEQ = 0
"""Associated-data slot of the encrypted enrolment descriptor (chain items start at 1)."""


@dataclass(frozen=True)
class StoredItem:
    seq: int
    kind: str
    client_seq: int
    received_at: datetime
    size: int
    created: bool
    """False when the same (kind, client seq) was already stored: a harmless resend."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_once(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Create ``path`` holding ``data`` unless it exists; False when another process created it first.

    For what a first run generates (keys, secrets) while several processes start at once: the
    content goes to a file of this process's own, is synced, and is then hard-linked to ``path``,
    which fails if ``path`` exists. So no reader ever sees a half-written file, and no process
    replaces a key that another one has already used (its evidence would be unreadable).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True


def _write_durably(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _link(row: Any) -> ChainLink:
    return ChainLink(row.seq, row.kind, row.at, row.content_sha256, row.prev_hash, row.hash)


# After the chain head is locked (appends of one attempt go one at a time), one statement reads
# the item at the head (the link the new one follows) and an item already stored under this
# client sequence number (a retried upload). Not joined to the locking statement: a waiter that
# gets the lock after another append must read that append's item, which only a new statement sees.
_LOCK_HEAD = (
    select(proctor_attempts.c.wrapped_key, proctor_attempts.c.head_seq)
    .where(proctor_attempts.c.attempt_id == bindparam("attempt_id"))
    .with_for_update()
)
_HEAD_OR_SAME = select(evidence_items).where(
    evidence_items.c.attempt_id == bindparam("attempt_id"),
    or_(
        evidence_items.c.seq == bindparam("head_seq"),
        and_(evidence_items.c.kind == bindparam("kind"), evidence_items.c.client_seq == bindparam("client_seq")),
    ),
)


class ChainHead(NamedTuple):
    """The two columns of a locked ``proctor_attempts`` row an append needs."""

    wrapped_key: str
    head_seq: int


class EvidenceStore:
    def __init__(self, root: Path, keyring: Keyring) -> None:
        self.root = root
        self.keyring = keyring

    def path(self, attempt_id: uuid.UUID, seq: int) -> Path:
        return self.root / str(attempt_id) / f"{seq:08d}.bin"

    def chunk_path(self, attempt_id: uuid.UUID, segment: int, chunk: int) -> Path:
        return self.root / str(attempt_id) / "rec" / f"{segment:04d}-{chunk:05d}.bin"

    def item_path(self, attempt_id: uuid.UUID, kind: str, seq: int, client_seq: int) -> Path:
        """Where an item's encrypted bytes are (a recording chunk by its place in the recording)."""
        if kind == ItemKind.RECORDING:
            return self.chunk_path(attempt_id, *chunk_of(client_seq))
        return self.path(attempt_id, seq)

    def _decrypt(
        self, data_key: bytes, attempt_id: uuid.UUID, kind: str, seq: int, client_seq: int, blob: bytes
    ) -> bytes:
        if kind == ItemKind.RECORDING:
            return decrypt_chunk(data_key, str(attempt_id), *chunk_of(client_seq), blob)
        return decrypt_item(data_key, str(attempt_id), seq, blob)

    # ------------------------------------------------------------------ attempts

    async def open_attempt(
        self,
        conn: AsyncConnection,
        attempt_id: uuid.UUID,
        *,
        student_id: int,
        exam_id: int,
        started_at: datetime,
        consent: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Create the attempt's proctoring row and data key on consent; False if it exists."""
        exists = (
            await conn.execute(select(proctor_attempts.c.attempt_id).where(proctor_attempts.c.attempt_id == attempt_id))
        ).first()
        if exists is not None:
            return False
        _, wrapped = new_data_key(self.keyring, str(attempt_id))
        await conn.execute(
            proctor_attempts.insert().values(
                attempt_id=attempt_id,
                student_id=student_id,
                exam_id=exam_id,
                started_at=started_at,
                wrapped_key=str(wrapped),
                consent_at=now,
                consent=consent,
            )
        )
        return True

    async def data_key(self, conn: AsyncConnection, attempt_id: uuid.UUID) -> bytes:
        wrapped = (
            await conn.execute(
                select(proctor_attempts.c.wrapped_key).where(proctor_attempts.c.attempt_id == attempt_id)
            )
        ).scalar_one()
        return self.unwrap(attempt_id, wrapped)

    def unwrap(self, attempt_id: uuid.UUID, wrapped: str) -> bytes:
        """The attempt's data key from its wrapped form (a column of ``proctor_attempts``)."""
        return unwrap_data_key(self.keyring, str(attempt_id), WrappedKey.parse(wrapped))

    # --------------------------------------------------------------------- items

    async def append(
        self,
        conn: AsyncConnection,
        attempt_id: uuid.UUID,
        kind: ItemKind,
        client_seq: int,
        plaintext: bytes,
        *,
        now: datetime,
        trigger: str | None = None,
        locked_head: ChainHead | None = None,
    ) -> StoredItem:
        """Store an item as the next link of the attempt's chain (a retried upload: the stored one).

        ``locked_head``: the caller already locked the attempt's proctoring row in this transaction,
        in its own earlier statement, and read these two columns from it.
        """
        state = locked_head or (await conn.execute(_LOCK_HEAD, {"attempt_id": attempt_id})).one()
        rows = (
            await conn.execute(
                _HEAD_OR_SAME,
                {"attempt_id": attempt_id, "head_seq": state.head_seq, "kind": kind.value, "client_seq": client_seq},
            )
        ).all()
        same = next((r for r in rows if r.kind == kind.value and r.client_seq == client_seq), None)
        if same is not None:
            return StoredItem(same.seq, kind.value, client_seq, same.received_at, same.size, False)
        previous = None
        if state.head_seq:
            head = next((r for r in rows if r.seq == state.head_seq), None)
            if head is None:  # the sealed head names an item that is not there
                raise RuntimeError(f"evidence chain of {attempt_id}: head item {state.head_seq} is missing")
            previous = _link(head)
        link = next_link(str(attempt_id), previous, kind.value, now.isoformat(), plaintext)
        data_key = unwrap_data_key(self.keyring, str(attempt_id), WrappedKey.parse(state.wrapped_key))
        blob = encrypt_item(data_key, str(attempt_id), link.seq, plaintext)
        await asyncio.to_thread(_write_durably, self.path(attempt_id, link.seq), blob)
        await conn.execute(
            evidence_items.insert().values(
                attempt_id=attempt_id,
                seq=link.seq,
                kind=kind.value,
                client_seq=client_seq,
                at=link.at,
                received_at=now,
                content_sha256=link.content_sha256,
                prev_hash=link.prev_hash,
                hash=link.hash,
                size=len(plaintext),
                media_type=MEDIA_TYPES[kind],
                trigger=trigger,
                analysed=kind in (ItemKind.EVENT, ItemKind.NOISE),
            )
        )
        head = seal_head(self.keyring, str(attempt_id), link)
        frames = proctor_attempts.c.frames_received + (1 if kind is ItemKind.FRAME else 0)
        await conn.execute(
            update(proctor_attempts)
            .where(proctor_attempts.c.attempt_id == attempt_id)
            .values(
                head_seq=head.seq,
                head_hash=head.hash,
                head_key_id=head.key_id,
                head_mac=head.mac,
                last_item_at=now,
                frames_received=frames,
            )
        )
        return StoredItem(link.seq, kind.value, client_seq, now, len(plaintext), True)

    async def read(self, conn: AsyncConnection, attempt_id: uuid.UUID, seq: int) -> tuple[Any, bytes] | None:
        """The item's row and decrypted content, or ``None`` if there is no such item."""
        row = (
            await conn.execute(
                select(evidence_items).where(evidence_items.c.attempt_id == attempt_id, evidence_items.c.seq == seq)
            )
        ).first()
        if row is None:
            return None
        data_key = await self.data_key(conn, attempt_id)
        if row.kind == ItemKind.RECORDING:
            return row, await self.open_chunk(data_key, attempt_id, *chunk_of(row.client_seq))
        return row, await self.open_item(data_key, attempt_id, seq)

    async def open_item(self, data_key: bytes, attempt_id: uuid.UUID, seq: int) -> bytes:
        """An item's decrypted content, read from its file."""
        try:
            blob = await asyncio.to_thread(self.path(attempt_id, seq).read_bytes)
        except FileNotFoundError:
            raise EvidenceUnreadable(
                "evidence_unreadable", "Evidence item {seq} cannot be decrypted", seq=seq
            ) from None
        return decrypt_item(data_key, str(attempt_id), seq, blob)

    # ------------------------------------------------------------ recording chunks

    def stage_chunk(self, data_key: bytes, attempt_id: uuid.UUID, segment: int, chunk: int, plaintext: bytes) -> Path:
        """Encrypt a chunk and write it, synced, to a staging file of its own (blocking: run it in a
        thread, outside any transaction). :meth:`append_staged` moves it into place."""
        final = self.chunk_path(attempt_id, segment, chunk)
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = final.with_name(f".{final.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
        blob = encrypt_chunk(data_key, str(attempt_id), segment, chunk, plaintext)
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        return staged

    async def append_staged(
        self,
        conn: AsyncConnection,
        attempt_id: uuid.UUID,
        segment: int,
        chunk: int,
        staged: Path,
        *,
        content_sha256: str,
        size: int,
        now: datetime,
    ) -> tuple[StoredItem, str]:
        """Link a staged chunk as the attempt's next item (the head locked, as :meth:`append` does).

        Returns the item and the content hash stored for (segment, chunk): a retried upload finds
        the first one's item (``created`` False) and the staged file is dropped; the caller
        compares the hashes to tell a resend from a different chunk under a used number.
        """
        client_seq = chunk_client_seq(segment, chunk)
        state = (await conn.execute(_LOCK_HEAD, {"attempt_id": attempt_id})).one()
        rows = (
            await conn.execute(
                _HEAD_OR_SAME,
                {
                    "attempt_id": attempt_id,
                    "head_seq": state.head_seq,
                    "kind": ItemKind.RECORDING.value,
                    "client_seq": client_seq,
                },
            )
        ).all()
        same = next((r for r in rows if r.kind == ItemKind.RECORDING and r.client_seq == client_seq), None)
        if same is not None:
            await asyncio.to_thread(staged.unlink, True)
            return StoredItem(same.seq, same.kind, client_seq, same.received_at, same.size, False), same.content_sha256
        prev_hash, seq = genesis(str(attempt_id)), 1
        if state.head_seq:
            head_row = next((r for r in rows if r.seq == state.head_seq), None)
            if head_row is None:
                raise RuntimeError(f"evidence chain of {attempt_id}: head item {state.head_seq} is missing")
            prev_hash, seq = head_row.hash, head_row.seq + 1
        at = now.isoformat()
        link = ChainLink(
            seq,
            ItemKind.RECORDING.value,
            at,
            content_sha256,
            prev_hash,
            link_hash(seq, ItemKind.RECORDING.value, at, content_sha256, prev_hash),
        )
        final = self.chunk_path(attempt_id, segment, chunk)

        def place() -> None:
            os.replace(staged, final)
            _fsync_dir(final.parent)

        await asyncio.to_thread(place)
        await conn.execute(
            evidence_items.insert().values(
                attempt_id=attempt_id,
                seq=link.seq,
                kind=link.kind,
                client_seq=client_seq,
                at=at,
                received_at=now,
                content_sha256=content_sha256,
                prev_hash=prev_hash,
                hash=link.hash,
                size=size,
                media_type=MEDIA_TYPES[ItemKind.RECORDING],
                trigger=None,
                analysed=True,
            )
        )
        head = seal_head(self.keyring, str(attempt_id), link)
        await conn.execute(
            update(proctor_attempts)
            .where(proctor_attempts.c.attempt_id == attempt_id)
            .values(
                head_seq=head.seq, head_hash=head.hash, head_key_id=head.key_id, head_mac=head.mac, last_item_at=now
            )
        )
        return StoredItem(link.seq, link.kind, client_seq, now, size, True), content_sha256

    async def open_chunk(self, data_key: bytes, attempt_id: uuid.UUID, segment: int, chunk: int) -> bytes:
        """A recording chunk's decrypted bytes."""
        try:
            blob = await asyncio.to_thread(self.chunk_path(attempt_id, segment, chunk).read_bytes)
        except FileNotFoundError:
            raise EvidenceUnreadable(
                "evidence_unreadable", "Evidence item {seq} cannot be decrypted", seq=chunk
            ) from None
        return decrypt_chunk(data_key, str(attempt_id), segment, chunk, blob)

    # ---------------------------------------------------- small encrypted values

    def seal_value(self, data_key: bytes, attempt_id: uuid.UUID, slot: int, value: bytes) -> bytes:
        """Encrypt a derived value (descriptor: slot 0, a frame's thumbnail: minus its seq)."""
        return encrypt_item(data_key, str(attempt_id), slot, value)

    def open_value(self, data_key: bytes, attempt_id: uuid.UUID, slot: int, blob: bytes) -> bytes:
        return decrypt_item(data_key, str(attempt_id), slot, blob)

    descriptor_slot = _DESCRIPTOR_SEQ

    # -------------------------------------------------------------------- verify

    async def verify(self, conn: AsyncConnection, attempt_id: uuid.UUID) -> ChainVerdict:
        """Check every link, every blob against its link, and the sealed head."""
        head = (await conn.execute(select(proctor_attempts).where(proctor_attempts.c.attempt_id == attempt_id))).one()
        rows = (
            await conn.execute(
                select(evidence_items).where(evidence_items.c.attempt_id == attempt_id).order_by(evidence_items.c.id)
            )
        ).all()
        data_key = unwrap_data_key(self.keyring, str(attempt_id), WrappedKey.parse(head.wrapped_key))

        def digests() -> tuple[dict[int, str | None], set[int]]:
            contents: dict[int, str | None] = {}
            missing: set[int] = set()
            for row in rows:
                path = self.item_path(attempt_id, row.kind, row.seq, row.client_seq)
                if not path.is_file():
                    contents[row.seq] = None
                    missing.add(row.seq)
                    continue
                try:
                    plain = self._decrypt(data_key, attempt_id, row.kind, row.seq, row.client_seq, path.read_bytes())
                    contents[row.seq] = hashlib.sha256(plain).hexdigest()
                except EvidenceUnreadable:
                    contents[row.seq] = None
            return contents, missing

        contents, missing = await asyncio.to_thread(digests)
        sealed = None
        if head.head_seq:
            sealed = SealedHead(head.head_seq, head.head_hash, head.head_key_id, head.head_mac)
        verdict = verify_chain(str(attempt_id), [_link(r) for r in rows], contents, sealed, self.keyring)
        if verdict.problem is ChainProblem.ALTERED and verdict.seq in missing:
            return ChainVerdict(False, verdict.checked, ChainProblem.REMOVED, verdict.seq)
        return verdict

    # --------------------------------------------------------- retention, keys

    async def purge(self, conn: AsyncConnection, attempt_id: uuid.UUID, now: datetime) -> int:
        """Delete the attempt's blobs, chain rows and thumbnails; keep flags and decisions."""
        count = (await conn.execute(delete(evidence_items).where(evidence_items.c.attempt_id == attempt_id))).rowcount
        await conn.execute(delete(proctor_signals).where(proctor_signals.c.attempt_id == attempt_id))
        await conn.execute(delete(proctor_recording_chunks).where(proctor_recording_chunks.c.attempt_id == attempt_id))
        await conn.execute(
            delete(proctor_recording_segments).where(proctor_recording_segments.c.attempt_id == attempt_id)
        )
        await conn.execute(
            update(proctor_attempts)
            .where(proctor_attempts.c.attempt_id == attempt_id)
            .values(
                purged_at=now, enrolment_descriptor=None, head_seq=0, head_hash=None, head_mac=None, head_key_id=None
            )
        )
        await asyncio.to_thread(shutil.rmtree, self.root / str(attempt_id), True)
        return count

    async def rewrap_all(self, conn: AsyncConnection) -> int:
        """Re-wrap every data key (attempts and reference photos) and re-seal every chain
        head under the keyring's current master key. Blobs are not touched."""
        changed = 0
        rows = (await conn.execute(select(proctor_attempts))).all()
        for row in rows:
            values: dict[str, Any] = {}
            wrapped = WrappedKey.parse(row.wrapped_key)
            if wrapped.key_id != self.keyring.current:
                values["wrapped_key"] = str(rewrap_data_key(self.keyring, str(row.attempt_id), wrapped))
            if row.head_seq and row.head_key_id != self.keyring.current:
                head = seal_head(
                    self.keyring, str(row.attempt_id), ChainLink(row.head_seq, "", "", "", "", row.head_hash)
                )
                values.update(head_key_id=head.key_id, head_mac=head.mac)
            if values:
                changed += 1
                await conn.execute(
                    update(proctor_attempts).where(proctor_attempts.c.attempt_id == row.attempt_id).values(**values)
                )
        for ref in (
            await conn.execute(select(proctor_references.c.student_id, proctor_references.c.wrapped_key))
        ).all():
            wrapped = WrappedKey.parse(ref.wrapped_key)
            if wrapped.key_id != self.keyring.current:
                changed += 1
                new = rewrap_data_key(self.keyring, f"reference:{ref.student_id}", wrapped)
                await conn.execute(
                    update(proctor_references)
                    .where(proctor_references.c.student_id == ref.student_id)
                    .values(wrapped_key=str(new))
                )
        return changed

    # ---------------------------------------------------------- reference photos

    async def put_reference(
        self, conn: AsyncConnection, student_id: int, photo: bytes, *, by: str, now: datetime
    ) -> None:
        owner = f"reference:{student_id}"
        data_key, wrapped = new_data_key(self.keyring, owner)
        values = {
            "wrapped_key": str(wrapped),
            "photo": encrypt_item(data_key, owner, 1, photo),
            "sha256": hashlib.sha256(photo).hexdigest(),
            "uploaded_by": by,
            "uploaded_at": now,
        }
        await conn.execute(delete(proctor_references).where(proctor_references.c.student_id == student_id))
        await conn.execute(proctor_references.insert().values(student_id=student_id, **values))

    async def get_reference(self, conn: AsyncConnection, student_id: int) -> bytes | None:
        row = (
            await conn.execute(select(proctor_references).where(proctor_references.c.student_id == student_id))
        ).first()
        if row is None:
            return None
        owner = f"reference:{student_id}"
        data_key = unwrap_data_key(self.keyring, owner, WrappedKey.parse(row.wrapped_key))
        return decrypt_item(data_key, owner, 1, row.photo)
