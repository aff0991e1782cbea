"""The autosave's fast path on PostgreSQL: one prepared statement, one round trip, one commit.

The general path (:func:`exam_engine.services.attempts.save_answer`) costs a ``BEGIN``,
a share-locked read, the upsert and a ``COMMIT``: four round trips through SQLAlchemy.
Here the common case — the student's own attempt, in progress, before the deadline plus
grace, from the session it is bound to, a choice that exists — is a single statement
run in autocommit on a raw psycopg connection from a small pool of its own:

* a CTE share-locks the attempt row (``FOR SHARE OF attempts``), exactly as the general
  path does, so an answer is either stored before finalisation reads it or refused;
* the ``INSERT … ON CONFLICT … WHERE answers.seq < excluded.seq`` runs only if every
  rule holds, and returns the stored row;
* the statement is its own transaction: when it returns, the answer is committed
  (``synchronous_commit`` as configured — on by default — so it is durable).

Whenever the insert does *not* happen (a refusal, a replayed sequence number, another
session, a paused attempt…) :meth:`FastSaves.save` answers ``None`` and the caller runs
the general path, which decides and words the refusal. So the rules have one author —
:mod:`exam_engine.domain.attempts` — and this module only restates their happy case in
SQL; the tests run the same scenarios through both paths (SQLite takes the general one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..domain import exam_day
from ..domain.attempts import AttemptStatus

log = logging.getLogger(__name__)

# Column order of the result row below.
_SAVE = """
WITH a AS (
    SELECT at.id, l.last_seen_at, i.options
      FROM attempts at
      JOIN attempt_live l ON l.attempt_id = at.id
      JOIN attempt_items i ON i.attempt_id = at.id AND i.position = %(position)s
     WHERE at.id = %(attempt_id)s
       AND at.student_id = %(student_id)s
       AND at.status = %(in_progress)s
       AND at.deadline_at >= %(cutoff)s
       AND l.bound_session = %(session)s
       AND l.paused_at IS NULL
       FOR SHARE OF at
), saved AS (
    INSERT INTO answers (attempt_id, position, choice, seq, saved_at)
    SELECT a.id, %(position)s::smallint, %(choice)s::smallint, %(seq)s::bigint, %(now)s::timestamptz
      FROM a
     WHERE %(choice)s::smallint IS NULL
        OR (%(choice)s::smallint >= 0 AND %(choice)s::smallint < json_array_length(a.options))
    ON CONFLICT (attempt_id, position) DO UPDATE
       SET choice = excluded.choice, seq = excluded.seq, saved_at = excluded.saved_at
     WHERE answers.seq < excluded.seq
    RETURNING saved_at
)
SELECT saved.saved_at, a.last_seen_at FROM saved, a
"""

# The session query of services/auth.py, for the hot routes' cache misses.
_SESSION = """
SELECT u.id, u.login, u.role, u.language, u.full_name, s.csrf_token, s.expires_at, u.must_change_password
  FROM auth_sessions s JOIN users u ON u.id = s.user_id
 WHERE s.token_hash = %(th)s AND s.revoked_at IS NULL AND u.is_active
"""

_TOUCH = "UPDATE attempt_live SET last_seen_at = %(now)s WHERE attempt_id = %(attempt_id)s"


def conninfo_of(database_url: str) -> str:
    """libpq's form of a SQLAlchemy URL (``postgresql+psycopg://…`` → ``postgresql://…``)."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class FastSaves:
    """A small pool of autocommit connections for the autosave: :data:`_SAVE`, :data:`_TOUCH`,
    and the session look-up of a cache miss (:data:`_SESSION`)."""

    timeout_s = 5.0

    def __init__(self, database_url: str, *, size: int = 8, timeout_s: float | None = None) -> None:
        if timeout_s is not None:
            self.timeout_s = timeout_s
        from ..db import lock_timeout_option

        self._pool = AsyncConnectionPool(
            conninfo_of(database_url), min_size=size, max_size=size, open=False, name="fast-save",
            # prepared on first use per connection; a lock wait (a finalisation holding the attempt)
            # is bounded like the turn: past it the general path decides (and answers 503 if it must wait too)
            kwargs={"autocommit": True, "prepare_threshold": 0, "options": lock_timeout_option(self.timeout_s)},
        )
        # Requests beyond the pool's size queue here rather than in the pool: the pool's waiting
        # list costs a condition variable and a timeout per waiter (about 8 % of the autosave's CPU
        # at 64 saves in flight in py-spy), a semaphore's only a future.
        self._turns = asyncio.Semaphore(size)
        self._opened = False

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection after this request's turn, waiting as long as the pool would have."""
        await self.open()
        if self._turns.locked():
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self._turns.acquire()
            except TimeoutError:
                raise PoolTimeout(f"no fast-save connection within {self.timeout_s} s") from None
        else:
            await self._turns.acquire()
        try:
            async with self._pool.connection(timeout=self.timeout_s) as conn:
                yield conn
        finally:
            self._turns.release()

    async def open(self) -> None:
        if not self._opened:
            await self._pool.open(wait=False)
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
            self._opened = False

    async def session_row(self, th: str) -> Any | None:
        """The signed-in person of a session token hash (as the session query answers it), or None."""
        async with self._connection() as conn:
            cur = conn.cursor(row_factory=namedtuple_row)
            await cur.execute(_SESSION, {"th": th}, prepare=True)
            row = await cur.fetchone()
        if row is None:
            return None
        return row._replace(expires_at=row.expires_at.astimezone(UTC))

    async def save(
        self, *, student_id: int, attempt_id: uuid.UUID, position: int, choice: int | None, seq: int,
        now: datetime, grace_s: float, session: str,
    ) -> datetime | None:
        """Store the answer if every rule holds; the committed ``saved_at``, or ``None``: use the general path.

        ``None`` is also the answer when the pool cannot serve (the general path then
        reports the database's trouble in the usual way).
        """
        if not (1 <= seq < 2**63 and 0 < position < 2**15 and (choice is None or 0 <= choice < 2**15)):
            return None  # out of the columns' range: the general path words the refusal
        params = {
            "attempt_id": attempt_id, "position": position, "choice": choice, "seq": seq, "now": now,
            "student_id": student_id, "in_progress": AttemptStatus.IN_PROGRESS.value, "session": session,
            # is_expired(deadline, now, grace) is now > deadline + grace; accepted while deadline >= now - grace.
            "cutoff": now - timedelta(seconds=grace_s),
        }
        try:
            async with self._connection() as conn:
                cur = await conn.execute(_SAVE, params, prepare=True)
                row = await cur.fetchone()
                if row is None:
                    return None
                saved_at, last_seen_at = row
                if exam_day.presence_due(last_seen_at, now):
                    # Last-seen for the live view: at most every 15 s, after the answer is committed.
                    await conn.execute(_TOUCH, {"now": now, "attempt_id": attempt_id}, prepare=True)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # Committed or not, the general path is safe to run next: a replayed seq is not applied twice.
            log.warning("fast save path unavailable (%s); using the general path", exc.__class__.__name__)
            return None
        return saved_at.astimezone(UTC)


def fast_saves_for(database_url: str, *, size: int, timeout_s: float | None = None) -> FastSaves | None:
    """The fast path where it exists (PostgreSQL); SQLite keeps the general path."""
    if not database_url.startswith("postgresql") or size <= 0:
        return None
    return FastSaves(database_url, size=size, timeout_s=timeout_s)
