"""``exam-engine grade calc`` and ``exam-engine journal …``, run as the operator runs them."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_cli_and_restart import cli


@pytest.mark.parametrize(
    ("admission", "exam", "total", "letter", "verdict"),
    [
        ("82", "2", "50", "FX", "fail"),  # a float sum gives 49.999…; the exam below 50 fails anyway
        ("50", "50", "50", "D", "pass"),
        ("49", "100", "not computed", "-", "fail"),  # not admitted
        ("95", "95", "95", "A", "pass"),
    ],
)
def test_grade_calc_prints_the_total_letter_and_verdict(tmp_path, admission, exam, total, letter, verdict):
    done = cli(tmp_path, "grade", "calc", "--admission", admission, "--exam", exam)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines())
    assert lines["total"].strip() == total and lines["letter"].strip() == letter
    assert lines["result"].strip().startswith(verdict)


def test_grade_calc_as_json_names_gpa_traditional_grades_and_the_target(tmp_path):
    done = cli(tmp_path, "grade", "calc", "--admission", "60", "--exam", "84", "--target", "C+", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["total"], result["letter"], result["gpa"], result["passed"]) == (70, "C+", "2.33", True)
    assert result["traditional"] == {"kk": "жақсы", "ru": "хорошо"}
    assert result["target"] == {"letter": "C+", "verdict": "reachable", "minimum_exam": 84}


def test_grade_calc_refuses_a_score_out_of_range_in_the_operators_language(tmp_path):
    done = cli(tmp_path, "--lang", "ru", "grade", "calc", "--admission", "101", "--exam", "50")
    assert done.returncode == 1 and "101" in done.stderr and "от 0 до 100" in done.stderr


def test_the_operator_creates_a_journal_and_assigns_its_teacher(tmp_path):
    assert cli(tmp_path, "migrate").returncode == 0
    assert cli(tmp_path, "user", "add", "t.teacher", "--role", "teacher", "--name", "Оқытушы").returncode == 0
    made = cli(
        tmp_path,
        "journal",
        "create",
        "--group",
        "PD-21",
        "--discipline",
        "LAW-101",
        "--period",
        "2026-2",
        "--closes",
        "2026-07-01T00:00+05:00",
    )
    assert made.returncode == 0, made.stderr
    again = cli(
        tmp_path,
        "journal",
        "create",
        "--group",
        "PD-21",
        "--discipline",
        "LAW-101",
        "--period",
        "2026-2",
        "--closes",
        "2026-07-01T00:00+05:00",
    )
    assert again.returncode == 1
    assert cli(tmp_path, "journal", "assign", "1", "t.teacher").returncode == 0
    listed = json.loads(cli(tmp_path, "journal", "list", "--json").stdout)
    assert [(j["id"], j["group"], j["period"]) for j in listed] == [(1, "PD-21", "2026-2")]
    relayed = cli(tmp_path, "journal", "relay")
    assert relayed.returncode == 0 and "0 delivered" in relayed.stdout
