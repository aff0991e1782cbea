import io

import openpyxl

from question_bank.formats.detect import BankFormat
from question_bank.formats.xlsx import TEMPLATE_HEADERS, TEMPLATE_INSTRUCTIONS, xlsx_template
from question_bank.parse import parse_bank
from question_bank.problems import ProblemCode
from tests.unit.question_bank.builders import template_row, xlsx_bytes

OPTIONS = ["Астана", "Алматы", "Шымкент", "Қостанай", "Орал"]


def test_the_blank_template_imports_its_own_rows():
    book = openpyxl.load_workbook(io.BytesIO(xlsx_template()))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == list(TEMPLATE_HEADERS)
    sheet.append(
        template_row(
            "Астана қашан елорда болды?",
            2,
            ["1995", "1997", "2001", "1991", "2010"],
            topic="Тарих",
            difficulty=2,
            twin="T1",
        )
    )
    buffer = io.BytesIO()
    book.save(buffer)
    report = parse_bank(buffer.getvalue(), filename="bank.xlsx", language="kk")
    assert report.format is BankFormat.XLSX
    assert report.accepted, report.problems
    item = report.items[0]
    assert (item.correct, item.topic, item.difficulty, item.twin_key, item.source_line) == (1, "Тарих", 2, "T1", 2)


def test_template_instructions_come_in_the_callers_language():
    book = openpyxl.load_workbook(io.BytesIO(xlsx_template(lambda msgid: "KK:" + msgid)))
    notes = [row[0].value for row in book["Instructions"].iter_rows()]
    assert notes == ["KK:" + line for line in TEMPLATE_INSTRUCTIONS]


def test_key_as_letter_and_numbers_as_cells_are_read_as_the_author_sees_them():
    data = xlsx_bytes([template_row("2+2?", "C", [3, 5.0, 4, 6, 7])])
    item = parse_bank(data, language="kk").items[0]
    assert item.options == ("3", "5", "4", "6", "7")
    assert item.correct == 2


def test_row_problems_carry_the_row_number():
    data = xlsx_bytes(
        [
            template_row("Бірінші", 1, OPTIONS),
            ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
            template_row("Екінші", 9, OPTIONS),
            template_row("Үшінші", "", OPTIONS, difficulty="қиын"),
            template_row("Төртінші", 1, ["а", "", "б"]),
        ]
    )
    report = parse_bank(data, language="kk")
    found = {(p.code, p.line, p.question) for p in report.errors}
    assert found == {
        (ProblemCode.INVALID_KEY, 4, 2),
        (ProblemCode.INVALID_DIFFICULTY, 5, 3),
        (ProblemCode.NO_CORRECT_OPTION, 5, 3),
        (ProblemCode.EMPTY_OPTION, 6, 4),
    }


def test_headers_in_any_of_the_three_languages_and_unknown_columns():
    data = xlsx_bytes(
        [["Құқық", "Сұрақ?", "1", "а", "б", "x"]],
        headers=["Тема", "Вопрос", "Ключ", "Вариант 1", "Option 2", "Комментарий"],
    )
    report = parse_bank(data, language="ru")
    assert report.items[0].options == ("а", "б")
    assert [(p.code, p.line) for p in report.errors] == [(ProblemCode.UNKNOWN_COLUMN, 1)]


def test_a_sheet_without_key_column_is_refused():
    report = parse_bank(xlsx_bytes([["Сұрақ", "а", "б"]], headers=["Question", "Option 1", "Option 2"]), language="kk")
    assert [(p.code, p.params["column"]) for p in report.errors] == [(ProblemCode.MISSING_COLUMN, TEMPLATE_HEADERS[4])]
