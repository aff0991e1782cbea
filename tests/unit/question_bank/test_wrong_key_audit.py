"""Audit: the key a clerk typed is read as the option they meant, or refused with its row and why — never
read as a different option; and an Office file that cannot be read says what to do (kk/ru).

Every file is built here the way clerks make them (python-docx, openpyxl).
"""

from __future__ import annotations

import io

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from exam_engine.services.bank_views import problem_message
from question_bank.export import export_gift, export_platonus
from question_bank.formats.detect import OLE_MAGIC
from question_bank.parse import parse_bank
from question_bank.problems import ProblemCode
from tests.unit.question_bank.builders import xlsx_bytes

OPTIONS = ("Астана", "Алматы", "Қызылорда", "Шымкент", "Ақтөбе", "Орал")


def _row(key: object, options: tuple[str, ...] = OPTIONS, question: str = "Қай қала астана?") -> list[object]:
    return ["", "", "", question, key, *options]


def _sheet(*rows: list[object]):  # type: ignore[no-untyped-def]
    return parse_bank(xlsx_bytes(rows), filename="bank.xlsx", language="kk")


@pytest.mark.parametrize(
    ("typed", "option"),
    [
        ("B", 2),
        ("b", 2),
        ("B ", 2),
        (" b.", 2),
        ("2.", 2),
        ("2)", 2),
        ("А", 1),  # Cyrillic А: first in every order
        ("а", 1),
        ("С", 3),  # Cyrillic С can only be the Latin C (the 18th letter in the alphabets)
        ("с ", 3),
        ("E", 5),
        ("F", 6),
    ],
)
def test_a_key_letter_as_typed_is_read_as_the_option_meant(typed, option):  # type: ignore[no-untyped-def]
    report = _sheet(_row(typed))
    assert report.accepted, [p.code for p in report.errors]
    assert report.items[0].correct == option - 1
    assert report.items[0].options[report.items[0].correct] == OPTIONS[option - 1]


@pytest.mark.parametrize(("typed", "latin"), [("В", 2), ("в", 2), ("Е", 5), ("е.", 5)])
def test_a_cyrillic_key_letter_whose_place_differs_is_refused_not_guessed(typed, latin):  # type: ignore[no-untyped-def]
    # Cyrillic В looks like the Latin B (option 2), but a clerk lettering options А, Б, В, Г means
    # option 3 by it (Kazakh А, Ә, Б, В: option 4). It was read as option 2 — maybe a wrong key.
    report = _sheet(_row("1"), _row(typed, question="Екінші сұрақ?"))
    assert not report.accepted
    [found] = report.errors
    assert (found.code, found.line, found.question, found.params["latin"]) == (
        ProblemCode.AMBIGUOUS_KEY_LETTER,
        3,
        2,
        latin,
    )
    assert problem_message("ru", found, report.format).startswith(
        f"Строка 3, вопрос 2: Правильный ответ «{typed.rstrip('.')}»"
    )
    assert "кирилл әрпі" in problem_message("kk", found, report.format)


@pytest.mark.parametrize("typed", ["Астана", "G", "7", "0", "Б", ""])
def test_a_key_that_names_no_option_is_refused_with_its_row(typed):  # type: ignore[no-untyped-def]
    report = _sheet(_row("A"), _row(typed, options=OPTIONS[:5], question="Екінші сұрақ?"))
    assert not report.accepted
    assert [(p.code, p.line, p.question) for p in report.errors] in (
        [(ProblemCode.INVALID_KEY, 3, 2)],
        [(ProblemCode.NO_CORRECT_OPTION, 3, 2)],  # an empty key cell
    )


def test_two_options_given_as_the_key_are_refused():
    report = _sheet(_row("1, 3"))
    assert [(p.code, p.line) for p in report.errors] == [(ProblemCode.SEVERAL_CORRECT_OPTIONS, 2)]


