"""Evidence at rest: envelope encryption and a per-attempt hash chain (library level, no DB).

Encryption (AES-256-GCM from ``cryptography``)::

    master key (key id) ──wraps──► data key of one attempt ──encrypts──► every item

Rotating master keys re-wraps the attempt's data key (:func:`rewrap_data_key`);
blobs are never re-encrypted. The associated data binds a data key to its attempt,
and a ciphertext to ``(attempt id, seq)``, so a blob moved to another attempt or
another position fails authentication instead of decrypting.

Chain: each item's link hashes ``(seq, kind, at, sha256(plaintext), previous hash)``,
starting from a genesis derived from the attempt id. :func:`verify_chain` names the
first altered, removed or reordered item. Someone who can write the database could
recompute a whole chain, so the latest link is also sealed with an HMAC under the
master key (:func:`seal_head`) and kept beside the attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from proctor.errors import EvidenceUnreadable, MasterKeyUnknown
from proctor.kinds import N_

KEY_BYTES = 32
NONCE_BYTES = 12
_FORMAT = b"\x01"


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class Keyring:
    """Master keys by id; new data keys are wrapped with ``current``.

    Old keys stay in the ring until every data key wrapped with them was re-wrapped.
    """

    keys: Mapping[str, bytes] = field(repr=False)
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise MasterKeyUnknown("master_key_unknown", "Master key {key_id} is not configured", key_id=self.current)
        for key_id, secret in self.keys.items():
            if len(secret) != KEY_BYTES or ":" in key_id:
                raise MasterKeyUnknown("master_key_invalid", "Master key {key_id} must be 32 bytes", key_id=key_id)

    def secret(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise MasterKeyUnknown(
                "master_key_unknown", "Master key {key_id} is not configured", key_id=key_id
            ) from None


def new_master_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


@dataclass(frozen=True)
class WrappedKey:
    """An attempt's data key encrypted under a master key; ``str()`` is its storage form."""

    key_id: str
    blob: bytes = field(repr=False)

    def __str__(self) -> str:
        return f"{self.key_id}:{self.blob.hex()}"

    @classmethod
    def parse(cls, text: str) -> WrappedKey:
        key_id, _, blob = text.partition(":")
        return cls(key_id, bytes.fromhex(blob))


def _key_ad(attempt_id: str) -> bytes:
    return b"exam-engine:data-key:v1:" + attempt_id.encode()


def _item_ad(attempt_id: str, seq: int) -> bytes:
    return b"exam-engine:item:v1:" + json.dumps([attempt_id, seq]).encode()


def wrap_data_key(keyring: Keyring, attempt_id: str, data_key: bytes) -> WrappedKey:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(keyring.secret(keyring.current)).encrypt(nonce, data_key, _key_ad(attempt_id))
    return WrappedKey(keyring.current, nonce + sealed)


def new_data_key(keyring: Keyring, attempt_id: str) -> tuple[bytes, WrappedKey]:
    """A fresh random data key for one attempt, and its wrapped form to store."""
    data_key = AESGCM.generate_key(bit_length=256)
    return data_key, wrap_data_key(keyring, attempt_id, data_key)


def unwrap_data_key(keyring: Keyring, attempt_id: str, wrapped: WrappedKey) -> bytes:
    secret = keyring.secret(wrapped.key_id)
    nonce, sealed = wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:]
    try:
        return AESGCM(secret).decrypt(nonce, sealed, _key_ad(attempt_id))
    except InvalidTag:
        raise EvidenceUnreadable(
            "data_key_unreadable", "The data key of attempt {attempt_id} cannot be unwrapped", attempt_id=attempt_id
        ) from None


def rewrap_data_key(keyring: Keyring, attempt_id: str, wrapped: WrappedKey) -> WrappedKey:
    """The same data key wrapped under the current master key (key rotation)."""
    if wrapped.key_id == keyring.current:
        return wrapped
    return wrap_data_key(keyring, attempt_id, unwrap_data_key(keyring, attempt_id, wrapped))


