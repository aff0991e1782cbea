"""The restore recipe of docs/backup.md, run as written on a fresh machine's directory.

A source installation on PostgreSQL makes a backup; then, as the recipe says: ``createdb``
a new database, export ``EXAM_DATABASE_URL`` and ``EXAM_DATA_DIR`` (a directory that does
not exist yet, no ``EXAM_SECRET_KEY``: the restore must not need what a fresh machine lacks),
``exam-engine restore``, and ``exam-engine audit verify`` proves the chain came back intact.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from tests.conftest import PG_ADMIN_URL, SECRET, _swap_db

ROOT = Path(__file__).resolve().parents[2]
BACKUP_KEY = "3c" * 32


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}
    return subprocess.run(
        [sys.executable, "-m", "exam_engine.cli", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _recipe() -> list[str]:
    """The shell lines of the restore block of docs/backup.md."""
    text = (ROOT / "docs" / "backup.md").read_text(encoding="utf-8")
    block = re.search(r"Restore into an EMPTY database.*?```sh\n(.*?)```", text, re.S)
    assert block, "docs/backup.md lost its restore recipe"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_documented_restore_recipe_works_on_a_fresh_directory(tmp_path):
    recipe = _recipe()
    assert recipe[0].startswith("createdb ") and recipe[1].startswith("export EXAM_DATABASE_URL=")
    assert "EXAM_DATA_DIR=" in recipe[1] and "EXAM_SECRET_KEY" not in " ".join(recipe)
    assert recipe[2].startswith("exam-engine restore ") and recipe[3].startswith("exam-engine audit verify")

    import psycopg

    source_db, target_db = (f"exam_recipe_{uuid.uuid4().hex[:8]}" for _ in range(2))
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{source_db}"')
    try:
        source = {
            "EXAM_DATABASE_URL": _swap_db(PG_ADMIN_URL, source_db),
            "EXAM_DATA_DIR": str(tmp_path / "source"),
            "EXAM_SECRET_KEY": SECRET,
            "EXAM_BACKUP_KEY": BACKUP_KEY,
        }
        for args in (
            ("migrate",),
            ("user", "add", "t.one", "--role", "teacher", "--name", "Тест Бір"),
            ("audit", "seal"),
        ):
            done = _run(source, *args)
            assert done.returncode == 0, (args, done.stderr)
        archive = tmp_path / "exam-2026-W23.bin"
        assert _run(source, "backup", "--output", str(archive)).returncode == 0

        # The recipe, line by line, on a machine that has only the archive and the backup key.
        createdb = subprocess.run(
            ["createdb", target_db],
            env={**os.environ, **_libpq(PG_ADMIN_URL)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert createdb.returncode == 0, createdb.stderr
        fresh = tmp_path / "srv" / "exam-restored"
        assert not fresh.exists()
        target = {
            "EXAM_DATABASE_URL": _swap_db(PG_ADMIN_URL, target_db),
            "EXAM_DATA_DIR": str(fresh),
            "EXAM_BACKUP_KEY": BACKUP_KEY,
        }
        restored = _run(target, "restore", str(archive))
        assert restored.returncode == 0, restored.stderr
        verified = _run(target, "audit", "verify")
        assert verified.returncode == 0, verified.stderr
        intact = re.search(r"audit chain intact: (\d+) seals over (\d+) rows", verified.stdout)
        assert intact and int(intact[1]) >= 1 and int(intact[2]) >= 1, verified.stdout
        assert not (fresh / "secret.key").exists()  # nothing invented: the server makes it on its first start
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            for name in (source_db, target_db):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> dict[str, str]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    env = {"PGHOST": u.host or "", "PGPORT": str(u.port or 5432), "PGUSER": u.username or ""}
    if u.password:
        env["PGPASSWORD"] = u.password
    return env
