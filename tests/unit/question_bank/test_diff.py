from question_bank.diff import diff_items
from question_bank.model import Item


def item(text, options=("а", "б", "в"), correct=0, **kw):
    return Item(text=text, options=tuple(options), correct=correct, **kw)


def test_added_removed_and_unchanged_questions_are_told_apart():
    old = [item("Бір"), item("Екі"), item("Үш")]
    new = [item("Бір"), item("Үш"), item("Төрт")]
    diff = diff_items(old, new)
    assert [i.text for i in diff.added] == ["Төрт"]
    assert [i.text for i in diff.removed] == ["Екі"]
    assert diff.changed == () and diff.unchanged == 2


def test_a_question_matched_by_normalised_text_reports_what_changed():
    old = [item("Қазақстан астанасы?", correct=0, topic="Тарих", difficulty=1)]
    new = [item("қазақстан астанасы", options=("б", "а", "г"), correct=1, topic="География", difficulty=1)]
    (change,) = diff_items(old, new).changed
    assert change.fields == ("text", "options", "topic")
    assert change.old is old[0] and change.new is new[0]


def test_reordering_options_is_no_change_but_a_new_key_is():
    old = [item("Бір", options=("а", "б", "в"), correct=0)]
    assert diff_items(old, [item("Бір", options=("в", "а", "б"), correct=1)]).is_empty
    (change,) = diff_items(old, [item("Бір", options=("а", "б", "в"), correct=2)]).changed
    assert change.fields == ("key",)