def test_two_identical_options_and_an_empty_option_are_refused():
    report = _sheet(_row("1", ("Астана", "Алматы", "Астана ")), _row("1", ("Астана", "", "Алматы"), "Екінші?"))
    assert {(p.code, p.line) for p in report.errors} == {
        (ProblemCode.DUPLICATE_OPTION, 2),
        (ProblemCode.EMPTY_OPTION, 3),
    }


def test_the_same_question_twice_in_one_bank_is_refused():
    report = _sheet(_row("1"), _row("2", question="Қай қала  астана?"))
    assert [(p.code, p.line) for p in report.errors] == [(ProblemCode.DUPLICATE_QUESTION, 3)]


# --- Word ----------------------------------------------------------------------------------------


def _docx(document: docx.document.Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _numbered(paragraph, num_id: str, level: str) -> None:  # type: ignore[no-untyped-def]
    numbering = OxmlElement("w:numPr")
    ilvl, num = OxmlElement("w:ilvl"), OxmlElement("w:numId")
    ilvl.set(qn("w:val"), level)
    num.set(qn("w:val"), num_id)
    numbering.extend([ilvl, num])
    paragraph._p.get_or_add_pPr().append(numbering)


def test_options_lettered_by_word_keep_their_order_and_the_first_stays_the_key():
    # Word shows "a) Астана b) Алматы c) Қызылорда": the letters are numbering, not text.
    document = docx.Document()
    document.add_paragraph("<question>Қай қала астана?")
    for text in ("<variant>Астана", "<variant>Алматы", "<variant>Қызылорда"):
        _numbered(document.add_paragraph(text), "3", "1")
    report = parse_bank(_docx(document), filename="bank.docx", language="kk")
    assert report.accepted, report.problems
    assert report.items[0].options == ("Астана", "Алматы", "Қызылорда")
    assert report.items[0].correct == 0


def test_a_soft_line_break_inside_an_option_does_not_split_it():
    document = docx.Document()
    document.add_paragraph("<question>Қай қала астана?")
    first = document.add_paragraph("<variant>Астана")
    first.runs[0].add_break()
    first.add_run("(1997 жылдан)")
    document.add_paragraph("<variant>Алматы")
    document.add_paragraph("<variant>Қызылорда")
    report = parse_bank(_docx(document), filename="bank.docx", language="kk")
    assert report.accepted, report.problems
    assert report.items[0].options == ("Астана\n(1997 жылдан)", "Алматы", "Қызылорда")
    assert report.items[0].correct == 0


KAZAKH = "әіңғүұқөһ ӘІҢҒҮҰҚӨҺ"


def test_kazakh_letters_are_kept_byte_exact_through_import_and_export():
    document = docx.Document()
    for text in (f"<question>Әріптер: {KAZAKH}?", f"<variant>{KAZAKH}", "<variant>Басқа", "<variant>Үшінші"):
        document.add_paragraph(text)
    report = parse_bank(_docx(document), filename="bank.docx", language="kk")
    assert report.accepted, report.problems
    assert report.items[0].options[0].encode() == KAZAKH.encode()
    assert report.items[0].text.encode() == f"Әріптер: {KAZAKH}?".encode()
    for exported, name in ((export_platonus(report.items), "b.txt"), (export_gift(report.items), "b.gift")):
        again = parse_bank(exported.encode("utf-8"), filename=name, language="kk")
        assert again.accepted, again.problems
        assert again.items[0].options[0].encode() == KAZAKH.encode()
        assert again.items[0].text.encode() == report.items[0].text.encode()


# --- files Word or Excel cannot give us ----------------------------------------------------------


def _only(data: bytes, name: str, **kw: str):  # type: ignore[no-untyped-def]
    report = parse_bank(data, filename=name, language="kk", **kw)
    assert not report.accepted and not report.items
    [found] = report.errors
    return found, problem_message("ru", found, None), problem_message("kk", found, None)


def test_an_old_doc_or_xls_says_save_as_docx_xlsx():
    found, ru, kk = _only(OLE_MAGIC + b"\0" * 1000, "bank.doc")
    assert found.code is ProblemCode.LEGACY_OFFICE_FILE
    assert ".docx" in ru and "сохраните" in ru and ".docx" in kk


@pytest.mark.parametrize("fmt", [None, "platonus-docx", "xlsx"])
def test_a_password_protected_file_says_remove_the_password(fmt):  # type: ignore[no-untyped-def]
    # Office writes a password-protected .docx/.xlsx as an OLE file with an EncryptedPackage stream.
    data = OLE_MAGIC + b"\0" * 200 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 800
    kw = {"format": fmt} if fmt else {}
    found, ru, kk = _only(data, "bank.docx", **kw)
    assert found.code is ProblemCode.PASSWORD_PROTECTED
    assert "паролем" in ru and "снимите пароль" in ru and "құпиясөз" in kk


@pytest.mark.parametrize(
    ("data", "name", "fmt"),
    [
        (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "bank.docx", None),
        (b"{\\rtf1\\ansi <question>\\par}", "bank.docx", None),
        (b"<html><body>&lt;question&gt;</body></html>", "bank.doc", None),
        (b"PK\x03\x04" + b"\0" * 40, "bank.xlsx", None),
        (b"%PDF-1.4\n", "bank.bin", "xlsx"),
    ],
)
def test_a_docx_or_xlsx_that_is_something_else_says_save_it_again(data, name, fmt):  # type: ignore[no-untyped-def]
    kw = {"format": fmt} if fmt else {}
    found, ru, kk = _only(data, name, **kw)
    assert found.code is ProblemCode.NOT_AN_OFFICE_FILE
    assert "Сохранить как" in ru and "Басқаша сақтау" in kk
    assert not any(word in ru for word in ("zip", "File is not", "archive"))


def test_an_unreadable_file_says_where_and_what_to_do_without_the_parsers_english():
    broken = b'<?xml version="1.0"?>\n<quiz>\n<question type="multichoice"><name><text>x</name></question></quiz>'
    report = parse_bank(broken, format="moodle-xml", language="ru")
    [found] = report.errors
    assert found.code is ProblemCode.UNREADABLE_FILE and found.params["reason"]  # kept for the API and the logs
    ru, kk = problem_message("ru", found, report.format), problem_message("kk", found, report.format)
    assert ru.startswith("Строка 3: Файл не удаётся прочитать как Moodle XML") and "сохраните заново" in ru
    assert kk.startswith("3-жол:") and "қайта сақтаңыз" in kk
    assert found.params["reason"] not in ru and "mismatched" not in ru + kk


@pytest.mark.parametrize(("typed", "option"), [("B", 1), ("b", 1), ("B.", 1), ("b )", 1), ("В", 1)])
def test_an_aiken_answer_as_typed_names_the_lettered_option(typed, option):  # type: ignore[no-untyped-def]
    text = f"Қай қала астана?\nA) Алматы\nB) Астана\nC) Шымкент\nANSWER: {typed}\n"
    report = parse_bank(text.encode(), format="aiken", language="kk")
    assert report.accepted, report.problems
    assert report.items[0].options[report.items[0].correct] == "Астана"


def test_an_aiken_answer_with_cyrillic_letters_follows_the_files_own_lettering():
    # Options lettered А) Б) В): the answer В is the third option (the letter as written), never the Latin B's place.
    text = "Қай қала астана?\nА) Алматы\nБ) Шымкент\nВ) Астана\nANSWER: В\n"
    report = parse_bank(text.encode(), format="aiken", language="kk")
    assert report.accepted and report.items[0].options[report.items[0].correct] == "Астана"
    wrong = parse_bank(text.replace("ANSWER: В", "ANSWER: Г").encode(), format="aiken", language="kk")
    assert [(p.code, p.question) for p in wrong.errors] == [(ProblemCode.INVALID_KEY, 1)]
