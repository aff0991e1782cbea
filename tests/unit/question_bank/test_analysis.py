import io
import random

import numpy as np
import openpyxl
import pytest

from question_bank.analysis import Flag, analyse_items
from question_bank.analysis_xlsx import ITEM_HEADERS, analysis_xlsx


def simulated(n_attempts=300, n_items=12, seed=3):
    """Students of varying ability answering items keyed at option 0."""
    rng = random.Random(seed)
    key = {f"q{j}": 0 for j in range(n_items)}
    responses = []
    for _ in range(n_attempts):
        ability = rng.random()
        responses.append({item: 0 if rng.random() < ability else rng.randint(1, 3) for item in key})
    return responses, key


def test_difficulty_is_the_share_correct_and_options_are_counted():
    responses = [{"q": 0}, {"q": 1}, {"q": None}, {"q": 0}]
    stats = analyse_items(responses, {"q": 0}, option_counts={"q": 4}).items[0]
    assert stats.difficulty == pytest.approx(0.5)
    assert stats.option_counts == (2, 1, 0, 0)
    assert stats.omitted == 1 and stats.attempts == 4


def test_discrimination_is_the_item_rest_correlation():
    responses, key = simulated()
    analysis = analyse_items(responses, key)
    scores = np.array([[1.0 if r[i] == 0 else 0.0 for i in key] for r in responses])
    rest = scores.sum(axis=1) - scores[:, 0]
    assert analysis.items[0].discrimination == pytest.approx(np.corrcoef(scores[:, 0], rest)[0, 1])
    assert all(s.discrimination > 0.2 for s in analysis.items)


def test_kr20_matches_the_textbook_formula_on_a_full_form():
    responses, key = simulated()
    scores = np.array([[1.0 if r[i] == 0 else 0.0 for i in key] for r in responses])
    p = scores.mean(axis=0)
    k = scores.shape[1]
    expected = k / (k - 1) * (1 - (p * (1 - p)).sum() / scores.sum(axis=1).var())
    assert analyse_items(responses, key).kr20 == pytest.approx(expected)


def test_an_item_whose_strong_students_prefer_a_distractor_is_flagged_miskeyed():
    responses, key = simulated()
    key["q0"] = 2  # the bank says option 2, the strong students say option 0
    stats = analyse_items(responses, key).items[0]
    assert stats.miskeyed and Flag.MISKEYED in stats.flags
    assert stats.upper_counts[0] > stats.upper_counts[2]
    assert not analyse_items(responses, {**key, "q0": 0}).items[0].miskeyed


def test_items_nobody_or_everybody_gets_right_or_that_discriminate_negatively_are_useless():
    responses, key = simulated()
    for r in responses:
        r["easy"], r["hard"] = 0, 1
        total = sum(1 for item in key if r[item] == 0)
        r["reverse"] = 0 if total < 6 else 1
    key.update(easy=0, hard=0, reverse=0)
    stats = {s.item_id: s for s in analyse_items(responses, key).items}
    assert stats["easy"].flags == (Flag.EVERYBODY_CORRECT,) and stats["easy"].useless
    assert Flag.NOBODY_CORRECT in stats["hard"].flags
    assert Flag.NEGATIVE_DISCRIMINATION in stats["reverse"].flags
    assert not stats["q1"].useless


def test_items_not_presented_to_an_attempt_do_not_count_against_it():
    responses = [{"a": 0, "b": 0}, {"a": 1, "c": 0}, {"b": 1, "c": 1}, {"a": 0, "b": 0}]
    analysis = analyse_items(responses, {"a": 0, "b": 0, "c": 0})
    assert [s.attempts for s in analysis.items] == [3, 3, 2]
    assert analysis.items[2].difficulty == pytest.approx(0.5)
    assert analysis.attempts == 4


def test_a_choice_outside_the_options_is_rejected():
    with pytest.raises(ValueError):
        analyse_items([{"q": 5}], {"q": 0}, option_counts={"q": 4})


def test_the_analysis_exports_to_a_spreadsheet_with_translated_headers():
    responses, key = simulated(n_attempts=50, n_items=4)
    key["q0"] = 2
    data = analysis_xlsx(
        analyse_items(responses, key, option_counts=dict.fromkeys(key, 4)),
        labels={"q0": "Бірінші сұрақ"},
        translate=lambda m: "ru:" + m,
    )
    book = openpyxl.load_workbook(io.BytesIO(data))
    items, summary = book.worksheets
    rows = list(items.iter_rows(values_only=True))
    assert rows[0][: len(ITEM_HEADERS)] == tuple("ru:" + h for h in ITEM_HEADERS)
    assert rows[0][-1] == "ru:Option 4"
    assert rows[1][:2] == ("q0", "Бірінші сұрақ") and rows[1][5] == 3
    assert rows[1][7].startswith("ru:Possibly miskeyed")
    assert len(rows) == 5
    assert [r[0] for r in summary.iter_rows(values_only=True)] == [
        "ru:Attempts",
        "ru:Items",
        "ru:Mean score",
        "ru:Standard deviation",
        "ru:KR-20",
    ]
