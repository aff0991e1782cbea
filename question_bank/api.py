"""The bank's public surface for the exam server and the pages.

Published versions are immutable, so the items an exam draws from are cached
per version in each process: a start storm reads the bank once, not 2,000 times.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from .model import Bank, Item
from .store import (
    BankVersionNotFound,
    BankVersionPublished,
    StoredItem,
    VersionInfo,
    add_version,
    get_version,
    list_versions,
    load_items,
    publish_version,
)

__all__ = [
    "Bank",
    "BankVersionNotFound",
    "BankVersionPublished",
    "Item",
    "PublishedItems",
    "StoredItem",
    "VersionInfo",
    "add_version",
    "get_version",
    "list_versions",
    "publish_version",
]


class PublishedItems:
    """Per-process cache of published versions' items (safe: they never change)."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[StoredItem, ...]] = {}

    async def get(self, conn: AsyncConnection, version_id: int) -> tuple[StoredItem, ...]:
        cached = self._cache.get(version_id)
        if cached is not None:
            return cached
        info = await get_version(conn, version_id)
        items = tuple(await load_items(conn, version_id))
        if info.status == "published":
            self._cache[version_id] = items
        return items
