from question_bank.formats.detect import BankFormat
from question_bank.parse import parse_bank
from question_bank.problems import ProblemCode

AIKEN = """Қазақстанның астанасы қай қала?
A. Алматы
B. Астана
C) Шымкент
D. Қостанай
E. Орал
ANSWER: B

Екінші сұрақ?
А) бір
Б) екі
В) үш
Г) төрт
Д) бес
ANSWER: В
"""


def test_aiken_letters_name_the_key():
    report = parse_bank(AIKEN.encode(), language="kk")
    assert report.format is BankFormat.AIKEN
    assert report.accepted, report.problems
    assert [(item.correct, item.options[item.correct]) for item in report.items] == [(1, "Астана"), (2, "үш")]


def test_an_answer_letter_naming_no_option_is_invalid():
    report = parse_bank(b"Question?\nA. one\nB. two\nANSWER: Z\n", language="kk", format="aiken")
    problem = next(p for p in report.errors if p.code is ProblemCode.INVALID_KEY)
    assert (problem.line, problem.question, problem.params["key"]) == (4, 1, "Z")


def test_a_question_without_answer_line_has_no_correct_option():
    report = parse_bank(b"Question?\nA. one\nB. two\n", language="kk", format="aiken")
    assert [p.code for p in report.errors] == [ProblemCode.NO_CORRECT_OPTION]
