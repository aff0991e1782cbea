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
from pathlib import Path
from typing import BinaryIO, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"EXAMBAK1"
CHUNK = 1024 * 1024
TAG = 16


class BackupKeyMissing(Exception):
    """No usable backup key: the operator must provide one."""


class BackupUnreadable(Exception):
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
    raise BackupKeyMissing(f"{source} must hold 32 random bytes as 64 hex digits or base64 "
                           "(make one with: openssl rand -hex 32)")


def backup_key(env: Mapping[str, str]) -> bytes:
    """The key from ``EXAM_BACKUP_KEY`` or ``EXAM_BACKUP_KEY_FILE``; refuses clearly without one."""
    if env.get("EXAM_BACKUP_KEY"):
        return parse_key(env["EXAM_BACKUP_KEY"], "EXAM_BACKUP_KEY")
    if env.get("EXAM_BACKUP_KEY_FILE"):
        path = Path(env["EXAM_BACKUP_KEY_FILE"])
        if not path.is_file():
            raise BackupKeyMissing(f"EXAM_BACKUP_KEY_FILE={str(path)!r}: no such file")
        return parse_key(path.read_text(), str(path))
    raise BackupKeyMissing("backups are always encrypted: set EXAM_BACKUP_KEY (64 hex digits) or "
                           "EXAM_BACKUP_KEY_FILE (a file holding them); make one with: openssl rand -hex 32, "
                           "and keep it apart from the backups")


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, meta: Mapping[str, object]) -> None:
    header = json.dumps({**meta, "cipher": "AES-256-GCM", "chunk": CHUNK,
                         "nonce_prefix": os.urandom(7).hex()}, sort_keys=True).encode()
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


def read_header(src: BinaryIO) -> tuple[bytes, dict]:
    if src.read(len(MAGIC)) != MAGIC:
        raise BackupUnreadable("this is not an exam-engine backup archive")
    (length,) = struct.unpack(">I", src.read(4) or b"\0\0\0\0")
    header = src.read(length)
    try:
        return header, json.loads(header)
    except ValueError:
        raise BackupUnreadable("the archive header is damaged") from None


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes) -> dict:
    """Decrypt into ``dst``; returns the header. Raises BackupUnreadable on any damage or a wrong key."""
    header, meta = read_header(src)
    try:
        prefix = bytes.fromhex(meta["nonce_prefix"])
    except (KeyError, ValueError, TypeError):
        raise BackupUnreadable("the archive header is damaged") from None
    aead = AESGCM(key)
    index = 0
    while True:
        raw = src.read(4)
        if len(raw) < 4:
            raise BackupUnreadable("the archive is truncated")
        (length,) = struct.unpack(">I", raw)
        sealed = src.read(length)
        if length > CHUNK + TAG or len(sealed) < length:
            raise BackupUnreadable("the archive is truncated or damaged")
        at_end = src.read(1) == b""
        if not at_end:
            src.seek(-1, os.SEEK_CUR)
        try:
            dst.write(aead.decrypt(_nonce(prefix, index, at_end), sealed, MAGIC + header))
        except InvalidTag:
            raise BackupUnreadable("the archive was altered or truncated, or the backup key is wrong") from None
        if at_end:
            return meta
        index += 1
