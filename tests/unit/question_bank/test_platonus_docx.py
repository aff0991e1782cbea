from question_bank.formats.detect import BankFormat
from question_bank.parse import parse_bank
from question_bank.problems import ProblemCode
from tests.unit.question_bank.builders import docx_bytes

FIVE = ["<variant>дұрыс", "<variant>екі", "<variant>үш", "<variant>төрт", "<variant>бес"]


def test_a_word_file_in_platonus_markup_is_detected_and_parsed():
    data = docx_bytes(
        [
            "<question2>Қазақстан Конституциясы қашан қабылданды?",
            *FIVE,
            "",
            "<question>Екінші сұрақ",
            "<variant>а",
            "<variantright>б",
            "<variant>в",
            "<variant>г",
            "<variant>д",
        ]
    )
    report = parse_bank(data, filename="bank.docx", language="kk")
    assert report.format is BankFormat.PLATONUS_DOCX
    assert report.accepted, report.problems
    assert [(i.difficulty, i.correct, i.source_line) for i in report.items] == [(2, 0, 1), (None, 1, 8)]


def test_problems_in_a_word_file_are_located_by_paragraph_number():
    data = docx_bytes(
        ["Тест тапсырмалары", "<question>Сұрақ", "<variant>а", "<variant>", "<variant>б", "<variant>в", "<variant>г"]
    )
    report = parse_bank(data, language="kk")
    located = {(p.code, p.line, p.question) for p in report.errors}
    assert (ProblemCode.TEXT_OUTSIDE_QUESTION, 1, None) in located
    assert (ProblemCode.EMPTY_OPTION, 4, 1) in located


def test_questions_inside_a_word_table_are_read_in_order():
    data = docx_bytes(
        ["<question>Бірінші", *FIVE],
        table_rows=[["<question>Екінші\n<variant>а\n<variant>ә\n<variant>б\n<variant>в\n<variant>г"]],
    )
    report = parse_bank(data, language="kk")
    assert [item.text for item in report.items] == ["Бірінші", "Екінші"]


def test_a_picture_in_a_question_is_reported_not_silently_dropped():
    data = docx_bytes(["<question>Суреттегі белгі нені білдіреді?", *FIVE], picture_after=1)
    report = parse_bank(data, language="kk")
    problem = next(p for p in report.errors if p.code is ProblemCode.UNSUPPORTED_CONTENT)
    assert (problem.line, problem.question) == (1, 1)


def test_a_corrupt_word_file_is_reported_as_not_a_word_file():
    # (was unreadable_file with zipfile's English reason "File is not a zip file" on the page)
    report = parse_bank(b"PK\x03\x04 not really a zip", format="docx", language="kk")
    assert [(p.code, p.params) for p in report.errors] == [(ProblemCode.NOT_AN_OFFICE_FILE, {"ext": "docx"})]


def test_an_old_binary_doc_file_asks_for_docx():
    report = parse_bank(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, filename="bank.doc", language="kk")
    assert [p.code for p in report.errors] == [ProblemCode.LEGACY_OFFICE_FILE]
