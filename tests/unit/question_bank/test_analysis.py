import io
import random

import numpy as np
import openpyxl
import pytest

from question_bank.analysis import MIN_ATTEMPTS_FOR_RELIABILITY, Flag, analyse_items
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


# A worked example computed here by the textbook formulas (no published source; see the Wuensch
# example below for a published KR-20): 10 students, 5 items, 1 = right (option 0), 0 = wrong (option 1).
#
#            i1 i2 i3 i4 i5 | total
#   s1        1  1  1  1  1 |  5
#   s2        1  1  1  1  0 |  4
#   s3        1  1  1  0  1 |  4
#   s4        1  1  0  1  0 |  3
#   s5        1  1  1  0  0 |  3
#   s6        1  0  1  0  0 |  2
#   s7        1  1  0  0  0 |  2
#   s8        1  0  0  0  0 |  1
#   s9        0  1  0  0  0 |  1
#   s10       0  0  0  0  0 |  0
#
# p (share right) = 8/10, 7/10, 5/10, 3/10, 2/10 = .8 .7 .5 .3 .2
# p*q = .16 + .21 + .25 + .21 + .16 = 0.99
# totals: mean 25/10 = 2.5; squared deviations 6.25 2.25 2.25 .25 .25 .25 .25 2.25 2.25 6.25
#   sum 22.5, population variance 22.5/10 = 2.25 (the same denominator n = 10 as p*q)
# KR-20 = k/(k-1) * (1 - sum(pq)/var) = 5/4 * (1 - 0.99/2.25) = 1.25 * (1 - 0.44) = 1.25 * 0.56 = 0.70
#
# Corrected item-total (item-rest) correlation r = cov(x, rest) / sqrt(var x * var rest), rest = total - x:
# i1: rest = 4 3 3 2 2 1 1 0 1 0, mean 17/10 = 1.7; mean(x*rest) = (4+3+3+2+2+1+1+0)/10 = 1.6
#     cov = 1.6 - .8*1.7 = 0.24; var x = .16; var rest = 45/10 - 1.7² = 4.5 - 2.89 = 1.61
#     r = 0.24 / sqrt(.16*1.61) = 0.24 / 0.50754 = 0.47287
# i2: rest = 4 3 3 2 2 2 1 1 0 0, mean 1.8; mean(x*rest) = (4+3+3+2+2+1+0)/10 = 1.5
#     cov = 1.5 - .7*1.8 = 0.24; var x = .21; var rest = 48/10 - 3.24 = 1.56
#     r = 0.24 / sqrt(.21*1.56) = 0.24 / 0.57236 = 0.41931
# i3: rest = 4 3 3 3 2 1 2 1 1 0, mean 2.0; mean(x*rest) = (4+3+3+2+1)/10 = 1.3
#     cov = 1.3 - .5*2.0 = 0.30; var x = .25; var rest = 54/10 - 4 = 1.4
#     r = 0.30 / sqrt(.25*1.4) = 0.30 / 0.59161 = 0.50709
# i5: rest = 4 4 3 3 3 2 2 1 1 0, mean 2.3; mean(x*rest) = (4+3)/10 = 0.7
#     cov = 0.7 - .2*2.3 = 0.24; var x = .16; var rest = 69/10 - 5.29 = 1.61  ->  r = 0.47287
# (The uncorrected item-total r of i1 would be 0.24+.16 = .40 / sqrt(.16*2.25) = 0.6667: the item
# correlating with itself; the analysis must report the corrected value.)
WORKED = ["11111", "11110", "11101", "11010", "11100", "10100", "11000", "10000", "01000", "00000"]


def _worked():
    responses = [{f"i{j}": 0 if ch == "1" else 1 for j, ch in enumerate(row, 1)} for row in WORKED]
    return analyse_items(
        responses, {f"i{j}": 0 for j in range(1, 6)}, option_counts=dict.fromkeys([f"i{j}" for j in range(1, 6)], 2)
    )


