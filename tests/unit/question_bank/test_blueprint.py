import random

import pytest

from question_bank.blueprint import BlueprintShortfall, Shortfall, check_blueprint, draw_form, pools_by_cell
from question_bank.model import Item


def bank():
    items = []
    for topic in ("Құқық", "Тарих"):
        for difficulty in (1, 2):
            for n in range(6):
                items.append(Item(f"{topic} {difficulty} сұрақ {n}", ("а", "б"), 0, topic=topic, difficulty=difficulty))
    return items


COUNTS = {("Құқық", 1): 3, ("Құқық", 2): 2, ("Тарих", 1): 1, ("Тарих", 2): 4}


def test_every_form_has_the_blueprint_composition():
    pools = pools_by_cell(bank())
    for seed in range(20):
        form = draw_form(pools, COUNTS, random.Random(seed))
        composition = {cell: sum(1 for i in form if (i.topic, i.difficulty) == cell) for cell in COUNTS}
        assert composition == COUNTS
        assert len({i.text for i in form}) == len(form)


def test_the_same_seed_draws_the_same_form_whatever_the_pool_order():
    items = bank()
    first = draw_form(pools_by_cell(items), COUNTS, random.Random(7))
    second = draw_form(pools_by_cell(list(reversed(items))), COUNTS, random.Random(7))
    assert first == second
    assert first != draw_form(pools_by_cell(items), COUNTS, random.Random(8))


def test_a_cell_with_too_few_items_names_every_shortfall():
    pools = pools_by_cell(bank())
    counts = {("Құқық", 1): 7, ("Тарих", 2): 2, ("Азаматтық", 1): 1}
    with pytest.raises(BlueprintShortfall) as raised:
        draw_form(pools, counts, random.Random(1))
    assert raised.value.shortfalls == (Shortfall("Құқық", 1, 7, 6), Shortfall("Азаматтық", 1, 1, 0))
    assert raised.value.code == "blueprint_shortfall"
    assert "7 questions required, only 6" in str(raised.value)


def test_twins_count_as_one_item_and_never_share_a_form():
    pool = [
        Item("Астана қай жылы елорда болды?", ("1997", "1991"), 0, twin_key="t1"),
        Item("В каком году Астана стала столицей?", ("1997", "1991"), 0, twin_key="t1"),
        Item("Конституция қашан қабылданды?", ("1995", "1993"), 0, twin_key="t2"),
        Item("Когда принята Конституция?", ("1995", "1993"), 0, twin_key="t2"),
    ]
    cell = (None, None)
    assert check_blueprint({cell: pool}, {cell: 3}) == (Shortfall(None, None, 3, 2),)
    for seed in range(10):
        form = draw_form({cell: pool}, {cell: 2}, random.Random(seed))
        assert sorted(i.twin_key for i in form) == ["t1", "t2"]
