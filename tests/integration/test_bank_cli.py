"""``exam-engine bank …`` as the quality department's operator runs it (real processes)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from exam_engine.domain.actors import Actor
from exam_engine.domain.roles import Role
from exam_engine.services import attempts as attempt_service
from exam_engine.services import catalog
from question_bank.parse import parse_bank
from tests.factories import make_world
from tests.integration.test_cli_and_restart import cli

GOOD = "\n".join(
    f"<question2>Сұрақ {n}: бiлiм туралы?\n<variant>дұрыс {n}\n<variant>қате {n}.1\n<variant>қате {n}.2\n"
    f"<variant>қате {n}.3\n<variant>қате {n}.4\n"
    for n in range(1, 5)
)
BAD = "қолтаңба\n<question>Сұрақ?\n<variant>а\n<variant>б\n<variantright>в\n<variantright>г\n<foo>\n"


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return str(path)


def test_a_dry_run_checks_a_file_without_a_database_or_a_discipline(tmp_path):
    good = _write(tmp_path, "good.txt", GOOD, "kz1048")
    result = cli(
        tmp_path,
        "--lang",
        "ru",
        "bank",
        "import",
        good,
        "--discipline",
        "NEW-1",
        "--lang",
        "kk",
        "--dry-run",
        EXAM_DATABASE_URL=f"sqlite:///{tmp_path}/missing/nothing.db",
    )
    assert result.returncode == 0, result.stderr
    assert "вопросов: 4, корректных: 4, ошибок: 0" in result.stdout and "ничего не сохранено" in result.stdout
    assert not (tmp_path / "missing").exists()
    bad = _write(tmp_path, "bad.txt", BAD)
    result = cli(tmp_path, "bank", "import", bad, "--discipline", "NEW-1", "--lang", "kk", "--dry-run", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)["report"]
    assert report["counts"]["errors"] == len(report["errors"]) >= 3
    located = {(e["code"], e["line"], e["question"]) for e in report["errors"]}
    assert ("text_outside_question", 1, None) in located and ("unknown_tag", 7, 1) in located
    assert ("several_correct_options", 2, 1) in located
    assert all(e["message"] for e in report["errors"] + report["warnings"])


def test_usage_errors_exit_2(tmp_path):
    good = _write(tmp_path, "good.txt", GOOD)
    for args in (
        ["bank", "import", str(tmp_path / "none.txt"), "--discipline", "X", "--lang", "kk", "--dry-run"],
        ["bank", "import", good, "--discipline", "X", "--lang", "kk", "--dry-run", "--format", "word"],
        ["bank", "import", good, "--discipline", "X", "--lang", "en", "--dry-run"],
        ["bank", "import", good, "--discipline", "X", "--lang", "kk", "--difficulty", "hard"],
        ["bank", "export", "--discipline", "X", "--lang", "kk", "--format", "docx"],
    ):
        result = cli(tmp_path, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
    result = cli(
        tmp_path,
        "--lang",
        "ru",
        "bank",
        "import",
        good,
        "--discipline",
        "X",
        "--lang",
        "kk",
        "--dry-run",
        "--format",
        "word",
    )
    assert result.returncode == 2 and "Неизвестный формат word; используйте один из: platonus" in result.stderr


def test_import_versions_diff_publish_export_and_template_from_the_command_line(tmp_path):
    assert cli(tmp_path, "migrate").returncode == 0
    good = _write(tmp_path, "good.txt", GOOD)
    missing = cli(tmp_path, "--lang", "ru", "bank", "import", good, "--discipline", "LAW-9", "--lang", "kk")
    assert missing.returncode == 1 and "Нет дисциплины с кодом LAW-9" in missing.stderr
    assert cli(tmp_path, "discipline", "add", "LAW-9", "--name", "Law").returncode == 0
    bad = _write(tmp_path, "bad.txt", BAD)
    assert cli(tmp_path, "bank", "import", bad, "--discipline", "LAW-9", "--lang", "kk").returncode == 1
    first = cli(tmp_path, "--lang", "ru", "bank", "import", good, "--discipline", "LAW-9", "--lang", "kk")
    assert first.returncode == 0 and "Сохранено как версия 1 банка LAW-9 (kk)" in first.stdout
    changed = _write(tmp_path, "v2.txt", GOOD.replace("Сұрақ 4: бiлiм", "Жаңа сұрақ: құқық"))
    refused = cli(
        tmp_path, "--lang", "ru", "bank", "import", changed, "--discipline", "LAW-9", "--lang", "kk", "--json"
    )
    assert refused.returncode == 1  # the replace removes question 4: listed, nothing stored
    assert json.loads(refused.stdout)["error"]["details"][0]["message"].startswith("Вопрос 4 удаляется")
    second = cli(
        tmp_path,
        "--lang",
        "ru",
        "bank",
        "import",
        changed,
        "--discipline",
        "LAW-9",
        "--lang",
        "kk",
        "--json",
        "--confirm",
    )
    body = json.loads(second.stdout)
    assert second.returncode == 0 and body["version"]["version"] == 2
    assert body["diff"]["counts"] == {"added": 1, "removed": 1, "changed": 0, "unchanged": 3}
    listed = json.loads(cli(tmp_path, "bank", "list", "--json").stdout)["items"]
    assert [(v["version"], v["status"]) for v in listed] == [(1, "draft"), (2, "draft")]
    assert cli(tmp_path, "bank", "publish", str(listed[1]["id"])).returncode == 0
    again = cli(tmp_path, "--lang", "ru", "bank", "publish", str(listed[1]["id"]))
    assert again.returncode == 1 and "уже опубликована" in again.stderr
    no_file = cli(tmp_path, "bank", "export", "--discipline", "LAW-9", "--lang", "kk", "--format", "qti")
    assert no_file.returncode == 2 and "-o" in no_file.stderr
    for fmt in ("gift", "platonus", "qti"):
        out = tmp_path / f"export.{fmt}"
        exported = cli(
            tmp_path, "bank", "export", "--discipline", "LAW-9", "--lang", "kk", "--format", fmt, "-o", str(out)
        )
        assert exported.returncode == 0, exported.stderr
        items = parse_bank(out.read_bytes(), format=fmt, language="kk").items
        assert [i.text for i in items] == [i.text for i in parse_bank(Path(changed).read_bytes(), language="kk").items]
        assert {i.difficulty for i in items} == {2}
    old = cli(tmp_path, "bank", "export", "--discipline", "LAW-9", "--lang", "kk", "--version", "1", "--format", "gift")
    assert old.returncode == 0 and "Сұрақ 4" in old.stdout
    template = tmp_path / "blank.xlsx"
    assert cli(tmp_path, "bank", "template", "-o", str(template)).returncode == 0
    assert openpyxl.load_workbook(template).sheetnames == ["Questions", "Instructions"]


async def test_item_analysis_from_the_command_line_with_an_xlsx_file(services, tmp_path):
    world = await make_world(services, students=3, question_count=4, bank_size=4)
    now = services.clock.now()
    for login in world.students:
        async with services.engine.begin() as conn:
            actor = Actor(user_id=await catalog.user_id_by_login(conn, login), login=login, role=Role.STUDENT)
            attempt_id = await attempt_service.start(
                conn, actor, world.exam_id, language=None, now=now, bank_cache=services.bank_cache
            )
            await attempt_service.submit(conn, actor, attempt_id, now=now, grace_s=1)
    url = services.settings.database_url
    xlsx = tmp_path / "analysis.xlsx"
    result = cli(tmp_path, "bank", "analysis", str(world.exam_id), "--json", "--xlsx", str(xlsx), EXAM_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["attempts"] == 3 and body["items_count"] == 4
    assert all(it["option_counts"] == [0] * 5 and it["omitted"] == 3 for it in body["items"])
    assert openpyxl.load_workbook(xlsx).active.max_row == 5
    missing = cli(tmp_path, "bank", "analysis", "999", EXAM_DATABASE_URL=url)
    assert missing.returncode == 1