def test_the_worked_example_matches_the_hand_computed_kr20_difficulties_and_corrected_correlations():
    analysis = _worked()
    assert analysis.kr20 == pytest.approx(0.70, abs=1e-12) and analysis.kr20_items == 5
    assert analysis.mean_score == pytest.approx(2.5) and analysis.score_sd == pytest.approx(1.5)
    stats = {s.item_id: s for s in analysis.items}
    assert [stats[f"i{j}"].difficulty for j in range(1, 6)] == pytest.approx([0.8, 0.7, 0.5, 0.3, 0.2])
    assert stats["i1"].discrimination == pytest.approx(0.47287, abs=5e-6)
    assert stats["i2"].discrimination == pytest.approx(0.41931, abs=5e-6)
    assert stats["i3"].discrimination == pytest.approx(0.50709, abs=5e-6)
    assert stats["i5"].discrimination == pytest.approx(0.47287, abs=5e-6)
    assert stats["i1"].discrimination != pytest.approx(0.6667, abs=1e-3)  # not the uncorrected item-total r
    assert not analysis.small_sample and all(s.reported_flags() == () for s in analysis.items)


def test_kr20_is_never_above_one_and_needs_the_minimum_number_of_attempts():
    rng = random.Random(7)
    for _ in range(200):
        n, k = rng.randint(10, 30), rng.randint(2, 8)
        responses = [{f"q{j}": rng.randint(0, 1) for j in range(k)} for _ in range(n)]
        kr20 = analyse_items(responses, {f"q{j}": 0 for j in range(k)}).kr20
        assert kr20 is None or kr20 <= 1 + 1e-12
    nine = [
        dict(zip([f"i{j}" for j in range(1, 6)], (0 if c == "1" else 1 for c in row), strict=True))
        for row in WORKED[:9]
    ]
    assert analyse_items(nine, {f"i{j}": 0 for j in range(1, 6)}).kr20 is None  # 9 < MIN_ATTEMPTS_FOR_RELIABILITY
    assert MIN_ATTEMPTS_FOR_RELIABILITY == 10


def _two_attempts():
    # The reported case: two students, each drawn a different 10-question form from the pools;
    # one gets 7 right, the other 3 (wrong answers take option 1). The old code weighted the item
    # variances by presentation (each item seen once: p*q = 0) and reported 10/9 = 1.111.
    first = {f"a{j}": 0 if j < 7 else 1 for j in range(10)}
    second = {f"b{j}": 0 if j < 3 else 1 for j in range(10)}
    key = {**{f"a{j}": 0 for j in range(10)}, **{f"b{j}": 0 for j in range(10)}}
    return analyse_items([first, second], key, option_counts=dict.fromkeys(key, 4))


def test_two_attempts_report_no_kr20_no_flags_and_a_caution():
    analysis = _two_attempts()
    assert analysis.attempts == 2 and analysis.kr20 is None and analysis.small_sample
    assert any(s.flags for s in analysis.items)  # the raw signals exist (a one-student "upper group")...
    assert all(s.reported_flags() == () for s in analysis.items)  # ...but nothing is flagged to a reader
    # The same two students on one shared form: still no KR-20 (exact, but from 2 attempts it means nothing).
    shared = analyse_items(
        [{f"q{j}": 0 if j < 7 else 1 for j in range(10)}, {f"q{j}": 0 if j < 3 else 1 for j in range(10)}],
        {f"q{j}": 0 for j in range(10)},
    )
    assert shared.kr20 is None and all(s.reported_flags() == () for s in shared.items)


def test_the_two_attempt_spreadsheet_says_not_enough_attempts_and_cautions_instead_of_flagging():
    book = openpyxl.load_workbook(io.BytesIO(analysis_xlsx(_two_attempts(), translate=lambda m: "ru:" + m)))
    items, summary = book.worksheets
    rows = list(items.iter_rows(values_only=True))[1:]
    assert all(r[7] == "ru:Not flagged: presented in 1 attempts, fewer than 10" for r in rows)
    facts = {r[0]: r[1] for r in summary.iter_rows(values_only=True)}
    assert facts["ru:KR-20"] == "ru:not enough attempts"
    assert facts["ru:Caution"].startswith("ru:Fewer than 10 finished attempts")


