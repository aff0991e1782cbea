"""Word banks as a quality-department clerk really makes them (python-docx, built here).

Each test states what a person sees in Word and requires the importer to read the same
questions, or to refuse the file with the paragraph and the reason — never to accept it
with a question, an option or the key silently gone or changed.
"""

from __future__ import annotations

import datetime as dt
import io

import docx
import openpyxl
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from question_bank.formats.xlsx import xlsx_template
from question_bank.parse import parse_bank
from question_bank.problems import ProblemCode
from tests.unit.question_bank.builders import TEMPLATE_HEADERS, xlsx_bytes


def _question(n: int) -> list[str]:
    return [f"<question>Қай қала {n}-ші астана болды?", "<variant>Астана", "<variant>Алматы", "<variant>Қызылорда"]


def _document(lines: list[str]) -> docx.document.Document:
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    return document


def _bytes(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _wrap_runs(paragraph: Paragraph, tag: str, **attrs: str) -> None:
    """Move the paragraph's runs into a ``tag`` element (what Word writes around them)."""
    wrapper = OxmlElement(tag)
    for name, value in attrs.items():
        wrapper.set(qn(name), value)
    for run in list(paragraph._p.r_lst):
        paragraph._p.remove(run)
        wrapper.append(run)
    paragraph._p.append(wrapper)


def _parse(document: docx.document.Document):  # type: ignore[no-untyped-def]
    return parse_bank(_bytes(document), filename="bank.docx", language="kk")


def test_a_question_typed_with_track_changes_on_is_never_silently_dropped():
    # Review → Track Changes was on when the clerk added question 2: Word shows three questions
    # (the new one underlined). The file was accepted with two, question 2 gone without a word.
    document = _document(_question(1) + _question(2) + _question(3))
    for paragraph in document.paragraphs[4:8]:
        _wrap_runs(paragraph, "w:ins", **{"w:id": "1", "w:author": "Сапарова", "w:date": "2026-12-01T10:00:00Z"})
    report = _parse(document)
    assert not report.accepted
    tracked = [p for p in report.errors if p.code is ProblemCode.TRACKED_CHANGES]
    assert [p.line for p in tracked] == [5]  # the first paragraph with a tracked change, once
    assert report.items == ()


def test_a_tracked_deletion_is_refused_with_its_paragraph():
    document = _document(_question(1) + _question(2))
    paragraph = document.paragraphs[6]  # "<variant>Қызылорда" of question 2, deleted with tracking
    for run in paragraph._p.r_lst:
        run.find(qn("w:t")).tag = qn("w:delText")
    _wrap_runs(paragraph, "w:del", **{"w:id": "2", "w:author": "Сапарова"})
    report = _parse(document)
    assert [(p.code, p.line) for p in report.errors] == [(ProblemCode.TRACKED_CHANGES, 7)]


def test_text_inside_a_content_control_a_smart_tag_or_a_field_is_read():
    # Word wraps text in these without the person seeing anything: a content control from a
    # template, a smart tag, a simple field's shown result. Each option was dropped (accepted
    # with one option fewer and only a warning).
    document = _document(_question(1) + _question(2) + _question(3))
    _wrap_runs(document.paragraphs[1], "w:sdtContent")
    control = OxmlElement("w:sdt")
    content = document.paragraphs[1]._p[-1]
    document.paragraphs[1]._p.remove(content)
    control.append(content)
    document.paragraphs[1]._p.append(control)
    _wrap_runs(document.paragraphs[6], "w:smartTag", **{"w:element": "City"})
    _wrap_runs(document.paragraphs[11], "w:fldSimple", **{"w:instr": "MERGEFIELD Қала"})
    report = _parse(document)
    assert report.accepted, report.problems
    assert [list(item.options) for item in report.items] == [["Астана", "Алматы", "Қызылорда"]] * 3


def test_hidden_text_that_word_does_not_show_is_refused():
    # Font → Hidden: the clerk hid a question instead of deleting it; Word shows two questions,
    # the file had three.
    document = _document(_question(1) + _question(2) + _question(3))
    for paragraph in document.paragraphs[4:8]:
        for run in paragraph.runs:
            run.font.hidden = True
    report = _parse(document)
    assert [(p.code, p.line) for p in report.errors] == [(ProblemCode.HIDDEN_TEXT, 5)]


def test_a_key_marked_in_bold_or_highlight_that_is_not_the_first_variant_is_refused():
    # The clerk marked the right answer in bold (question 1) or with a highlight (question 2)
    # and did not put it first: Platonus reads the first variant as the key, so the wrong key
    # was stored without a word.
    document = _document(_question(1) + _question(2) + _question(3))
    document.paragraphs[2].runs[0].bold = True  # "Алматы" of question 1
    document.paragraphs[7].runs[0].font.highlight_color = WD_COLOR_INDEX.YELLOW  # "Қызылорда" of question 2
    document.paragraphs[9].runs[0].bold = True  # "Астана" of question 3: the first variant, the key
    report = _parse(document)
    found = [(p.code, p.line, p.question, p.params.get("option")) for p in report.errors]
    assert found == [
        (ProblemCode.KEY_MARKED_BY_FORMATTING, 3, 1, 2),
        (ProblemCode.KEY_MARKED_BY_FORMATTING, 8, 2, 3),
    ]


def test_a_variantright_agreeing_with_the_bold_option_is_accepted():
    lines = ["<question>Сұрақ", "<variant>Алматы", "<variantright>Астана", "<variant>Қызылорда"]
    document = _document(lines)
    document.paragraphs[2].runs[0].bold = True
    report = _parse(document)
    assert report.accepted, report.problems
    assert report.items[0].correct == 1


def test_a_plus_or_asterisk_key_mark_in_an_option_is_refused_in_every_format():
    # "+Астана" was stored as the option text: the student's screen showed the mark, and the
    # key stayed the first variant. The same mark in an XLSX option would show the answer.
    document = _document(
        ["<question>Астана қай жылы астана болды?", "<variant>1994", "<variant>+1997", "<variant>1998"]
    )
    report = _parse(document)
    assert [(p.code, p.line, p.question, p.params["mark"]) for p in report.errors] == [
        (ProblemCode.KEY_MARK_IN_OPTION, 3, 1, "+")
    ]
    sheet = xlsx_bytes([[1, "", "", "Астана қай жылы?", 2, "1994", "* 1997", "1998"]])
    report = parse_bank(sheet, filename="bank.xlsx", language="kk")
    assert [(p.code, p.question, p.params["mark"]) for p in report.errors] == [(ProblemCode.KEY_MARK_IN_OPTION, 1, "*")]


def test_a_number_with_a_sign_is_an_option_not_a_key_mark():
    document = _document(["<question>Температура?", "<variant>+5 °C", "<variant>−5 °C", "<variant>0 °C"])
    report = _parse(document)
    assert report.accepted, report.problems
    assert report.items[0].options[0] == "+5 °C"


def test_soft_breaks_smart_quotes_nbsp_and_kazakh_letters_are_read_as_seen():
    document = _document(
        ["<question>«Құқық» ұғымы", "<variant>Ереже\u00a0жүйесі", "<variant>Әдет-ғұрып", "<variant>Өнер"]
    )
    document.paragraphs[0].runs[0].add_break()
    document.paragraphs[0].add_run("нені білдіреді?")
    report = _parse(document)
    assert report.accepted, report.problems
    assert report.items[0].text == "«Құқық» ұғымы\nнені білдіреді?"
    assert report.items[0].options == ("Ереже жүйесі", "Әдет-ғұрып", "Өнер")


def _numbered(paragraph: Paragraph, num_id: str = "7", level: str = "0") -> None:
    """Word's numbering button: a direct ``w:numPr`` in the paragraph's properties."""
    numbering = OxmlElement("w:numPr")
    ilvl, num = OxmlElement("w:ilvl"), OxmlElement("w:numId")
    ilvl.set(qn("w:val"), level)
    num.set(qn("w:val"), num_id)
    numbering.extend([ilvl, num])
    paragraph._p.get_or_add_pPr().append(numbering)


def test_a_question_numbered_by_word_but_missing_its_tag_is_not_glued_to_the_one_before():
    # The clerk numbers questions with Word's numbering button (Word shows 1., 2., 3.) and lost the
    # <question> tag of the second: its text ran on as part of option 3 of question 1 and its
    # options were added to question 1 — two questions accepted as one, with only a warning.
    lines = [
        *_question(1),
        "Қай жылы Конституция қабылданды?",
        "<variant>1995",
        "<variant>1993",
        "<variant>1991",
        *_question(3),
    ]
    document = _document(lines)
    for index in (0, 4, 8):
        _numbered(document.paragraphs[index])
    _numbered(document.paragraphs[1], level="1")  # an option numbered a level below: not a question
    report = _parse(document)
    found = [(p.code, p.line, p.question) for p in report.errors if p.code is ProblemCode.NUMBERED_LIKE_A_QUESTION]
    assert found == [(ProblemCode.NUMBERED_LIKE_A_QUESTION, 5, 1)]
    assert not report.accepted


def test_questions_numbered_by_a_list_style_are_read_and_accepted():
    document = docx.Document()
    for n in (1, 2):
        document.add_paragraph(f"<question>Қай қала {n}-ші астана болды?", style="List Number")
        for option in ("<variant>Астана", "<variant>Алматы", "<variant>Қызылорда"):
            document.add_paragraph(option)
    report = _parse(document)
    assert report.accepted, report.problems
    assert len(report.items) == 2


# --- Excel -------------------------------------------------------------------------------------


def _sheet_row(question: str, key: object, *options: object) -> list[object]:
    return [None, None, None, question, key, *options]


def _book(*sheets: tuple[str, list[list[object]]], shape=None) -> bytes:  # type: ignore[no-untyped-def]
    book = openpyxl.Workbook()
    for index, (title, rows) in enumerate(sheets):
        sheet = book.active if index == 0 else book.create_sheet(title)
        sheet.title = title
        sheet.append(list(TEMPLATE_HEADERS))
        for row in rows:
            sheet.append(row)
    if shape:
        shape(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _parse_book(data: bytes):  # type: ignore[no-untyped-def]
    return parse_bank(data, filename="bank.xlsx", language="kk")


ABC = ("Астана", "Алматы", "Қызылорда")


def test_questions_on_a_second_sheet_are_not_silently_left_out():
    # The clerk kept one sheet per topic: Excel shows two questions, the file was accepted with
    # the first sheet's one.
    data = _book(("1-тақырып", [_sheet_row("Сұрақ 1", 1, *ABC)]), ("2-тақырып", [_sheet_row("Сұрақ 2", 1, *ABC)]))
    report = _parse_book(data)
    assert not report.accepted
    [found] = [p for p in report.errors if p.code is ProblemCode.ANOTHER_QUESTION_SHEET]
    assert (found.line, found.params["sheet"], found.params["first"]) == (1, "2-тақырып", "1-тақырып")


def test_the_template_instructions_sheet_is_no_second_question_sheet():
    report = _parse_book(xlsx_template())  # blank template: its Instructions sheet has no question table
    assert ProblemCode.ANOTHER_QUESTION_SHEET not in {p.code for p in report.problems}


def test_a_hidden_row_or_column_with_data_is_refused_with_its_place():
    # Excel shows one question with three options; the file holds a hidden second question and
    # a hidden fourth option column.
    def hide(book):  # type: ignore[no-untyped-def]
        book.active.row_dimensions[3].hidden = True
        book.active.column_dimensions["I"].hidden = True

    rows = [_sheet_row("Сұрақ 1", 1, *ABC, "Шымкент"), _sheet_row("Сұрақ 2", 1, *ABC)]
    report = _parse_book(_book(("Сұрақтар", rows), shape=hide))
    found = {(p.code, p.line, p.params.get("column")) for p in report.errors}
    assert (ProblemCode.HIDDEN_ROW, 3, None) in found
    assert (ProblemCode.HIDDEN_COLUMN, 1, "I") in found
    assert not report.accepted


def test_a_hidden_empty_row_is_harmless():
    def hide(book):  # type: ignore[no-untyped-def]
        book.active.row_dimensions[5].hidden = True

    report = _parse_book(_book(("Сұрақтар", [_sheet_row("Сұрақ 1", 1, *ABC)]), shape=hide))
    assert report.accepted, report.problems


def test_a_percent_or_date_option_is_refused_rather_than_stored_unlike_what_excel_shows():
    # Excel shows 50% and 16.12.1991; the students were shown 0.5 and 1991-12-16T00:00:00.
    def formats(book):  # type: ignore[no-untyped-def]
        for ref in ("F2", "G2", "H2"):
            book.active[ref].number_format = "0%"

    report = _parse_book(_book(("Сұрақтар", [_sheet_row("Үлесі қандай?", 1, 0.5, 0.25, 0.75)]), shape=formats))
    assert [(p.code, p.line, p.params["column"]) for p in report.errors] == [
        (ProblemCode.FORMATTED_NUMBER, 2, "F"),
        (ProblemCode.FORMATTED_NUMBER, 2, "G"),
        (ProblemCode.FORMATTED_NUMBER, 2, "H"),
    ]
    dates = [dt.date(1991, 12, 16), dt.date(1995, 8, 30), dt.date(1997, 12, 10)]
    report = _parse_book(_book(("Сұрақтар", [_sheet_row("Қашан?", 1, *dates)])))
    assert [p.code for p in report.errors] == [ProblemCode.FORMATTED_NUMBER] * 3


def test_plain_numbers_and_numbers_typed_as_text_are_read_as_shown():
    report = _parse_book(_book(("Сұрақтар", [_sheet_row("Жыл?", 2, 1991, 1995, "1997")])))
    assert report.accepted, report.problems
    assert report.items[0].options == ("1991", "1995", "1997")
    assert report.items[0].correct == 1
