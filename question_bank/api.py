"""The bank's public surface for the exam server and the pages.

Published versions are immutable, so the items an exam draws from are cached
per version in each process: a start storm reads the bank once, not 2,000 times.
An exam's blueprint is written once with the exam and never changes, so it is
cached the same way.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from .blueprint import BlueprintShortfall, Cell, Shortfall, check_blueprint, draw_form, pools_by_cell
from .model import Bank, Item
from .store import (
    BankVersionNotFound,
    BankVersionPublished,
    BlueprintCells,
    StoredItem,
    VersionInfo,
    add_version,
    as_item,
    get_version,
    latest_version,
    list_versions,
    load_blueprint,
    load_items,
    load_items_by_id,
    publish_version,
    save_blueprint,
    version_by_number,
)

__all__ = [
    "Bank",
    "BankVersionNotFound",
    "BankVersionPublished",
    "BlueprintCells",
    "BlueprintShortfall",
    "Item",
    "PublishedItems",
    "Shortfall",
    "StoredItem",
    "VersionInfo",
    "add_version",
    "as_item",
    "blueprint_shortfalls",
    "draw_blueprint_form",
    "get_version",
    "latest_version",
    "list_versions",
    "load_blueprint",
    "load_items",
    "load_items_by_id",
    "publish_version",
    "save_blueprint",
    "version_by_number",
]


class PublishedItems:
    """Per-process cache of published versions' items and of exams' blueprints (both never change)."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[StoredItem, ...]] = {}
        self._blueprints: dict[int, BlueprintCells | None] = {}

    async def get(self, conn: AsyncConnection, version_id: int) -> tuple[StoredItem, ...]:
        cached = self._cache.get(version_id)
        if cached is not None:
            return cached
        info = await get_version(conn, version_id)
        items = tuple(await load_items(conn, version_id))
        if info.status == "published":
            self._cache[version_id] = items
        return items

    async def blueprint(self, conn: AsyncConnection, exam_id: int) -> BlueprintCells | None:
        """The exam's blueprint, or ``None`` when the exam draws from the whole bank."""
        if exam_id not in self._blueprints:
            self._blueprints[exam_id] = await load_blueprint(conn, exam_id)
        return self._blueprints[exam_id]

    async def form_pool(
        self, conn: AsyncConnection, exam_id: int, version_id: int, rng: random.Random
    ) -> tuple[StoredItem, ...]:
        """What one form is drawn from: the whole version, or a blueprint draw of exactly the form's items."""
        items = await self.get(conn, version_id)
        cells = await self.blueprint(conn, exam_id)
        return tuple(draw_blueprint_form(items, cells, rng)) if cells else items


def blueprint_shortfalls(items: Sequence[StoredItem], cells: Mapping[Cell, int]) -> tuple[Shortfall, ...]:
    """The cells of ``cells`` that ``items`` cannot fill (empty when the blueprint fits)."""
    return check_blueprint(pools_by_cell([as_item(s) for s in items]), cells)


def draw_blueprint_form(items: Sequence[StoredItem], cells: Mapping[Cell, int], rng: random.Random) -> list[StoredItem]:
    """Draw one form with the blueprint's composition; the stored items (with their ids) come back.

    Raises :class:`BlueprintShortfall` when the bank cannot fill a cell.
    """
    plain = [as_item(s) for s in items]
    by_identity = {id(p): s for p, s in zip(plain, items, strict=True)}
    return [by_identity[id(item)] for item in draw_form(pools_by_cell(plain), cells, rng)]
