import pytest

from question_bank.formats.detect import BankFormat, detect_format
from question_bank.model import Item
from question_bank.parse import UnknownFormatError, parse_bank
from question_bank.problems import MESSAGES, ProblemCode, Severity


def parse(text: str, **kwargs):
    kwargs.setdefault("language", "kk")
    return parse_bank(text.encode("utf-8"), format="gift", **kwargs)


def located(report):
    return {(p.code, p.line, p.question) for p in report.problems}


def test_a_bank_with_any_error_is_not_accepted_though_its_good_items_are_listed():
    report = parse("Жақсы? {=а ~б ~в ~г ~д}\n\nЖаман? {~а ~б ~в ~г ~д}\n")
    assert not report.accepted
    assert [item.text for item in report.items] == ["Жақсы?"]
    assert (ProblemCode.NO_CORRECT_OPTION, 3, 2) in located(report)


def test_warnings_alone_do_not_block_the_upload():
    report = parse("Сұрақ? {=а ~б ~в}\n")
    assert report.accepted
    assert [p.code for p in report.warnings] == [ProblemCode.FEWER_OPTIONS_THAN_EXPECTED]
    assert report.warnings[0].params == {"count": 3, "expected": 5}


def test_expected_option_count_is_a_parameter():
    assert parse("Сұрақ? {=а ~б ~в}\n", expected_options=3).problems == ()


def test_fewer_than_two_options_is_an_error():
    report = parse_bank("<question>Сұрақ\n<variant>жалғыз\n".encode(), language="kk")
    assert [(p.code, p.line, p.question, p.params) for p in report.errors] == [
        (ProblemCode.TOO_FEW_OPTIONS, 1, 1, {"count": 1})
    ]


def test_duplicate_options_and_case_only_differences_are_told_apart():
    report = parse("Сұрақ? {=Астана ~астана ~Алматы ~Алматы. ~Орал}\n")
    assert {(p.code, p.severity, p.params["first"], p.params["second"]) for p in report.problems} == {
        (ProblemCode.OPTIONS_DIFFER_ONLY_IN_CASE, Severity.WARNING, 1, 2),
        (ProblemCode.DUPLICATE_OPTION, Severity.ERROR, 3, 4),
    }


def test_an_empty_question_text_is_an_error():
    assert (ProblemCode.EMPTY_QUESTION, 1, 1) in located(parse("{=а ~б ~в ~г ~д}\n"))


def test_duplicate_questions_compare_normalised_text_and_name_the_first():
    report = parse("Қазақстан астанасы? {=а ~б ~в ~г ~д}\n\nқазақcтан  АСТАНАСЫ {=а ~б ~в ~г ~д}\n")
    problem = next(p for p in report.errors if p.code is ProblemCode.DUPLICATE_QUESTION)
    assert (problem.line, problem.question, problem.params) == (3, 2, {"other": 1, "other_line": 1})


def test_a_question_already_in_the_bank_being_added_to_is_an_error():
    existing = [Item(text="Қазақстан астанасы?", options=("а", "б"), correct=0)]
    report = parse("Жаңа? {=а ~б ~в ~г ~д}\n\nҚазақстан астанасы {=а ~б ~в ~г ~д}\n", existing=existing)
    assert [(p.code, p.question) for p in report.errors] == [(ProblemCode.DUPLICATE_OF_EXISTING, 2)]


def test_key_always_in_the_same_position_is_a_warning_when_the_format_lets_it_vary():
    bank = "".join(f"Сұрақ {n}? {{~а =б ~в ~г ~д}}\n\n" for n in range(5))
    report = parse(bank)
    assert report.accepted
    assert [(p.code, p.params) for p in report.warnings] == [(ProblemCode.KEY_ALWAYS_SAME_POSITION, {"position": 2})]
    assert ProblemCode.KEY_ALWAYS_SAME_POSITION not in {
        p.code for p in parse(bank.replace("Сұрақ 4? {~а =б", "Сұрақ 4? {=а ~б")).problems
    }


def test_topic_and_difficulty_defaults_fill_what_the_file_does_not_carry():
    report = parse("$CATEGORY: Файлдағы\n\nБір? {=а ~б ~в ~г ~д}\n", default_topic="Әдепкі", default_difficulty=2)
    assert (report.items[0].topic, report.items[0].difficulty) == ("Файлдағы", 2)
    report = parse("Бір? {=а ~б ~в ~г ~д}\n", default_topic="Әдепкі", default_difficulty=2)
    assert (report.items[0].topic, report.items[0].difficulty) == ("Әдепкі", 2)


def test_an_empty_file_has_no_questions():
    assert [p.code for p in parse_bank(b"", format="platonus", language="kk").errors] == [ProblemCode.NO_QUESTIONS]


def test_an_unknown_explicit_format_is_a_usage_error():
    with pytest.raises(UnknownFormatError) as raised:
        parse_bank(b"x", format="pdf", language="kk")
    assert raised.value.code == "unknown_format"
    assert "gift" in raised.value.params["known"]


def test_unrecognisable_content_is_reported_not_guessed():
    report = parse_bank(b"just some notes\nnothing else\n", filename="notes.md", language="kk")
    assert [p.code for p in report.errors] == [ProblemCode.FORMAT_NOT_RECOGNISED]


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        (b"<question>Q\n<variant>a\n", None, BankFormat.PLATONUS),
        (b"::t:: Q {=a ~b}\n", None, BankFormat.GIFT),
        (b"Q?\nA. a\nB. b\nANSWER: A\n", None, BankFormat.AIKEN),
        (b'<?xml version="1.0"?>\n<quiz></quiz>', None, BankFormat.MOODLE_XML),
        (b"plain words", "bank.txt", BankFormat.PLATONUS),
        (b"plain words", "bank.gift", BankFormat.GIFT),
        (b"plain words", None, None),
    ],
)
def test_format_is_detected_from_content_and_file_name(content, filename, expected):
    assert detect_format(content, filename) is expected


def test_every_problem_code_has_a_message_and_the_report_serialises():
    assert set(MESSAGES) == set(ProblemCode)
    report = parse("Сұрақ? {=а ~б ~в}\n")
    as_dict = report.to_dict()
    assert as_dict["counts"] == {"questions": 1, "valid": 1, "errors": 0, "warnings": 1}
    assert as_dict["warnings"][0]["code"] == "fewer_options_than_expected"
    assert as_dict["warnings"][0]["line"] == 1
