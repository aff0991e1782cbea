"""Configuration fails fast; passwords follow NIST SP 800-63B; the role matrix obeys R3."""

from __future__ import annotations

import pytest

from exam_engine.config import Secret, load_settings
from exam_engine.domain.roles import ACADEMIC_PERMISSIONS, MATRIX, Permission, Role, allows
from exam_engine.errors import ConfigError, InvalidInput
from exam_engine.security import passwords

KEY = "k" * 40


def test_defaults_are_the_embedded_sqlite_under_the_data_dir(tmp_path):
    s = load_settings({"EXAM_DATA_DIR": str(tmp_path), "EXAM_SECRET_KEY": KEY})
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'exam.db'}"
    assert s.redis_url is None and s.port == 8080 and s.host == "127.0.0.1"


def test_a_postgres_url_is_turned_into_the_psycopg_driver(tmp_path):
    s = load_settings(
        {"EXAM_DATA_DIR": str(tmp_path), "EXAM_SECRET_KEY": KEY, "EXAM_DATABASE_URL": "postgresql://u@db:5432/exam"}
    )
    assert s.database_url == "postgresql+psycopg://u@db:5432/exam" and s.is_postgres


@pytest.mark.parametrize(
    "name,value,fragment",
    [
        ("EXAM_DATABASE_URL", "mysql://x/y", "EXAM_DATABASE_URL"),
        ("EXAM_REDIS_URL", "http://localhost", "EXAM_REDIS_URL"),
        ("EXAM_PORT", "eighty", "EXAM_PORT"),
        ("EXAM_PORT", "70000", "between 1 and 65535"),
        ("EXAM_NETWORK_GRACE_S", "-1", "EXAM_NETWORK_GRACE_S"),
        ("EXAM_SECRET_KEY", "short", "at least 32"),
        ("EXAM_TRUSTED_PROXIES", "10.0.0.1, nginx.local", "EXAM_TRUSTED_PROXIES: 'nginx.local'"),
        ("EXAM_TRUSTED_PROXIES", "10.0.0.0/33", "EXAM_TRUSTED_PROXIES"),
        ("EXAM_METRICS_TOKEN", "secret", "EXAM_METRICS_TOKEN"),
        ("EXAM_MAX_SESSIONS_PER_USER", "-1", "EXAM_MAX_SESSIONS_PER_USER"),
    ],
)
def test_a_bad_setting_stops_start_up_with_a_message_naming_it(tmp_path, name, value, fragment):
    env = {"EXAM_DATA_DIR": str(tmp_path), "EXAM_SECRET_KEY": KEY, name: value}
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert fragment in str(err.value)


def test_a_recording_tail_shorter_than_the_deadline_grace_stops_start_up(tmp_path):
    """EXAM_RECORDING_TAIL_S counts from the deadline as the grace does: one shorter than the grace
    would be over before it, so the operator is told at start-up, in one line naming both."""
    env = {"EXAM_DATA_DIR": str(tmp_path), "EXAM_SECRET_KEY": KEY, "EXAM_NETWORK_GRACE_S": "30"}
    with pytest.raises(ConfigError) as err:
        load_settings({**env, "EXAM_RECORDING_TAIL_S": "20"})
    message = str(err.value)
    assert "EXAM_RECORDING_TAIL_S=20 is shorter than EXAM_NETWORK_GRACE_S=30" in message, message
    assert "at least 30" in message and "\n" not in message, message
    with pytest.raises(ConfigError) as err:
        load_settings({**env, "EXAM_RECORDING_TAIL_S": "901"})  # its own bound, now at start-up too
    assert "EXAM_RECORDING_TAIL_S" in str(err.value)
    # As long as the grace, longer, the default (120 s), or none at all: the server starts.
    for tail in ("30", "600", "", "0"):
        assert load_settings({**env, "EXAM_RECORDING_TAIL_S": tail}).network_grace_s == 30
    assert load_settings({"EXAM_DATA_DIR": str(tmp_path), "EXAM_SECRET_KEY": KEY}).network_grace_s == 1.0


def test_a_missing_secret_is_generated_once_into_the_data_dir_and_then_reused(tmp_path):
    first = load_settings({"EXAM_DATA_DIR": str(tmp_path)})
    second = load_settings({"EXAM_DATA_DIR": str(tmp_path)})
    assert first.secret_generated and not second.secret_generated
    assert first.secret_key.reveal() == second.secret_key.reveal()
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_secrets_do_not_show_in_repr():
    assert "abc" not in repr(Secret("abc" * 20)) and "abc" not in str(Secret("abc" * 20))


@pytest.mark.parametrize(
    "bad,code",
    [
        ("short", "password_too_short"),
        ("password123", "password_too_common"),
        ("aaaaaaaaaaaa", "password_too_common"),
        ("x" * 129, "password_too_long"),
        ("my-student1-pass", "password_too_common"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(bad, code):
    with pytest.raises(InvalidInput) as err:
        passwords.check_acceptable(bad, login="student1")
    assert err.value.code == code


def test_a_long_passphrase_without_symbols_is_accepted_and_never_truncated():
    phrase = "бір екі үш төрт бес алты жеті сегіз тоғыз он " * 2
    passwords.check_acceptable(phrase)
    stored = passwords.hash_password(phrase)
    assert stored.startswith("$argon2id$") and "m=19456,t=2,p=1" in stored
    assert passwords.verify_password(stored, phrase)
    assert not passwords.verify_password(stored, phrase[:-1])


def test_an_unknown_login_costs_a_verification_too_and_fails():
    assert passwords.verify_password(None, "anything at all") is False


def test_the_sysadmin_holds_no_permission_that_changes_academic_data():
    assert not (MATRIX[Role.SYSADMIN] & ACADEMIC_PERMISSIONS)
    for permission in ACADEMIC_PERMISSIONS:
        assert not allows(Role.SYSADMIN, permission)


def test_only_students_sit_exams_and_only_quality_and_academic_admin_read_bank_content():
    assert [r for r in Role if allows(r, Permission.SIT_EXAM)] == [Role.STUDENT]
    assert {r for r in Role if allows(r, Permission.READ_BANK_CONTENT)} == {Role.QUALITY, Role.ACADEMIC_ADMIN}


def test_every_role_has_a_row_in_the_matrix():
    assert set(MATRIX) == set(Role)