def encrypt_item(data_key: bytes, attempt_id: str, seq: int, plaintext: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return _FORMAT + nonce + AESGCM(data_key).encrypt(nonce, plaintext, _item_ad(attempt_id, seq))


def _chunk_ad(attempt_id: str, segment: int, chunk: int) -> bytes:
    return b"exam-engine:recording:v1:" + json.dumps([attempt_id, segment, chunk]).encode()


def encrypt_chunk(data_key: bytes, attempt_id: str, segment: int, chunk: int, plaintext: bytes) -> bytes:
    """A recording chunk, bound to (attempt, segment, chunk) rather than to its chain seq: it is
    encrypted and written before its link exists (no lock is held while megabytes are written)."""
    nonce = os.urandom(NONCE_BYTES)
    return _FORMAT + nonce + AESGCM(data_key).encrypt(nonce, plaintext, _chunk_ad(attempt_id, segment, chunk))


def decrypt_chunk(data_key: bytes, attempt_id: str, segment: int, chunk: int, blob: bytes) -> bytes:
    if blob[:1] != _FORMAT:
        raise EvidenceUnreadable("evidence_unreadable", "Evidence item {seq} cannot be decrypted", seq=chunk)
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(data_key).decrypt(nonce, sealed, _chunk_ad(attempt_id, segment, chunk))
    except InvalidTag:
        raise EvidenceUnreadable("evidence_unreadable", "Evidence item {seq} cannot be decrypted", seq=chunk) from None


def decrypt_item(data_key: bytes, attempt_id: str, seq: int, blob: bytes) -> bytes:
    """The plaintext, or :class:`EvidenceUnreadable` if the blob was altered or moved."""
    if blob[:1] != _FORMAT:
        raise EvidenceUnreadable("evidence_unreadable", "Evidence item {seq} cannot be decrypted", seq=seq)
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(data_key).decrypt(nonce, sealed, _item_ad(attempt_id, seq))
    except InvalidTag:
        raise EvidenceUnreadable("evidence_unreadable", "Evidence item {seq} cannot be decrypted", seq=seq) from None


# -------------------------------------------------------------------------- chain


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def genesis(attempt_id: str) -> str:
    """The 'previous hash' of an attempt's first item: chains cannot swap attempts."""
    return sha256_hex(b"exam-engine:chain:v1:" + attempt_id.encode())


@dataclass(frozen=True)
class ChainLink:
    seq: int
    kind: str
    at: str
    """The item's time as the caller stores it (ISO-8601 text), hashed verbatim."""
    content_sha256: str
    prev_hash: str
    hash: str


def link_hash(seq: int, kind: str, at: str, content_sha256: str, prev_hash: str) -> str:
    canonical = json.dumps(["v1", seq, kind, at, content_sha256, prev_hash], separators=(",", ":"))
    return sha256_hex(canonical.encode())


def next_link(attempt_id: str, previous: ChainLink | None, kind: str, at: str, plaintext: bytes) -> ChainLink:
    """The link of a new item after ``previous`` (``None`` for the first item, seq 1)."""
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = genesis(attempt_id) if previous is None else previous.hash
    digest = sha256_hex(plaintext)
    return ChainLink(seq, kind, at, digest, prev_hash, link_hash(seq, kind, at, digest, prev_hash))


@dataclass(frozen=True)
class SealedHead:
    """The latest link's seq and hash, authenticated with a master key."""

    seq: int
    hash: str
    key_id: str
    mac: str


def _seal_mac(keyring: Keyring, key_id: str, attempt_id: str, seq: int, head_hash: str) -> str:
    mac_key = hashlib.sha256(b"exam-engine:head-seal:v1:" + keyring.secret(key_id)).digest()
    message = json.dumps([attempt_id, seq, head_hash]).encode()
    return hmac.new(mac_key, message, hashlib.sha256).hexdigest()


def seal_head(keyring: Keyring, attempt_id: str, head: ChainLink) -> SealedHead:
    mac = _seal_mac(keyring, keyring.current, attempt_id, head.seq, head.hash)
    return SealedHead(head.seq, head.hash, keyring.current, mac)


class ChainProblem(StrEnum):
    ALTERED = "evidence_altered"
    REMOVED = "evidence_removed"
    REORDERED = "evidence_reordered"
    UNSEALED = "evidence_chain_unsealed"


PROBLEM_TEXT: dict[ChainProblem, str] = {
    ChainProblem.ALTERED: N_("Evidence item {seq} was altered"),
    ChainProblem.REMOVED: N_("Evidence item {seq} was removed"),
    ChainProblem.REORDERED: N_("Evidence item {seq} is out of order"),
    ChainProblem.UNSEALED: N_("The evidence chain does not match its sealed head at item {seq}"),
}
INTACT_TEXT = N_("Evidence chain intact: {count} items")


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    checked: int
    problem: ChainProblem | None = None
    seq: int | None = None

    @property
    def code(self) -> str:
        return "evidence_intact" if self.problem is None else self.problem.value

    @property
    def msgid(self) -> str:
        return INTACT_TEXT if self.problem is None else PROBLEM_TEXT[self.problem]

    @property
    def params(self) -> dict[str, int]:
        return {"count": self.checked} if self.problem is None else {"seq": self.seq or 0}


def _broken(problem: ChainProblem, seq: int, checked: int) -> ChainVerdict:
    return ChainVerdict(False, checked, problem, seq)


def verify_chain(
    attempt_id: str,
    links: Sequence[ChainLink],
    contents: Mapping[int, str | None] | None = None,
    head: SealedHead | None = None,
    keyring: Keyring | None = None,
) -> ChainVerdict:
    """Walk the links in stored order and name the first item that breaks the chain.

    ``contents`` maps seq → sha256 of the item's decrypted plaintext as read now
    (``None`` when the blob is gone or fails to decrypt); without it only the links
    are checked. ``head`` (with the ``keyring`` that sealed it) catches removal of
    the last items and a chain recomputed from scratch.
    """
    later_hashes = {link.hash: link.seq for link in links}
    prev_hash, expected = genesis(attempt_id), 1
    for checked, link in enumerate(links):
        if link_hash(link.seq, link.kind, link.at, link.content_sha256, link.prev_hash) != link.hash:
            return _broken(ChainProblem.ALTERED, link.seq, checked)
        if link.seq != expected or link.prev_hash != prev_hash:
            if link.seq < expected or link.prev_hash in later_hashes:
                return _broken(ChainProblem.REORDERED, link.seq, checked)
            if link.seq > expected:
                return _broken(ChainProblem.REMOVED, expected, checked)
            # Right place, wrong predecessor: the previous link was edited and re-hashed
            # (or, for the first item, it belongs to another attempt's chain).
            return _broken(ChainProblem.ALTERED, max(expected - 1, 1), checked)
        if contents is not None and contents.get(link.seq) != link.content_sha256:
            return _broken(ChainProblem.ALTERED, link.seq, checked)
        later_hashes.pop(link.hash, None)
        prev_hash, expected = link.hash, link.seq + 1
    if head is not None:
        if keyring is None or not hmac.compare_digest(
            _seal_mac(keyring, head.key_id, attempt_id, head.seq, head.hash), head.mac
        ):
            return _broken(ChainProblem.UNSEALED, head.seq, len(links))
        if head.seq >= expected:
            return _broken(ChainProblem.REMOVED, expected, len(links))
        if head.seq != expected - 1 or head.hash != prev_hash:
            return _broken(ChainProblem.UNSEALED, head.seq, len(links))
    return ChainVerdict(True, len(links))
