"""The master key file: created on first run (with a loud warning), rotated on demand.

Format (JSON, mode 600)::

    {"current": "k20260601T090000", "keys": {"k20260601T090000": "<64 hex digits>", ...}}

Old keys stay until every data key wrapped with them has been re-wrapped
(``exam-engine evidence rotate-key`` does both, ``--retire`` drops the old ones).
The file never goes into the database or the repository: whoever holds it and
the database can read the evidence.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import datetime
from pathlib import Path

from proctor.evidence import Keyring, new_master_key
from proctor.store import create_once

log = logging.getLogger(__name__)


class KeyFileError(RuntimeError):
    """The key file is missing (when configured) or malformed: an English msgid (translated in
    the package's catalog) and its parameters, like the other errors of this package."""

    def __init__(self, msgid: str, /, **params: str) -> None:
        super().__init__(msgid.format(**params))
        self.msgid = msgid
        self.params = params


MISSING = "The evidence key file {path} does not exist."
MALFORMED = "The evidence key file {path} is malformed: {problem}."


def _key_id(now: datetime) -> str:
    return "k" + now.strftime("%Y%m%dT%H%M%S%f")


def read_keyring(path: Path) -> Keyring:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(MISSING, path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(MALFORMED, path=str(path), problem=type(exc).__name__) from None
    if not text.strip():
        raise KeyFileError(MALFORMED, path=str(path), problem="empty")
    try:
        data = json.loads(text)
    except ValueError:
        raise KeyFileError(MALFORMED, path=str(path), problem="not JSON") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("keys"), dict)
        and data["keys"]
        and isinstance(data.get("current"), str)
    ):
        raise KeyFileError(MALFORMED, path=str(path), problem='expected {"current": …, "keys": {…}}')
    try:
        keys = {str(key_id): bytes.fromhex(secret) for key_id, secret in data["keys"].items()}
    except (ValueError, TypeError):
        raise KeyFileError(MALFORMED, path=str(path), problem="a key is not hex") from None
    if data["current"] not in keys:
        raise KeyFileError(MALFORMED, path=str(path), problem=f"current key {data['current'][:40]} is not in keys")
    return Keyring(keys, data["current"])


def write_keyring(path: Path, keyring: Keyring) -> None:
    """Atomically replace the key file (write, fsync, rename), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        fh.write(_keyring_json(keyring))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _keyring_json(keyring: Keyring) -> str:
    return json.dumps({"current": keyring.current, "keys": {k: v.hex() for k, v in keyring.keys.items()}})


def load_or_create(path: Path, *, configured: bool, now: datetime) -> tuple[Keyring, bool]:
    """The keyring, and whether it was generated just now (by this process: when several
    processes start on a first run together, one generates it and the others read it)."""
    if path.is_file() or configured:
        return read_keyring(path), False
    keyring = Keyring({_key_id(now): new_master_key()}, _key_id(now))
    if not create_once(path, _keyring_json(keyring).encode()):
        return read_keyring(path), False
    log.warning(
        "GENERATED a new evidence master key in %s. Back it up and keep it apart from the database "
        "backups: without it the recorded evidence cannot be read. Set EXAM_EVIDENCE_KEY_FILE in production.",
        path,
    )
    return keyring, True


def add_current_key(keyring: Keyring, now: datetime) -> Keyring:
    key_id = _key_id(now)
    return Keyring({**keyring.keys, key_id: new_master_key()}, key_id)


def retire_other_keys(keyring: Keyring) -> Keyring:
    return Keyring({keyring.current: keyring.secret(keyring.current)}, keyring.current)
