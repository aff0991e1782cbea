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


def test_a_question_without_answer_line_is_unfinished_at_its_lines():
    report = parse_bank(b"Question?\nA. one\nB. two\n", language="kk", format="aiken")
    assert [(p.code, p.line, p.params) for p in report.errors] == [
        (ProblemCode.QUESTION_NOT_FINISHED, 1, {"first": 1, "last": 3})
    ]


def _six_questions() -> list[str]:
    lines: list[str] = []
    for n in range(1, 7):
        lines += [
            f"Сұрақ {n}?",
            f"A. бірінші {n}",
            f"B. екінші {n}",
            f"C. үшінші {n}",
            f"D. төртінші {n}",
            f"E. бесінші {n}",
            "ANSWER: B",
            "",
        ]
    return lines


def test_a_lost_answer_line_is_an_error_naming_the_unfinished_question():
    lines = _six_questions()
    third = lines.index("Сұрақ 3?")  # 0-based; the question is on lines third+1 … third+6
    del lines[third + 6]
    report = parse_bank("\n".join(lines).encode(), language="kk", format="aiken")
    assert not report.accepted
    assert report.questions_found == 6
    [error] = report.errors
    assert error.code is ProblemCode.QUESTION_NOT_FINISHED
    assert (error.line, error.question, error.params) == (third + 1, 3, {"first": third + 1, "last": third + 6})
    # The fourth question is read on its own, with its own key — not glued to option E.
    assert not any("Сұрақ 4" in o for item in report.items for o in item.options)
    assert [item.text for item in report.items][2] == "Сұрақ 4?"


def test_moodle_error_fixture_is_reported_at_its_lines():
    # question/format/aiken/tests/fixtures/aiken_errors.txt of Moodle
    text = (
        "A question with too few answers\nA) Only answer\nANSWER: A\n\nA) Question not started\n\n"
        "ANSWER: Question not started\n\nA good question\nA) Correct\nB) Incorrect\nANSWER: A\n\n"
        "A question started but not finished\nA) Correct-ish\nB) Incorrect-ish\n\n"
        "A second good question\nA)Incorrect (No space)\nB)Correct (No space)\nANSWER: B"
    )
    report = parse_bank(text.encode(), language="ru", format="aiken")
    found = {(p.code, p.line) for p in report.errors}
    assert found == {
        (ProblemCode.TOO_FEW_OPTIONS, 1),
        (ProblemCode.TEXT_OUTSIDE_QUESTION, 5),
        (ProblemCode.TEXT_OUTSIDE_QUESTION, 7),
        (ProblemCode.QUESTION_NOT_FINISHED, 14),
    }
    unfinished = next(p for p in report.errors if p.code is ProblemCode.QUESTION_NOT_FINISHED)
    assert unfinished.params == {"first": 14, "last": 16}
    assert [(i.text, i.options[i.correct]) for i in report.items] == [
        ("A good question", "Correct"),
        ("A second good question", "Correct (No space)"),
    ]


def test_a_repeated_option_letter_is_an_error_at_its_line():
    report = parse_bank(b"Q1?\nA. a\nB. b\nQ2?\nA. c\nB. d\nANSWER: A\n", language="kk", format="aiken")
    assert [(p.code, p.line) for p in report.errors] == [(ProblemCode.OPTION_LETTER_REPEATED, 5)]
