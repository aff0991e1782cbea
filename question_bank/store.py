"""Storing bank versions and reading the items an exam draws from.

The caller owns the transaction. A version is written whole (items and header in
one transaction) or not at all, and a published version is never edited again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .model import Item
from .tables import bank_items, bank_versions, banks, exam_blueprints

BlueprintCells = dict[tuple[str | None, int | None], int]


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    number: int
    text: str
    options: tuple[str, ...]
    correct: int
    topic: str | None
    difficulty: int | None
    twin_key: str | None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    id: int
    discipline_code: str
    language: str
    version: int
    status: str
    item_count: int
    source_name: str | None
    created_at: datetime
    created_by: str
    published_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "discipline": self.discipline_code,
            "language": self.language,
            "version": self.version,
            "status": self.status,
            "item_count": self.item_count,
            "source_name": self.source_name,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "published_at": self.published_at.isoformat() if self.published_at else None,
        }


class BankVersionNotFound(LookupError):
    pass


class BankVersionPublished(RuntimeError):
    """A published version is immutable: it cannot be published (changed) again."""


def content_digest(items: Sequence[Item]) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update(repr((it.text, it.options, it.correct, it.topic, it.difficulty, it.twin_key)).encode())
    return h.hexdigest()


async def _bank_id(conn: AsyncConnection, discipline_code: str, language: str, now: datetime) -> int:
    row = (
        await conn.execute(
            select(banks.c.id).where(banks.c.discipline_code == discipline_code, banks.c.language == language)
        )
    ).first()
    if row:
        return int(row.id)
    result = await conn.execute(
        banks.insert().values(discipline_code=discipline_code, language=language, created_at=now).returning(banks.c.id)
    )
    return int(result.scalar_one())


async def add_version(
    conn: AsyncConnection,
    *,
    discipline_code: str,
    language: str,
    items: Sequence[Item],
    source_name: str | None,
    created_by: str,
    now: datetime,
    publish: bool = False,
) -> VersionInfo:
    """Write a new version (the next number for this discipline and language)."""
    bank_id = await _bank_id(conn, discipline_code, language, now)
    last = (
        await conn.execute(select(func.max(bank_versions.c.version)).where(bank_versions.c.bank_id == bank_id))
    ).scalar()
    number = (last or 0) + 1
    status = "published" if publish else "draft"
    version_id = (
        await conn.execute(
            bank_versions.insert()
            .values(
                bank_id=bank_id,
                version=number,
                status=status,
                source_name=source_name,
                source_sha256=content_digest(items),
                item_count=len(items),
                created_at=now,
                created_by=created_by,
                published_at=now if publish else None,
                published_by=created_by if publish else None,
            )
            .returning(bank_versions.c.id)
        )
    ).scalar_one()
    await conn.execute(
        bank_items.insert(),
        [
            {
                "bank_version_id": version_id,
                "number": i,
                "text": it.text,
                "options": list(it.options),
                "correct": it.correct,
                "topic": it.topic,
                "difficulty": it.difficulty,
                "twin_key": it.twin_key,
            }
            for i, it in enumerate(items, start=1)
        ],
    )
    return await get_version(conn, int(version_id))


_VERSION_COLUMNS = (
    bank_versions.c.id,
    banks.c.discipline_code,
    banks.c.language,
    bank_versions.c.version,
    bank_versions.c.status,
    bank_versions.c.item_count,
    bank_versions.c.source_name,
    bank_versions.c.created_at,
    bank_versions.c.created_by,
    bank_versions.c.published_at,
)


async def get_version(conn: AsyncConnection, version_id: int) -> VersionInfo:
    row = (
        await conn.execute(
            select(*_VERSION_COLUMNS).select_from(bank_versions.join(banks)).where(bank_versions.c.id == version_id)
        )
    ).first()
    if row is None:
        raise BankVersionNotFound(version_id)
    return VersionInfo(**row._mapping)


async def list_versions(conn: AsyncConnection, discipline_code: str | None = None) -> list[VersionInfo]:
    stmt = select(*_VERSION_COLUMNS).select_from(bank_versions.join(banks))
    if discipline_code:
        stmt = stmt.where(banks.c.discipline_code == discipline_code)
    rows = await conn.execute(stmt.order_by(banks.c.discipline_code, banks.c.language, bank_versions.c.version))
    return [VersionInfo(**r._mapping) for r in rows]


async def latest_version(conn: AsyncConnection, discipline_code: str, language: str) -> VersionInfo | None:
    """The highest-numbered version of one bank, draft or published; ``None`` for a new bank."""
    row = (
        await conn.execute(
            select(*_VERSION_COLUMNS)
            .select_from(bank_versions.join(banks))
            .where(banks.c.discipline_code == discipline_code, banks.c.language == language)
            .order_by(bank_versions.c.version.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else VersionInfo(**row._mapping)


async def version_by_number(conn: AsyncConnection, discipline_code: str, language: str, number: int) -> VersionInfo:
    row = (
        await conn.execute(
            select(*_VERSION_COLUMNS)
            .select_from(bank_versions.join(banks))
            .where(
                banks.c.discipline_code == discipline_code,
                banks.c.language == language,
                bank_versions.c.version == number,
            )
        )
    ).first()
    if row is None:
        raise BankVersionNotFound(number)
    return VersionInfo(**row._mapping)


async def publish_version(conn: AsyncConnection, version_id: int, *, by: str, now: datetime) -> VersionInfo:
    """Publish a draft. The update is conditional, so two concurrent publishes cannot both succeed."""
    info = await get_version(conn, version_id)
    if info.status == "published":
        raise BankVersionPublished(version_id)
    done = await conn.execute(
        update(bank_versions)
        .where(bank_versions.c.id == version_id, bank_versions.c.status == "draft")
        .values(status="published", published_at=now, published_by=by)
    )
    if done.rowcount != 1:
        raise BankVersionPublished(version_id)
    return await get_version(conn, version_id)


_ITEM_COLUMNS = (
    bank_items.c.id,
    bank_items.c.number,
    bank_items.c.text,
    bank_items.c.options,
    bank_items.c.correct,
    bank_items.c.topic,
    bank_items.c.difficulty,
    bank_items.c.twin_key,
)


def _stored(r: Any) -> StoredItem:
    return StoredItem(
        id=r.id,
        number=r.number,
        text=r.text,
        options=tuple(r.options),
        correct=r.correct,
        topic=r.topic,
        difficulty=r.difficulty,
        twin_key=r.twin_key,
    )


async def load_items(conn: AsyncConnection, version_id: int) -> list[StoredItem]:
    rows = await conn.execute(
        select(*_ITEM_COLUMNS).where(bank_items.c.bank_version_id == version_id).order_by(bank_items.c.number)
    )
    return [_stored(r) for r in rows]


async def load_items_by_id(conn: AsyncConnection, item_ids: Sequence[int]) -> dict[int, StoredItem]:
    """Bank items by id (what attempts froze), for item analysis."""
    if not item_ids:
        return {}
    rows = await conn.execute(select(*_ITEM_COLUMNS).where(bank_items.c.id.in_(sorted(set(item_ids)))))
    return {int(r.id): _stored(r) for r in rows}


def as_item(stored: StoredItem) -> Item:
    """The plain item of a stored one (for diff, export and blueprint draws)."""
    return Item(
        text=stored.text,
        options=stored.options,
        correct=stored.correct,
        topic=stored.topic,
        difficulty=stored.difficulty,
        number=stored.number,
        twin_key=stored.twin_key,
    )


async def save_blueprint(conn: AsyncConnection, exam_id: int, cells: BlueprintCells, *, now: datetime) -> None:
    rows = [{"topic": t, "difficulty": d, "count": n} for (t, d), n in cells.items()]
    await conn.execute(exam_blueprints.insert().values(exam_id=exam_id, cells=rows, created_at=now))


async def load_blueprint(conn: AsyncConnection, exam_id: int) -> BlueprintCells | None:
    cells = (await conn.execute(select(exam_blueprints.c.cells).where(exam_blueprints.c.exam_id == exam_id))).scalar()
    if cells is None:
        return None
    return {(c["topic"], c["difficulty"]): int(c["count"]) for c in cells}
