"""``exam-engine backup`` and ``restore``: database, evidence and keys in one encrypted file.

What goes in (S3: weekly backup):

* the database: ``pg_dump --format=custom`` on PostgreSQL (a consistent snapshot of a
  running server), SQLite's online backup API on the embedded default;
* the evidence store (``EXAM_EVIDENCE_DIR`` or ``<data_dir>/evidence``), if it exists;
* the key material needed to read it and to check what was signed: the evidence master
  keyring, the Ed25519 signing key and every public key kept under ``<data_dir>/keys``.

All of it is one tar stream encrypted with AES-256-GCM (:mod:`exam_engine.security.backup_crypto`)
under ``EXAM_BACKUP_KEY``; without a key the command refuses. Because the archive holds
the evidence keys, the backup key must be kept apart from the backups.

Restore goes only into an EMPTY database (no tables at all) and an empty evidence
directory, and never overwrites a different key file: restoring over live data is how
backups destroy what they were meant to protect.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from .config import Settings
from .db import create_engine
from .errors import ConfigError, Refusal
from .i18n import N_
from .security.backup_crypto import BackupUnreadable, backup_key, decrypt_stream, encrypt_stream

FORMAT = "exam-engine-backup/1"
DB_PG = "database.pgdump"
DB_SQLITE = "database.sqlite"


class RestoreRefused(Refusal):
    """The target is not empty, or the archive does not fit it; nothing was changed."""


@dataclass(frozen=True)
class KeyFile:
    """A key file: where this installation keeps it, and its name inside the archive."""

    role: str
    path: Path


@dataclass
class BackupReport:
    path: Path
    backend: str
    evidence_files: int
    key_files: list[str] = field(default_factory=list)
    size: int = 0


def _signing_key_paths(settings: Settings, env: Mapping[str, str]) -> tuple[Path, Path]:
    from .security.signing import KEY_FILE, PUBLIC_FILE

    private = (
        Path(env["EXAM_SIGNING_KEY_FILE"])
        if env.get("EXAM_SIGNING_KEY_FILE")
        else settings.data_dir / "keys" / KEY_FILE
    )
    return private, private.with_name(PUBLIC_FILE)


def evidence_dir(settings: Settings, env: Mapping[str, str]) -> Path:
    return Path(env.get("EXAM_EVIDENCE_DIR") or settings.data_dir / "evidence")


def key_files(settings: Settings, env: Mapping[str, str]) -> list[KeyFile]:
    """Every key file this installation uses, whether or not it exists yet."""
    from proctor.config import load_config

    private, public = _signing_key_paths(settings, env)
    files = [
        KeyFile("evidence-keyring", load_config(env, settings.data_dir, None).key_file),
        KeyFile("signing-private", private),
        KeyFile("signing-public", public),
    ]
    keep = settings.data_dir / "keys"
    named = {f.path.resolve() for f in files}
    if keep.is_dir():
        files += [KeyFile(f"public/{p.name}", p) for p in sorted(keep.glob("*.pub.pem")) if p.resolve() not in named]
    return files


def _pg_env(url: str) -> dict[str, str]:
    """libpq variables for the pg_* tools, so no password appears on a command line."""
    u = make_url(url)
    env = {**os.environ, "PGDATABASE": u.database or ""}
    for var, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username), ("PGPASSWORD", u.password)):
        if value:
            env[var] = str(value)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ConfigError(f"{cmd[0]} is not installed (needed for PostgreSQL backups)") from None
    if done.returncode != 0:
        raise ConfigError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ConfigError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while the server keeps writing."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()


def _dump_database(settings: Settings, work: Path) -> str:
    if settings.is_postgres:
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(work / DB_PG)], _pg_env(settings.database_url))
        return DB_PG
    _sqlite_copy(_sqlite_path(settings.database_url), work / DB_SQLITE)
    return DB_SQLITE


def _write_archive(settings: Settings, env: Mapping[str, str], work: Path, now: datetime) -> tuple[Path, dict]:
    database = _dump_database(settings, work)
    evidence = evidence_dir(settings, env)
    tar_path = work / "backup.tar"
    manifest: dict = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "backend": "postgresql" if settings.is_postgres else "sqlite",
        "database": database,
        "keys": {},
        "evidence_files": 0,
    }
    with tarfile.open(tar_path, "w") as tar:
        tar.add(work / database, arcname=database)
        if evidence.is_dir():
            tar.add(evidence, arcname="evidence")
            manifest["evidence_files"] = sum(1 for p in evidence.rglob("*") if p.is_file())
        for key in key_files(settings, env):
            if key.path.is_file():
                tar.add(key.path, arcname=f"keys/{key.role}")
                manifest["keys"][key.role] = key.path.name
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        info.mtime = int(now.timestamp())
        tar.addfile(info, io.BytesIO(data))
    return tar_path, manifest


def create_backup(settings: Settings, env: Mapping[str, str], output: Path, now: datetime) -> BackupReport:
    """Write the encrypted archive to ``output`` (atomically: a temporary file, then rename)."""
    key = backup_key(env)  # refuse before doing any work
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".exam-backup-", dir=output.parent) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        tar_path, manifest = _write_archive(settings, env, work, now)
        partial = work / "archive.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with tar_path.open("rb") as src, os.fdopen(fd, "wb") as dst:
            encrypt_stream(src, dst, key, {"format": FORMAT, "created_at": manifest["created_at"]})
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, output)
    return BackupReport(
        output, manifest["backend"], manifest["evidence_files"], sorted(manifest["keys"]), output.stat().st_size
    )


# ---------------------------------------------------------------------------------------------- restore


async def _table_names(settings: Settings) -> list[str]:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()


def _check_empty_target(settings: Settings, env: Mapping[str, str], manifest: dict, work: Path) -> None:
    backend = "postgresql" if settings.is_postgres else "sqlite"
    if manifest.get("format") != FORMAT:
        raise RestoreRefused(N_("Unknown backup format {format}."), format=repr(manifest.get("format"))[:40])
    if manifest["backend"] != backend:
        raise RestoreRefused(
            N_("The backup holds a {archive} database; EXAM_DATABASE_URL is {target}."),
            archive=manifest["backend"],
            target=backend,
        )
    if settings.is_postgres or _sqlite_path(settings.database_url).exists():  # a missing SQLite file is empty
        tables = asyncio.run(_table_names(settings))
        if tables:
            raise RestoreRefused(
                N_(
                    "The target database is not empty ({count} tables, e.g. {table}); restore only "
                    "into an empty database."
                ),
                count=len(tables),
                table=tables[0],
            )
    evidence = evidence_dir(settings, env)
    if (work / "evidence").is_dir() and evidence.is_dir() and any(evidence.iterdir()):
        raise RestoreRefused(N_("The evidence directory {path} is not empty."), path=str(evidence))
    targets = {k.role: k.path for k in key_files(settings, env)}
    for role in manifest["keys"]:
        target = targets.get(role) or settings.data_dir / "keys" / manifest["keys"][role]
        if target.exists() and target.read_bytes() != (work / "keys" / role).read_bytes():
            raise RestoreRefused(
                N_("{path} exists and differs from the key in the backup; move it away first."), path=str(target)
            )


def _restore_files(settings: Settings, env: Mapping[str, str], manifest: dict, work: Path) -> None:
    if (work / "evidence").is_dir():
        shutil.copytree(work / "evidence", evidence_dir(settings, env), dirs_exist_ok=True)
    targets = {k.role: k.path for k in key_files(settings, env)}
    for role, name in manifest["keys"].items():
        target = targets.get(role) or settings.data_dir / "keys" / name
        if target.exists():
            continue  # identical (checked before)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if "public" not in role else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write((work / "keys" / role).read_bytes())


def _unpack(tar_path: Path, work: Path) -> dict:
    """Extract the decrypted tar and read its manifest; a malformed one is refused, naming what is wrong."""
    try:
        with tarfile.open(tar_path) as tar:
            tar.extractall(work, filter="data")
        manifest = json.loads((work / "manifest.json").read_text(encoding="utf-8"))
    except (tarfile.TarError, OSError, ValueError) as error:
        raise BackupUnreadable(
            N_("The backup's contents are damaged: {problem}."), problem=type(error).__name__
        ) from None
    fields = {"format": str, "backend": str, "database": str, "keys": dict, "evidence_files": int, "created_at": str}
    for name, kind in fields.items():
        if not isinstance(manifest, dict) or not isinstance(manifest.get(name), kind):
            raise BackupUnreadable(N_("The backup's manifest is damaged (field «{field}»)."), field=name)
    return manifest


def restore_backup(settings: Settings, env: Mapping[str, str], archive: Path) -> dict:
    """Restore ``archive`` into the configured (empty) database and data directory; returns the manifest."""
    key = backup_key(env)
    with tempfile.TemporaryDirectory(prefix=".exam-restore-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        tar_path = work / "backup.tar"
        with archive.open("rb") as src, tar_path.open("wb") as dst:
            decrypt_stream(src, dst, key)
        manifest = _unpack(tar_path, work)
        _check_empty_target(settings, env, manifest, work)
        if settings.is_postgres:
            _run(
                [
                    "pg_restore",
                    "--exit-on-error",
                    "--no-owner",
                    "--no-privileges",
                    "--dbname",
                    make_url(settings.database_url).database or "",
                    str(work / DB_PG),
                ],
                _pg_env(settings.database_url),
            )
        else:
            target = _sqlite_path(settings.database_url)
            target.parent.mkdir(parents=True, exist_ok=True)
            _sqlite_copy(work / DB_SQLITE, target)
        _restore_files(settings, env, manifest, work)
    return manifest
