"""What a re-upload changes: questions added, removed and changed between two versions.

Questions are matched on their normalised text (:func:`~question_bank.text.comparison_key`),
so a fixed typo in letter case or trailing punctuation is a change, not a removal plus an
addition. Option order is not a change (students see a shuffled order anyway); a
different key option is.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from question_bank.model import Item
from question_bank.text import comparison_key


@dataclass(frozen=True, slots=True)
class ItemChange:
    old: Item
    new: Item
    # Which of: text, options, key, topic, difficulty, twin_key.
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BankDiff:
    added: tuple[Item, ...]
    removed: tuple[Item, ...]
    changed: tuple[ItemChange, ...]
    unchanged: int

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _changed_fields(old: Item, new: Item) -> tuple[str, ...]:
    fields: list[str] = []
    if old.text != new.text:
        fields.append("text")
    if sorted(old.options) != sorted(new.options):
        fields.append("options")
    if old.options[old.correct] != new.options[new.correct]:
        fields.append("key")
    for name in ("topic", "difficulty", "twin_key"):
        if getattr(old, name) != getattr(new, name):
            fields.append(name)
    return tuple(fields)


def diff_items(old: Sequence[Item], new: Sequence[Item]) -> BankDiff:
    """Compare two versions; duplicates of one text pair up in file order."""
    pending: dict[str, deque[Item]] = defaultdict(deque)
    for item in old:
        pending[comparison_key(item.text)].append(item)
    added: list[Item] = []
    changed: list[ItemChange] = []
    unchanged = 0
    for item in new:
        queue = pending.get(comparison_key(item.text))
        if not queue:
            added.append(item)
            continue
        before = queue.popleft()
        fields = _changed_fields(before, item)
        if fields:
            changed.append(ItemChange(before, item, fields))
        else:
            unchanged += 1
    removed = tuple(item for queue in pending.values() for item in queue)
    order = {id(item): i for i, item in enumerate(old)}
    return BankDiff(tuple(added), tuple(sorted(removed, key=lambda it: order[id(it)])), tuple(changed), unchanged)
