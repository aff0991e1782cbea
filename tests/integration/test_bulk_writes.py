"""Many rows in one statement (PostgreSQL's arrays) store exactly what one row at a time stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Text, cast, insert, select

from exam_engine import db_bulk as bulk
from exam_engine.tables import audit_log, outbox

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=5)))


def _audit(i: int, before: object, after: object) -> dict:
    return {
        "at": T0 + timedelta(seconds=i),
        "actor": f"тест:{i}",
        "action": "attempt.timed_out",
        "subject": f"attempt:{i}",
        "before": before,
        "after": after,
        "ip": None if i % 2 else "127.0.0.1",
    }


ROWS = [
    _audit(1, None, {"status": "timed_out", "балл": 40}),
    _audit(2, {"status": "in_progress"}, {"list": [1, None, "қазақша"], "nested": {"a": 1.5}}),
    _audit(3, {"x": None}, None),
]


def _plain(rows: list) -> list[tuple]:
    return [tuple(v for k, v in r._mapping.items() if k != "id") for r in rows]


async def test_insert_many_stores_what_executemany_stores(services) -> None:
    async with services.engine.begin() as conn:
        await bulk.insert_many(conn, audit_log, ROWS)
        await conn.execute(insert(audit_log), ROWS)
        stored = (await conn.execute(select(audit_log).order_by(audit_log.c.id))).all()
        # As stored, not as read back: JSON null stays JSON null, not SQL NULL.
        raw = (
            await conn.execute(
                select(cast(audit_log.c.before, Text), cast(audit_log.c.after, Text)).order_by(audit_log.c.id)
            )
        ).all()
    assert len(stored) == 6
    # The first three (one statement) read back exactly as the last three (row by row).
    assert _plain(stored[:3]) == _plain(stored[3:])
    assert [tuple(r) for r in raw[:3]] == [tuple(r) for r in raw[3:]]
    assert stored[0].actor == "тест:1" and stored[1].after["list"] == [1, None, "қазақша"]
    assert stored[0].at == T0 + timedelta(seconds=1) and stored[0].at.utcoffset() == timedelta(0)


async def test_update_many_sets_each_row_and_respects_the_condition(services) -> None:
    events = [
        {"topic": "exam.result", "key": f"k{i}", "version": 1, "payload": {"n": i}, "created_at": T0} for i in range(5)
    ]
    async with services.engine.begin() as conn:
        await bulk.insert_many(conn, outbox, events)
        ids = {r.key: r.id for r in await conn.execute(select(outbox.c.id, outbox.c.key))}
        later = T0 + timedelta(minutes=1)
        changes = [
            {"id": ids[f"k{i}"], "tries": 10 + i, "payload": {"n": -i, "сөз": "иә"}, "delivered_at": later}
            for i in range(4)
        ]
        # k3's change is held back by the condition; k4 is not in the list at all.
        await bulk.update_many(conn, outbox, "id", changes, where=outbox.c.key != "k3")
        rows = {r.key: r for r in await conn.execute(select(outbox))}
    for i in range(3):
        assert (rows[f"k{i}"].tries, rows[f"k{i}"].payload, rows[f"k{i}"].delivered_at) == (
            10 + i,
            {"n": -i, "сөз": "иә"},
            later,
        )
    for key, n in (("k3", 3), ("k4", 4)):
        assert (rows[key].tries, rows[key].payload, rows[key].delivered_at) == (0, {"n": n}, None)


async def test_rows_must_share_their_columns(services) -> None:
    import pytest

    async with services.engine.begin() as conn:
        with pytest.raises(ValueError):
            await bulk.insert_many(conn, audit_log, [ROWS[0], {**ROWS[1], "extra": 1}])