def test_several_flags_of_an_item_are_separated_in_the_spreadsheet():
    responses, key = simulated(n_attempts=60, n_items=6)
    for r in responses:  # the strong students all pick option 1 of "m"; the key says 0
        total = sum(1 for item in key if r[item] == 0)
        r["m"] = 1 if total >= 4 else 0
    key["m"] = 0
    analysis = analyse_items(responses, key, option_counts=dict.fromkeys(key, 4))
    m = next(s for s in analysis.items if s.item_id == "m")
    assert set(m.reported_flags()) == {Flag.MISKEYED, Flag.NEGATIVE_DISCRIMINATION}
    rows = list(openpyxl.load_workbook(io.BytesIO(analysis_xlsx(analysis))).worksheets[0].iter_rows(values_only=True))
    cell = next(r[7] for r in rows if r[0] == "m")
    assert cell == "Possibly miskeyed: strong students prefer another option; Negative discrimination"


# A published worked example: K. L. Wuensch, "The Kuder-Richardson 20", East Carolina University,
# https://core.ecu.edu/wuenschk/StatHelp/KR20.txt — ten students (A–J) on a ten-item quiz, 1 = right.
# The page prints the whole 0/1 matrix (rows below, items 1–10, and each total), then per item
# p = .7 .7 .6 .7 .6 .8 .7 .7 .5 .6 and p*q = .21 .21 .24 .21 .24 .16 .21 .21 .25 .24 (two decimals),
# and the variance of the totals, 5.84 (the population variance: the same denominator n as p*q).
# It leaves the last step to the reader; from its own figures: sum(p*q) = 2.18, so
# KR-20 = 10/9 * (1 - 2.18/5.84) = 0.6963 (four decimals). The page also notes that KR-20 is
# Cronbach's alpha of 0/1 scores (the item variances equal p*q), so this checks alpha too.
WUENSCH = {
    "A": "1111110110",
    "B": "1011011101",
    "C": "1111011001",
    "D": "0010001000",
    "E": "0000010010",
    "F": "1110111111",
    "G": "1101110111",
    "H": "1111111101",
    "I": "0101111101",
    "J": "1101101110",
}
WUENSCH_TOTALS = {"A": 8, "B": 7, "C": 7, "D": 2, "E": 2, "F": 9, "G": 8, "H": 9, "I": 7, "J": 7}
WUENSCH_P = [0.7, 0.7, 0.6, 0.7, 0.6, 0.8, 0.7, 0.7, 0.5, 0.6]
WUENSCH_PQ = [0.21, 0.21, 0.24, 0.21, 0.24, 0.16, 0.21, 0.21, 0.25, 0.24]


def test_the_published_kr20_worked_example_is_reproduced_to_its_printed_precision():
    ids = [f"i{j}" for j in range(1, 11)]
    responses = [{i: 0 if c == "1" else 1 for i, c in zip(ids, row, strict=True)} for row in WUENSCH.values()]
    assert [row.count("1") for row in WUENSCH.values()] == list(WUENSCH_TOTALS.values())  # transcribed right
    analysis = analyse_items(responses, dict.fromkeys(ids, 0), option_counts=dict.fromkeys(ids, 2))
    assert [round(s.difficulty, 2) for s in analysis.items] == WUENSCH_P
    assert [round(s.difficulty * (1 - s.difficulty), 2) for s in analysis.items] == WUENSCH_PQ
    assert round(analysis.score_sd**2, 2) == 5.84
    assert round(analysis.kr20, 4) == round(10 / 9 * (1 - sum(WUENSCH_PQ) / 5.84), 4) == 0.6963
    assert analysis.kr20_items == 10
