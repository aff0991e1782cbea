"""Sealing the audit log into the signed hash chain, and verifying it.

**Sealing** (:func:`seal_pending`) runs at start-up, every few seconds in every
server process, and at shutdown. One transaction per batch of up to 1000 rows:

* PostgreSQL: ``pg_try_advisory_xact_lock`` lets one process seal at a time (the
  others skip the round), then ``LOCK TABLE audit_log IN SHARE MODE`` waits for every
  transaction that is inserting audit rows to finish. Ids come from a sequence and
  commit out of order; without the lock a seal could cover id 12 while id 11 is still
  uncommitted, and id 11 would later look like a row slipped into a sealed range.
  The lock is held for milliseconds, and ``lock_timeout`` bounds the wait.
* SQLite: one connection per process serialises writers; a second process racing for
  the same link fails on the seal's primary key (previous id + 1) and retries later.

**Verifying** (:func:`verify_database`) streams seals and rows in id order through
the pure :func:`exam_engine.security.audit_chain.verify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, select, text, type_coerce
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..clock import Clock
from ..security import audit_chain as chain
from ..security.signing import Signer, Verifier, signer_for
from ..security.tables import audit_seals
from ..tables import audit_log

if TYPE_CHECKING:
    from ..bootstrap import Services

log = logging.getLogger(__name__)

SEAL_BATCH = 1000
SEAL_INTERVAL_S = 5.0
ADVISORY_LOCK_KEY = 0x6578616D5365616C  # "examSeal"
READ_CHUNK = 5000

_LAST_SEAL = (
    select(audit_seals.c.id, audit_seals.c.hash, audit_seals.c.last_row_id).order_by(audit_seals.c.id.desc()).limit(1)
)


_ROW_TYPES = {
    "id": (int,),
    "at": (datetime,),
    "actor": (str,),
    "action": (str,),
    "subject": (str,),
    "ip": (str, type(None)),
}
_SEAL_TYPES = {
    "id": (int,),
    "first_row_id": (int,),
    "last_row_id": (int,),
    "row_count": (int,),
    "row_digests": (str,),
    "prev_hash": (str,),
    "hash": (str,),
    "key_id": (str,),
    "signature": (str,),
    "sealed_at": (datetime,),
}


def _typed(table: str, r: Any, types: dict[str, tuple[type, ...]]) -> None:
    """Each column holds its type (SQLite stores whatever was written into it by hand)."""
    for name, kinds in types.items():
        value = getattr(r, name)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise chain.Malformed(
                table, getattr(r, "id", None), name, f"expected {kinds[0].__name__}, found {type(value).__name__}"
            )


def _audit_row(r: Any) -> chain.AuditRow:
    _typed("audit_log", r, _ROW_TYPES)
    return chain.AuditRow(
        id=r.id, at=r.at, actor=r.actor, action=r.action, subject=r.subject, before=r.before, after=r.after, ip=r.ip
    )


async def _claim(conn: AsyncConnection) -> bool:
    """Become the only sealer for this transaction; False when another process is sealing."""
    if conn.dialect.name != "postgresql":
        return True
    if not (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})).scalar():
        return False
    await conn.execute(text("SET LOCAL lock_timeout = '2s'"))
    await conn.execute(text("LOCK TABLE audit_log IN SHARE MODE"))
    return True


async def _seal_batch(conn: AsyncConnection, signer: Signer, now: datetime, limit: int) -> int:
    if not await _claim(conn):
        return 0
    last = (await conn.execute(_LAST_SEAL)).first()
    after = last.last_row_id if last else 0
    rows = (
        await conn.execute(select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(limit))
    ).all()
    if not rows:
        return 0
    seal = chain.make_seal(
        (last.id if last else 0) + 1,
        last.hash if last else chain.GENESIS,
        [_audit_row(r) for r in rows],
        now,
        signer.key_id,
        signer.sign,
    )
    await conn.execute(
        audit_seals.insert().values(
            id=seal.id,
            first_row_id=seal.first_row_id,
            last_row_id=seal.last_row_id,
            row_count=seal.row_count,
            row_digests=seal.row_digests,
            prev_hash=seal.prev_hash,
            hash=seal.hash,
            key_id=seal.key_id,
            signature=seal.signature,
            sealed_at=seal.sealed_at,
        )
    )
    return len(rows)


async def seal_pending(engine: AsyncEngine, signer: Signer, clock: Clock, *, batch: int = SEAL_BATCH) -> int:
    """Seal every audit row not sealed yet; returns how many rows were sealed.

    A lost race (another process sealed the same link first) or a lock timeout ends
    the round quietly: the rows are sealed by whoever won, or in the next round.
    """
    total = 0
    while True:
        try:
            async with engine.begin() as conn:
                done = await _seal_batch(conn, signer, clock.now(), batch)
        except IntegrityError:
            log.info("another process sealed the same audit link first; yielding this round")
            return total
        except DBAPIError as error:
            if "lock timeout" not in str(error) and "could not obtain lock" not in str(error):
                raise
            log.warning("audit sealing postponed: audit writers held the table too long")
            return total
        total += done
        if done < batch:
            return total


async def run_forever(
    engine: AsyncEngine,
    signer: Signer,
    clock: Clock,
    interval_s: float = SEAL_INTERVAL_S,
    *,
    first_after_s: float = 0.0,
) -> None:
    """The background task: seal, sleep, repeat; a failed round is logged, never fatal."""
    await asyncio.sleep(first_after_s)
    while True:
        try:
            await seal_pending(engine, signer, clock)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep sealing after a transient failure
            log.exception("audit sealing round failed; retrying")
        await asyncio.sleep(interval_s)


def lifecycle(services: Services, interval_s: float = SEAL_INTERVAL_S) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp ``cleanup_ctx`` entry: seal at start-up, every ``interval_s``, and at shutdown."""

    async def context(_app: Any) -> AsyncIterator[None]:
        engine, clock = services.engine, services.clock
        signer = signer_for(services.settings)
        sealed = await seal_pending(engine, signer, clock)
        if sealed:
            log.info("start-up sealing covered %d audit rows", sealed)
        # The start-up round just ran: the next one comes an interval later.
        task = asyncio.create_task(
            run_forever(engine, signer, clock, interval_s, first_after_s=interval_s), name="audit-sealer"
        )
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            await seal_pending(engine, signer, clock)

    return context


