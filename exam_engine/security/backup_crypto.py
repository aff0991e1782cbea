"""Authenticated encryption of backup archives: AES-256-GCM in 1 MiB chunks.

Layout::

    b"EXAMBAK1" | header length (4 bytes, big-endian) | header (JSON)
    then chunks: ciphertext length (4 bytes) | AES-GCM(chunk) with its 16-byte tag

Each chunk's nonce is the header's random 7-byte prefix, the chunk number (4 bytes)
and a last-chunk flag (1 byte); the header is the associated data of every chunk.
So a chunk cannot be altered, reordered, moved to another archive or dropped, and a
truncated archive is refused (its last chunk would lack the flag). Chunking keeps
memory flat however large the evidence store is.

The key is 32 random bytes given as 64 hex digits or base64, in ``EXAM_BACKUP_KEY``
or in the file named by ``EXAM_BACKUP_KEY_FILE``. It is never derived from a password
and never stored with the backups.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import Refusal
from ..i18n import N_

MAGIC = b"EXAMBAK1"
CHUNK = 1024 * 1024
TAG = 16
NONCE_PREFIX = 7
MAX_HEADER = 64 * 1024


class BackupKeyMissing(Refusal):
    """No usable backup key: the operator must provide one (a configuration error, exit 2)."""

    exit_code = 2


class BackupUnreadable(Refusal):
    """The archive is not ours, was altered or truncated, or the key is wrong."""


def parse_key(text: str, source: str) -> bytes:
    value = text.strip()
    for decode in (bytes.fromhex, lambda v: base64.b64decode(v, validate=True)):
        try:
            key = decode(value)
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise BackupKeyMissing(
        N_("{source} must hold 32 random bytes as 64 hex digits or base64 (make one with: openssl rand -hex 32)."),
        source=source,
    )


def backup_key(env: Mapping[str, str]) -> bytes:
    """The key from ``EXAM_BACKUP_KEY`` or ``EXAM_BACKUP_KEY_FILE``; refuses clearly without one."""
    if env.get("EXAM_BACKUP_KEY"):
        return parse_key(env["EXAM_BACKUP_KEY"], "EXAM_BACKUP_KEY")
    if env.get("EXAM_BACKUP_KEY_FILE"):
        path = Path(env["EXAM_BACKUP_KEY_FILE"])
        if not path.is_file():
            raise BackupKeyMissing(N_("EXAM_BACKUP_KEY_FILE={path}: no such file."), path=str(path))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BackupKeyMissing(
                N_("The backup key file {path} cannot be read: {problem}."),
                path=str(path),
                problem=type(error).__name__,
            ) from None
        return parse_key(text, str(path))
    raise BackupKeyMissing(
        N_(
            "Backups are always encrypted: set EXAM_BACKUP_KEY (64 hex digits) or "
            "EXAM_BACKUP_KEY_FILE (a file holding them); make one with: openssl rand -hex 32, "
            "and keep it apart from the backups."
        )
    )


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, meta: Mapping[str, object]) -> None:
    header = json.dumps(
        {**meta, "cipher": "AES-256-GCM", "chunk": CHUNK, "nonce_prefix": os.urandom(7).hex()}, sort_keys=True
    ).encode()
    prefix = bytes.fromhex(json.loads(header)["nonce_prefix"])
    dst.write(MAGIC + struct.pack(">I", len(header)) + header)
    aead = AESGCM(key)
    index = 0
    current = src.read(CHUNK)
    while True:
        following = src.read(CHUNK)
        last = not following
        sealed = aead.encrypt(_nonce(prefix, index, last), current, MAGIC + header)
        dst.write(struct.pack(">I", len(sealed)) + sealed)
        if last:
            return
        index, current = index + 1, following


NOT_A_BACKUP = N_("This is not an exam-engine backup archive.")
DAMAGED_HEADER = N_("The backup archive's header is damaged (field «{field}»).")
TRUNCATED = N_("The backup archive is truncated or damaged (chunk {chunk}).")
ALTERED = N_("The backup archive was altered or truncated (chunk {chunk}), or the backup key is wrong.")


def read_header(src: BinaryIO) -> tuple[bytes, dict[str, Any]]:
    if src.read(len(MAGIC)) != MAGIC:
        raise BackupUnreadable(NOT_A_BACKUP)
    raw = src.read(4)
    if len(raw) < 4:
        raise BackupUnreadable(DAMAGED_HEADER, field="length")
    (length,) = struct.unpack(">I", raw)
    if length > MAX_HEADER:
        raise BackupUnreadable(DAMAGED_HEADER, field="length")
    header = src.read(length)
    try:
        meta = json.loads(header)
    except ValueError:  # UnicodeDecodeError included
        raise BackupUnreadable(DAMAGED_HEADER, field="json") from None
    if not isinstance(meta, dict):
        raise BackupUnreadable(DAMAGED_HEADER, field="json")
    return header, meta


def _nonce_prefix(meta: dict[str, Any]) -> bytes:
    value = meta.get("nonce_prefix")
    try:
        prefix = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        prefix = b""
    if len(prefix) != NONCE_PREFIX:  # empty, short or not hex: AES-GCM would refuse the nonce
        raise BackupUnreadable(DAMAGED_HEADER, field="nonce_prefix")
    return prefix


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes) -> dict[str, Any]:
    """Decrypt into ``dst``; returns the header. Raises BackupUnreadable on any damage or a wrong key."""
    header, meta = read_header(src)
    prefix = _nonce_prefix(meta)
    aead = AESGCM(key)
    index = 0
    while True:
        raw = src.read(4)
        if len(raw) < 4:
            raise BackupUnreadable(TRUNCATED, chunk=index + 1)
        (length,) = struct.unpack(">I", raw)
        if length > CHUNK + TAG:
            raise BackupUnreadable(TRUNCATED, chunk=index + 1)
        sealed = src.read(length)
        if len(sealed) < length:
            raise BackupUnreadable(TRUNCATED, chunk=index + 1)
        at_end = src.read(1) == b""
        if not at_end:
            src.seek(-1, os.SEEK_CUR)
        try:
            dst.write(aead.decrypt(_nonce(prefix, index, at_end), sealed, MAGIC + header))
        except InvalidTag:
            raise BackupUnreadable(ALTERED, chunk=index + 1) from None
        if at_end:
            return meta
        index += 1
