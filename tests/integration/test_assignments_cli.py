"""``exam-engine assign …``: the assignments from the command line, with a one-line reason and exit 1 on refusal."""

from __future__ import annotations

from tests.integration.test_cli_and_restart import cli


def test_the_operator_assigns_heads_and_departments_and_a_wrong_account_is_refused_with_its_name(tmp_path):
    assert cli(tmp_path, "migrate").returncode == 0
    f = tmp_path / "contingent.csv"
    f.write_text("role,login,full_name,group,faculty\nstudent,s.one,Бір,G1,FAC-1\n", encoding="utf-8")
    assert cli(tmp_path, "contingent", "import", str(f)).returncode == 0
    for login, role in (("dean", "faculty_head"), ("dephead", "department_head"), ("t.one", "teacher")):
        assert cli(tmp_path, "user", "add", login, "--role", role, "--name", "Аты Жөні").returncode == 0
    assert cli(tmp_path, "discipline", "add", "LAW-1", "--name", "Құқық").returncode == 0

    done = cli(tmp_path, "assign", "faculty-head", "dean", "FAC-1")
    assert done.returncode == 0, done.stderr
    assert (
        cli(tmp_path, "assign", "department", "D1", "--name", "Құқық кафедрасы", "--faculty", "FAC-1").returncode == 0
    )
    assert cli(tmp_path, "assign", "department-head", "dephead", "D1").returncode == 0
    assert cli(tmp_path, "assign", "discipline", "LAW-1", "D1").returncode == 0

    wrong = cli(tmp_path, "--lang", "ru", "assign", "faculty-head", "t.one", "FAC-1")
    assert (
        wrong.returncode == 1 and wrong.stderr.strip() == "Учётная запись «t.one» не принадлежит начальнику факультета."
    )
    missing = cli(tmp_path, "assign", "department-head", "dephead", "NO-SUCH")
    assert missing.returncode == 1 and "NO-SUCH" in missing.stderr and "Traceback" not in missing.stderr
    no_exam = cli(tmp_path, "assign", "proctors", "999", "nobody")
    assert no_exam.returncode == 1 and "Traceback" not in no_exam.stderr
    usage = cli(tmp_path, "assign", "proctors", "not-a-number")
    assert usage.returncode == 2
