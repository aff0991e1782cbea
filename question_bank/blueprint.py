"""Blueprint draws: every student's form has the same topic × difficulty composition (Q3).

The random source is passed in (a seeded ``random.Random``), so a form can be drawn
again from its seed. Pools are put in a canonical order before drawing, so the same
seed gives the same form however the database happened to order the rows.
Twins — the kk and ru versions of one item, sharing a ``twin_key`` — are one item:
they count once towards a cell and never both land on one form.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from question_bank.model import Item
from question_bank.text import comparison_key

Cell = tuple[str | None, int | None]  # (topic, difficulty)


@dataclass(frozen=True, slots=True)
class Shortfall:
    topic: str | None
    difficulty: int | None
    required: int
    available: int


class BlueprintShortfall(ValueError):
    """A cell of the blueprint asks for more items than its pool holds."""

    code = "blueprint_shortfall"
    msgid = "Topic {topic}, difficulty {difficulty}: {required} questions required, only {available} in the bank"

    def __init__(self, shortfalls: Sequence[Shortfall]) -> None:
        self.shortfalls = tuple(shortfalls)
        super().__init__("; ".join(self.msgid.format(**params) for params in self.params()))

    def params(self) -> list[dict[str, object]]:
        """One parameter set per short cell, for translated messages."""
        return [
            {
                "topic": s.topic or "—",
                "difficulty": "—" if s.difficulty is None else s.difficulty,
                "required": s.required,
                "available": s.available,
            }
            for s in self.shortfalls
        ]


def pools_by_cell(items: Sequence[Item]) -> dict[Cell, list[Item]]:
    """Group items into blueprint cells by (topic, difficulty)."""
    pools: dict[Cell, list[Item]] = {}
    for item in items:
        pools.setdefault((item.topic, item.difficulty), []).append(item)
    return pools


def _units(pool: Sequence[Item]) -> list[Item]:
    """One representative per twin group, in an order independent of the input order."""
    chosen: dict[str, Item] = {}
    for item in sorted(pool, key=lambda it: (it.twin_key or "", comparison_key(it.text), it.text)):
        chosen.setdefault(item.twin_key or f"\x00{comparison_key(item.text)}\x00{item.text}", item)
    return list(chosen.values())


def check_blueprint(pools: Mapping[Cell, Sequence[Item]], counts: Mapping[Cell, int]) -> tuple[Shortfall, ...]:
    """Every cell that cannot be filled; empty when the blueprint fits the bank."""
    return tuple(
        Shortfall(cell[0], cell[1], required, available)
        for cell, required in counts.items()
        if required > (available := len(_units(pools.get(cell, ()))))
    )


def draw_form(pools: Mapping[Cell, Sequence[Item]], counts: Mapping[Cell, int], rng: random.Random) -> tuple[Item, ...]:
    """Draw ``counts[cell]`` distinct items from each cell's pool, then shuffle the form.

    Pass the pools of the student's language; if a pool mixes both languages, a twin
    group still yields one item. Raises :class:`BlueprintShortfall` naming every short cell.
    """
    shortfalls = check_blueprint(pools, counts)
    if shortfalls:
        raise BlueprintShortfall(shortfalls)
    form: list[Item] = []
    for cell in sorted(counts, key=lambda c: (c[0] or "", c[1] or 0)):
        form.extend(rng.sample(_units(pools.get(cell, ())), counts[cell]))
    rng.shuffle(form)
    return tuple(form)
