"""Every operator command ends with one line and its documented exit code, never a traceback.

Each case is what a faulty disk, a hand edit or a wrong file does to an installation:
an audit row whose JSON, timestamp or actor no longer reads; a backup that is not one,
truncated, read with the wrong key, or whose header lost its nonce; an evidence keyring
that is empty or not JSON. The commands run as the operator runs them
(``python -m exam_engine.cli``), in Russian or Kazakh (``EXAM_LANG``).
"""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import pytest

from exam_engine.cli import dispatch as cli_module
from tests.integration.test_cli_and_restart import cli

BACKUP_KEY = "5e" * 32


def _one_line(result) -> str:  # type: ignore[no-untyped-def]
    """The command's stderr, checked to be a single line without a traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def installation(tmp_path: Path) -> Path:
    """A migrated SQLite installation with a few audit rows."""
    home = tmp_path / "home"
    assert cli(home, "migrate").returncode == 0
    for login in ("a.one", "b.two"):
        made = cli(home, "user", "add", login, "--role", "teacher", "--name", "Тест")
        assert made.returncode == 0, made.stderr
    return home


def _edit_audit_row(home: Path, column: str, value: object) -> int:
    """Write ``value`` into one audit row's column as someone editing the file by hand would (around the
    append-only trigger); returns the row id."""
    with sqlite3.connect(home / "exam.db") as db:
        triggers = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ).fetchall()
        for name, _ in triggers:
            db.execute(f'DROP TRIGGER "{name}"')
        row_id = db.execute("SELECT max(id) FROM audit_log").fetchone()[0]
        db.execute(f"UPDATE audit_log SET {column} = ? WHERE id = ?", (value, row_id))
        for _, sql in triggers:
            db.execute(sql)
    return row_id


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("before", "{not json"),
        ("at", "вчера утром"),
        ("actor", b"\xff\x00"),
    ],
    ids=["json", "timestamp", "actor"],
)
def test_audit_verify_names_the_malformed_row_and_column(installation, column, value):
    assert cli(installation, "audit", "verify").returncode == 0
    row_id = _edit_audit_row(installation, column, value)
    result = cli(installation, "audit", "verify", EXAM_LANG="ru")
    assert result.returncode == 1
    line = _one_line(result)
    assert f"запись журнала аудита {row_id}" in line and f"«{column}»" in line, line


def _backup(home: Path, out: Path) -> Path:
    made = cli(home, "backup", "--output", str(out), EXAM_BACKUP_KEY=BACKUP_KEY)
    assert made.returncode == 0, made.stderr
    return out


def _with_header(archive: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    (length,) = struct.unpack(">I", archive[8:12])
    header = json.loads(archive[12 : 12 + length])
    new = json.dumps(change(header)).encode()
    return archive[:8] + struct.pack(">I", len(new)) + new + archive[12 + length :]


def test_restore_refuses_what_is_not_a_sound_backup_in_one_line(installation, tmp_path):
    archive = _backup(installation, tmp_path / "weekly.bin").read_bytes()
    cases = {
        "empty nonce": (_with_header(archive, lambda h: {**h, "nonce_prefix": ""}), BACKUP_KEY, 1, "nonce_prefix"),
        "header not an object": (_with_header(archive, lambda h: [h]), BACKUP_KEY, 1, "json"),
        "truncated": (archive[:-100], BACKUP_KEY, 1, "усечён"),
        "wrong key": (archive, "11" * 32, 1, "ключ"),
        "not a backup": (b"PK\x03\x04 a spreadsheet", BACKUP_KEY, 1, "не является резервной копией"),
        "short key": (archive, "abc", 2, "EXAM_BACKUP_KEY"),
    }
    for name, (data, key, code, words) in cases.items():
        bad = tmp_path / f"{name}.bin"
        bad.write_bytes(data)
        target = tmp_path / f"target-{name.replace(' ', '-')}"
        result = cli(target, "restore", str(bad), EXAM_BACKUP_KEY=key, EXAM_LANG="ru")
        assert result.returncode == code, (name, result.stderr)
        assert words in _one_line(result), (name, result.stderr)
        assert not (target / "exam.db").exists(), name  # nothing was restored
    missing = cli(tmp_path / "t", "restore", str(tmp_path / "nowhere.bin"), EXAM_BACKUP_KEY=BACKUP_KEY)
    assert missing.returncode == 2 and "nowhere.bin" in _one_line(missing)


def test_backup_without_a_key_or_to_an_unwritable_place_is_one_line(installation, tmp_path):
    no_key = cli(installation, "backup", "--output", str(tmp_path / "b.bin"), EXAM_LANG="kk")
    assert no_key.returncode == 2 and "EXAM_BACKUP_KEY" in _one_line(no_key)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    nowhere = cli(installation, "backup", "--output", str(blocked / "b.bin"), EXAM_BACKUP_KEY=BACKUP_KEY)
    assert nowhere.returncode == 2 and "a-file" in _one_line(nowhere)


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "empty"), ("{not json", "not JSON"), ("[]", "current")],
    ids=["empty", "not-json", "not-a-keyring"],
)
def test_evidence_verify_with_a_broken_keyring_names_the_file(installation, tmp_path, content, problem):
    keyring = tmp_path / "evidence-master.json"
    keyring.write_text(content)
    result = cli(
        installation,
        "evidence",
        "verify",
        "00000000-0000-4000-8000-000000000001",
        EXAM_EVIDENCE_KEY_FILE=str(keyring),
        EXAM_LANG="ru",
    )
    assert result.returncode == 2
    line = _one_line(result)
    assert str(keyring) in line and problem in line and "Файл ключей доказательств" in line, line


def test_an_unexpected_error_is_one_line_and_the_traceback_only_with_exam_debug(monkeypatch, capsys):
    def broken(args):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli_module, "cmd_openapi", broken)
    monkeypatch.setenv("EXAM_LANG", "ru")
    monkeypatch.delenv("EXAM_DEBUG", raising=False)
    assert cli_module.main(["openapi"]) == 1
    err = capsys.readouterr().err
    assert "Непредвиденная ошибка" in err and "RuntimeError: disk on fire" in err and "EXAM_DEBUG=1" in err
    assert "Traceback" not in err


def test_a_command_on_a_database_without_the_schema_says_to_migrate(tmp_path):
    result = cli(tmp_path / "new", "evidence", "rotate-key", EXAM_LANG="ru")
    assert result.returncode == 2
    line = _one_line(result)
    assert "exam-engine migrate" in line and "нет схемы" in line, line
