from question_bank.formats.detect import BankFormat
from question_bank.parse import parse_bank
from question_bank.problems import ProblemCode


def parse(text: str, **kwargs):
    kwargs.setdefault("language", "ru")
    return parse_bank(text.encode("utf-8"), **kwargs)


def test_equals_marks_the_key_and_tilde_the_distractors_in_gift():
    report = parse("::Q1:: Столица Казахстана? {~Алматы =Астана ~Шымкент ~Караганда ~Актобе}\n")
    assert report.format is BankFormat.GIFT
    assert report.accepted, report.problems
    item = report.items[0]
    assert item.text == "Столица Казахстана?"
    assert item.correct == 1 and item.options[1] == "Астана"


def test_category_sets_the_topic_without_moodle_path_prefixes():
    report = parse(
        "$CATEGORY: $course$/top/Уголовное право\n\nВопрос? {=а ~б ~в ~г ~д}\n\n$CATEGORY: Конституция\n\nДругой? {=а ~б ~в ~г ~д}\n"
    )
    assert [item.topic for item in report.items] == ["Уголовное право", "Конституция"]


def test_backslash_escapes_become_literal_characters():
    report = parse(r"Сколько будет 2\=2\: \{да\} \# \~ \\? {=верно\: 4 ~неверно \= 5 ~в ~г ~д}" + "\n")
    item = report.items[0]
    assert item.text == "Сколько будет 2=2: {да} # ~ \\?"
    assert item.options[:2] == ("верно: 4", "неверно = 5")


def test_answers_over_several_lines_with_feedback_and_comments():
    text = "// банк по праву\n// difficulty: 2\n::Q::Вопрос\nв две строки {\n=да #молодец\n~нет #увы\n~может быть\n~иногда\n~никогда\n}\n"
    report = parse(text)
    item = report.items[0]
    assert item.text == "Вопрос\nв две строки"
    assert item.options == ("да", "нет", "может быть", "иногда", "никогда")
    assert item.difficulty == 2
    assert item.source_line == 3


def test_other_gift_question_types_are_refused_by_name():
    text = "Эссе {}\n\nДа или нет {T}\n\nЧисло {#3}\n\nСлово {=Астана}\n\nПары {=а -> б =в -> г}\n"
    kinds = [p.params["kind"] for p in parse(text).errors if p.code is ProblemCode.UNSUPPORTED_QUESTION_TYPE]
    assert kinds == ["essay", "true/false", "numerical", "short answer", "matching"]


def test_partial_credit_and_several_keys_are_errors():
    report = parse("Вопрос? {~%50%а ~%50%б ~в ~г ~д}\n\nДругой? {=а =б ~в ~г ~д}\n")
    found = {(p.code, p.question) for p in report.errors}
    assert (ProblemCode.PARTIAL_CREDIT, 1) in found
    assert (ProblemCode.SEVERAL_CORRECT_OPTIONS, 2) in found


def test_full_weight_tilde_is_the_key():
    report = parse("Вопрос? {~%100%а ~%0%б ~в ~г ~д}\n")
    assert report.items[0].correct == 0


def test_a_brace_never_closed_is_a_syntax_error_and_stray_text_is_reported():
    report = parse("Просто строка без вопроса\n\nВопрос? {=а ~б\n")
    found = {(p.code, p.line) for p in report.errors}
    assert (ProblemCode.TEXT_OUTSIDE_QUESTION, 1) in found
    assert (ProblemCode.UNCLOSED_ANSWERS, 3) in found


def test_a_category_line_right_after_a_question_starts_a_new_topic():
    report = parse("$CATEGORY: Бір\nВопрос? {=а ~б ~в ~г ~д}\n$CATEGORY: Екі\nДругой? {=а ~б ~в ~г ~д}\n")
    assert [(item.text, item.topic) for item in report.items] == [("Вопрос?", "Бір"), ("Другой?", "Екі")]


def test_two_questions_without_a_blank_line_between_them_are_a_syntax_error():
    report = parse("Бір? {=а ~б ~в ~г ~д}\nЕкі? {=а ~б ~в ~г ~д}\n")
    assert [(p.code, p.line, p.question) for p in report.errors] == [(ProblemCode.MISSING_BLANK_LINE, 1, 1)]


def test_text_before_the_first_answer_marker_is_unexpected():
    report = parse("Сұрақ? {мұнда =а ~б ~в ~г ~д}\n")
    assert [(p.code, p.params["detail"]) for p in report.errors] == [(ProblemCode.SYNTAX_ERROR, "мұнда")]
