"""``exam-engine bank import`` with hostile files: documented exit codes, one line, never a traceback."""

from __future__ import annotations

import json

from tests.integration.test_bank_api import _discipline
from tests.integration.test_bank_hostile import NUL_BANK, _versions
from tests.integration.test_cli_and_restart import cli

IMPORT = ("bank", "import")


def test_a_50_mb_file_is_a_usage_error_exit_2_with_one_line_or_the_json_error(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.truncate(50 * 1024 * 1024)
    result = cli(tmp_path, "--lang", "ru", *IMPORT, str(big), "--discipline", "X", "--lang", "kk", "--dry-run")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "52428800" in result.stderr and "10485760" in result.stderr
    result = cli(tmp_path, *IMPORT, str(big), "--discipline", "X", "--lang", "kk", "--json")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "bank_too_large"


def test_an_unreadable_path_is_a_usage_error_not_a_traceback(tmp_path):
    result = cli(tmp_path, *IMPORT, str(tmp_path), "--discipline", "X", "--lang", "kk", "--dry-run")
    assert result.returncode == 2 and "Traceback" not in result.stderr and str(tmp_path) in result.stderr


def test_a_nul_in_the_bank_is_refused_on_a_dry_run_with_its_line(tmp_path):
    bank = tmp_path / "nul.txt"
    bank.write_bytes(NUL_BANK)
    result = cli(tmp_path, *IMPORT, str(bank), "--discipline", "X", "--lang", "kk", "--dry-run", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)["report"]
    assert [(e["code"], e["line"]) for e in report["errors"]] == [("control_character", 3)]


async def test_a_nul_in_the_bank_is_refused_on_the_storing_path_and_nothing_is_stored(services, tmp_path):
    await _discipline(services)
    bank = tmp_path / "nul.txt"
    bank.write_bytes(NUL_BANK)
    result = cli(
        tmp_path,
        "--lang",
        "ru",
        *IMPORT,
        str(bank),
        "--discipline",
        "CRIM-201",
        "--lang",
        "kk",
        EXAM_DATABASE_URL=services.settings.database_url,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "Строка 3: В тексте есть управляющий символ U+0000; удалите его" in result.stdout
    assert await _versions(services) == 0
