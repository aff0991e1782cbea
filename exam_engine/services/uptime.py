"""When was the server up? Spans recorded by every server process, for downtime credit.

Each process beats every :data:`BEAT_S` seconds: the beat extends its current span
(``server_uptime.up_to``), or, when more than :data:`CONTINUE_S` passed since the last beat
(the process was stopped, the event loop stalled or the database was unreachable),
starts a new span. A student's request can reach the server only while some process is
up, so the parts of an attempt that no span covers are time the server was unavailable
to every student: measured on the server, not reported by the browser, and the same for
everyone in the room. Before the first recorded span nothing is known, so nothing counts.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.exam_day import Interval, outages
from ..exam_day_tables import server_uptime

BEAT_S = 5.0
CONTINUE_S = 15.0  # a beat later than this after the previous one starts a new span: a gap
MIN_GAP_S = 10.0

_EXTEND = (
    update(server_uptime)
    .where(server_uptime.c.id == bindparam("span_id"))
    .where(server_uptime.c.up_to >= bindparam("since"))
    .values(up_to=bindparam("now"))
)
_SPANS = (
    select(server_uptime.c.up_from, server_uptime.c.up_to)
    .where(server_uptime.c.up_to >= bindparam("since"))
    .where(server_uptime.c.up_from <= bindparam("until"))
)


class UptimeRecorder:
    """This process's beats. One instance per process (it remembers the current span's id)."""

    def __init__(self) -> None:
        self.process_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.span_id: int | None = None

    async def beat(self, conn: AsyncConnection, now: datetime) -> None:
        if self.span_id is not None:
            extended = await conn.execute(
                _EXTEND, {"span_id": self.span_id, "now": now, "since": now - timedelta(seconds=CONTINUE_S)}
            )
            if extended.rowcount:
                return
        self.span_id = (
            await conn.execute(
                server_uptime.insert()
                .values(process_id=self.process_id, up_from=now, up_to=now)
                .returning(server_uptime.c.id)
            )
        ).scalar_one()


async def measure(conn: AsyncConnection, start: datetime, end: datetime) -> list[Interval]:
    """Gaps in ``[start, end]`` when no process was up (see the module docstring)."""
    return gaps_in(await spans(conn, start, end), start, end)


async def spans(conn: AsyncConnection, start: datetime, end: datetime) -> list[Interval]:
    rows = await conn.execute(_SPANS, {"since": start - timedelta(seconds=BEAT_S), "until": end})
    return [Interval(r.up_from, r.up_to) for r in rows]


def gaps_in(up: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    """Only what lies between known spans counts: before the first and after the last, nothing is known."""
    if not up:
        return []
    known_from = max(start, min(i.start for i in up))
    known_to = min(end, max(i.end for i in up) + timedelta(seconds=BEAT_S))
    if known_to <= known_from:
        return []
    return outages(up, Interval(known_from, known_to), tolerance_s=BEAT_S, min_gap_s=MIN_GAP_S)
