"""The exam-rating statement (J8) and its exports (J9, S5)."""

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from journal_bridge.errors import FontMissing
from journal_bridge.exports import final_results_json, statement_csv, statement_xlsx
from journal_bridge.statement_pdf import find_font, render_statement_pdf

KAZAKH_LETTERS = "әғқңөұүһі"


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_students_are_listed_in_kazakh_alphabetical_order(statement):
    assert [r.full_name.split()[0] for r in statement.rows] == [
        "Аманов",
        "Ғабитұлы",
        "Ибраева",
        "Ұланов",
        "Үмбетова",
        "Һадиева",
    ]
    assert [r.number for r in statement.rows] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("language", "title", "status"),
    [
        ("kk", "Емтихан-рейтингтік ведомость", "Жіберілмеді"),
        ("ru", "Экзаменационно-рейтинговая ведомость", "Не допущен(а)"),
    ],
    ids=["kk", "ru"],
)
def test_the_pdf_holds_header_rows_and_every_kazakh_letter(statement, translate, language, title, status):
    text = _pdf_text(render_statement_pdf(statement, language, translate))
    for letter in KAZAKH_LETTERS:
        assert letter in text.casefold(), letter
    for expected in (title, status, "Әбдіғалиев", "Қылмыстық құқық", "KK1201", "15.01.2026", "Үмбетова Іңкәр"):
        assert expected in text


def test_the_pdf_embeds_dejavu_sans(statement, translate):
    pdf = PdfReader(io.BytesIO(render_statement_pdf(statement, "kk", translate)))
    fonts = {f["/BaseFont"] for page in pdf.pages for f in page["/Resources"]["/Font"].values()}
    assert any("DejaVuSans" in str(name) for name in fonts)


def test_a_missing_font_stops_rendering_with_a_clear_error(tmp_path):
    with pytest.raises(FontMissing) as error:
        find_font(directories=(str(tmp_path),))
    assert error.value.code == "font_missing" and str(tmp_path) in str(error.value)


def test_the_csv_has_translated_titles_and_one_row_per_student(statement, translate):
    data = statement_csv(statement, "ru", translate)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["№", "ФИО обучающегося", "Рейтинг допуска"]
    by_name = {r[1]: r for r in rows[1:]}
    assert by_name["Ғабитұлы Әлішер"][4:9] == ["92", "A-", "3.67", "отлично", "Сдал(а)"]
    assert by_name["Һадиева Өміржан"][4] == "не вычисляется"
    assert len(rows) == 1 + len(statement.rows)


def test_the_xlsx_keeps_numbers_as_numbers(statement, translate):
    book = load_workbook(io.BytesIO(statement_xlsx(statement, "kk", translate)))
    values = [row for row in book.active.iter_rows(values_only=True)]
    assert values[0][0] == "Емтихан-рейтингтік ведомость"
    row = next(r for r in values if r[1] == "Үмбетова Іңкәр")
    assert row[2:6] == (82, 2, 50, "FX")
    assert ("Үлгерім", "33.33") in [(r[0], str(r[1])) for r in values]


def test_the_json_export_for_an_ais_is_language_neutral(statement):
    document = json.loads(final_results_json(statement))
    assert document["format"] == "journal_bridge.final_results/1"
    assert document["discipline"] == {"code": "KK1201", "name": "Қылмыстық құқық", "credits": 5}
    first = document["results"][1]
    assert (first["student_id"], first["total"], first["letter"], first["gpa"], first["status"]) == (
        "s2",
        92,
        "A-",
        "3.67",
        "passed",
    )
    assert first["traditional"] == {"kk": "өте жақсы", "ru": "отлично"}
    timed_out = next(r for r in document["results"] if r["student_id"] == "s3")
    assert (timed_out["total"], timed_out["letter"], timed_out["status"]) == (None, None, "timed_out")
    assert timed_out["traditional"] == {"kk": "қанағаттанарлықсыз", "ru": "неудовлетворительно"}  # 000 §5.5.16


def test_statistics_count_every_student(statement):
    stats = statement.statistics
    assert stats.students == 6
    assert [stats.count(s) for s in ("passed", "exam_failed", "not_admitted")] == [2, 1, 1]
    assert stats.not_computed == 2
    expected = dict.fromkeys(["A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "FX", "F"], 0)
    assert dict(stats.distribution) == expected | {"A-": 1, "B+": 1, "FX": 1}
    assert [letter for letter, _ in stats.distribution] == list(expected)
    assert stats.pass_rate == Decimal("33.33")
    assert stats.average_total == Decimal("77.00")  # (92 + 50 + 89) / 3
    assert stats.average_gpa == Decimal("2.50")  # (3.67 + 0.50 + 3.33) / 3
    assert stats.average_exam == Decimal("62.67")  # (95 + 2 + 91) / 3: timed-out and annulled scores left out


def test_the_bundled_font_location_is_found_on_this_machine():
    assert Path(find_font()).name == "DejaVuSans.ttf"


def test_the_same_statement_renders_to_the_same_bytes_so_an_archived_copy_can_be_hashed(statement, translate):
    first = render_statement_pdf(statement, "ru", translate)
    assert render_statement_pdf(statement, "ru", translate) == first
    assert render_statement_pdf(statement, "kk", translate) != first
