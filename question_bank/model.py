"""The bank's plain data: what every importer produces and the store keeps.

A bank is a sequence of single-answer items (Q1: exactly one correct option).
``correct`` is an index into ``options`` in the order the file gave them; the order
a student sees is decided per attempt, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    options: tuple[str, ...]
    correct: int
    topic: str | None = None
    difficulty: int | None = None
    # Where the item started in the uploaded file (line, paragraph or row number), for reports.
    source_line: int | None = None
    # 1-based position of the question in the file, for reports.
    number: int | None = None
    # Optional stable key shared by the kk and ru twins of one item.
    twin_key: str | None = None


@dataclass(frozen=True, slots=True)
class Bank:
    language: str
    items: tuple[Item, ...] = field(default_factory=tuple)
