"""Journal cells: a score 0–100 or one of the configured attendance marks (J3)."""

import pytest

from journal_bridge.errors import CellInvalid, MarkSetInvalid
from journal_bridge.marks import DEFAULT_MARKS, Cell, MarkSet, current_control, parse_cell


@pytest.mark.parametrize(
    ("typed", "cell"),
    [
        ("85", Cell(score=85)),
        (" 0 ", Cell(score=0)),
        ("100", Cell(score=100)),
        ("ж", Cell(mark="duty")),
        ("а", Cell(mark="ill")),
        ("a", Cell(mark="ill")),  # Latin "a" typed on the wrong layout
        ("ДС", Cell(mark="unexcused")),
        ("д", Cell(mark="leave")),
        ("қ", Cell(mark="absent")),
        ("нб", Cell(mark="absent")),
        ("ill", Cell(mark="ill")),
    ],
)
def test_a_teacher_types_a_score_or_a_mark(typed, cell):
    assert parse_cell(typed) == cell


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "cell_empty"),
        ("   ", "cell_empty"),
        ("101", "cell_out_of_range"),
        ("-5", "cell_out_of_range"),
        ("85.5", "cell_not_integer"),
        ("8 5", "cell_not_integer"),
        ("x", "mark_unknown"),
        ("к", "mark_unknown"),
    ],
)
def test_anything_else_is_refused_with_a_precise_error(typed, code):
    with pytest.raises(CellInvalid) as error:
        parse_cell(typed)
    assert error.value.code == code


def test_an_unknown_mark_error_lists_the_allowed_marks():
    with pytest.raises(CellInvalid) as error:
        parse_cell("x")
    assert error.value.params["allowed"] == "ж, а, дс, д, қ"


def test_cells_show_the_regulation_symbol_and_labels_exist_in_both_languages():
    assert Cell(mark="unexcused").display("ru") == "дс"
    assert DEFAULT_MARKS.get("ill").label("kk") == "ауру" and DEFAULT_MARKS.get("ill").label("ru") == "болезнь"


def test_a_cell_holds_exactly_one_of_score_and_mark():
    for bad in (dict(), dict(score=5, mark="ill"), dict(score=101)):
        with pytest.raises(CellInvalid):
            Cell(**bad)


def test_an_institution_can_configure_its_own_marks():
    marks = MarkSet.from_dict(
        {
            "marks": [
                {"code": "ill", "symbol_kk": "а", "symbol_ru": "б", "label_kk": "ауру", "label_ru": "болезнь"},
                {
                    "code": "unexcused",
                    "symbol_kk": "дс",
                    "symbol_ru": "нп",
                    "label_kk": "дәлелсіз себеп",
                    "label_ru": "неуважительная причина",
                    "score_equivalent": 0,
                },
            ]
        }
    )
    assert parse_cell("нп", marks) == Cell(mark="unexcused")
    with pytest.raises(CellInvalid):
        parse_cell("ж", marks)
    # an unexcused absence counts as 0 in this institution's current control, illness does not count
    cells = [Cell(score=90), Cell(mark="unexcused"), Cell(mark="ill"), Cell(score=81)]
    assert current_control(cells, marks) == 57  # (90 + 0 + 81) / 3
    assert current_control(cells[:1] + cells[2:]) == 86  # default marks never count: 85.5 → 86


def test_a_mark_set_where_one_alias_means_two_marks_is_refused():
    with pytest.raises(MarkSetInvalid) as error:
        MarkSet.from_dict(
            {
                "marks": [
                    {"code": "ill", "symbol_kk": "а", "symbol_ru": "б", "label_kk": "ауру", "label_ru": "болезнь"},
                    {"code": "away", "symbol_kk": "б", "symbol_ru": "б", "label_kk": "жоқ", "label_ru": "нет"},
                ]
            }
        )
    assert (error.value.code, error.value.params["alias"]) == ("mark_alias_clash", "б")


def test_current_control_is_none_before_any_score():
    assert current_control([Cell(mark="ill")]) is None