# ---------------------------------------------------------------------------------------------- verify


def _stream(sync_conn: Any, table: Any, convert: Callable[[Any], Any]) -> Iterator[Any]:
    """Rows of ``table`` in id order, read in chunks (the audit log can be large).

    A chunk that cannot be read (a column edited by hand into something its type cannot
    hold: bad JSON, a bad timestamp) is read again raw, to name the row and the column.
    """
    after = 0
    while True:
        query = select(table).where(table.c.id > after).order_by(table.c.id).limit(READ_CHUNK)
        try:
            chunk = sync_conn.execute(query).all()
            converted = [convert(row) for row in chunk]
        except chain.Malformed:
            raise
        except Exception as error:  # noqa: BLE001 - any failure to read is located precisely, or re-raised
            located = _locate(sync_conn, table, after, convert)
            if located is None:
                raise
            raise located from error
        yield from converted
        if len(chunk) < READ_CHUNK:
            return
        after = chunk[-1].id


def _locate(sync_conn: Any, table: Any, after: int, convert: Callable[[Any], Any]) -> chain.Malformed | None:
    """The first row after ``after`` with a column its type cannot read, and why."""
    raw = (
        select(*[type_coerce(c, Text) if c.name != "id" else c for c in table.columns])
        .where(table.c.id > after)
        .order_by(table.c.id)
        .limit(READ_CHUNK)
    )
    dialect = sync_conn.dialect
    processors = {c.name: c.type.dialect_impl(dialect).result_processor(dialect, None) for c in table.columns}
    for row in sync_conn.execute(raw).mappings():
        values = {}
        for column in table.columns:
            value = row[column.name]
            processor = processors[column.name]
            try:
                values[column.name] = processor(value) if processor is not None and value is not None else value
            except Exception as error:  # noqa: BLE001 - reported with the row and column
                return chain.Malformed(table.name, row["id"], column.name, _problem(error, value))
        try:
            convert(SimpleNamespace(**values))
        except chain.Malformed as malformed:
            return malformed
    return None


def _problem(error: Exception, value: Any) -> str:
    shown = "" if value is None else f" ({str(value)[:40]!r})"
    return f"{type(error).__name__}: {str(error)[:120]}{shown}"


def _seal(r: Any) -> chain.Seal:
    _typed("audit_seals", r, _SEAL_TYPES)
    return chain.Seal(
        id=r.id,
        first_row_id=r.first_row_id,
        last_row_id=r.last_row_id,
        row_count=r.row_count,
        row_digests=r.row_digests,
        prev_hash=r.prev_hash,
        hash=r.hash,
        key_id=r.key_id,
        signature=r.signature,
        sealed_at=r.sealed_at,
    )


async def verify_database(engine: AsyncEngine, verifier: Verifier) -> chain.Report:
    """Recompute the whole chain from the database; the report names the first broken link.

    Runs as one synchronous pass (``run_sync``) so seals and rows are streamed in
    chunks through the pure verifier instead of being loaded whole.
    """

    def run(sync_conn: Any) -> chain.Report:
        return chain.verify(
            _stream(sync_conn, audit_seals, _seal),
            _stream(sync_conn, audit_log, _audit_row),
            verifier.verify,
            verifier.knows,
        )

    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for seals and rows alike
            await conn.execution_options(isolation_level="REPEATABLE READ")
        return await conn.run_sync(run)
