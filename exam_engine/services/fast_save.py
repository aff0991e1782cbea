"""The autosave's fast path on PostgreSQL: group commit — one statement, one commit for many saves.

The general path (:func:`exam_engine.services.attempts.save_answer`) costs a ``BEGIN``,
a share-locked read, the upsert and a ``COMMIT``: four round trips through SQLAlchemy.
Here the common case — the student's own attempt, in progress, before the deadline plus
grace, from the session it is bound to, a choice that exists — is written by
:data:`_SAVE_GROUP`, run in autocommit on a raw psycopg connection from a small pool of its
own, for every save that is waiting (issue 24):

* the first save to find a committer free is written at once, alone (no waiting window);
  the saves that arrive while a commit is in flight form the next group, written by one
  statement — one transaction, one commit, one WAL flush — for all of them;
* a CTE share-locks each attempt row (``FOR SHARE OF attempts``), as the general path does,
  so an answer is either stored before finalisation reads it or refused;
* each row keeps its own checks; the ``INSERT … ON CONFLICT … WHERE answers.seq <
  excluded.seq`` writes only the rows whose every rule holds, and returns them;
* each request is answered after the group's commit (``synchronous_commit`` as configured
  — on by default — so it is durable), with its own row's outcome.

Whenever a save's row is *not* written (a refusal, a replayed sequence number, another
session, a paused attempt, an attempt being finalised…) :meth:`FastSaves.save` answers
``None`` for that save alone and the caller runs the general path, which decides and words
the refusal. So the rules have one author — :mod:`exam_engine.domain.attempts` — and this
module only restates their happy case in SQL; the tests run the same scenarios through both
paths (SQLite takes the general one: its one writer is its single connection).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..domain import exam_day
from ..domain.attempts import AttemptStatus
from ..errors import ServerBusy
from ..i18n import N_
from ..observability import AUTOSAVE_GROUP_SIZE as GROUP_SIZE

log = logging.getLogger(__name__)

# One group of saves, one statement, one transaction (autocommit: its commit is the statement's).
# The group arrives as parallel arrays (unnest), so the statement has one shape — one plan —
# whatever the group's size. Each row keeps its own checks: a row that fails one is simply not
# inserted and not returned, and its request takes the general path; the others are applied.
# ``SKIP LOCKED``: an attempt being finalised (FOR UPDATE) is not waited for here — that one save
# takes the general path, which waits for the lock within its bound — so it holds up nobody else.
# ``ORDER BY``: concurrent groups take the answers' row locks in one order (no deadlock).
_SAVE_GROUP = """
WITH r AS (
    SELECT * FROM unnest(%(attempt_id)s::uuid[], %(student_id)s::bigint[], %(position)s::smallint[],
                         %(choice)s::smallint[], %(seq)s::bigint[], %(now)s::timestamptz[],
                         %(cutoff)s::timestamptz[], %(session)s::text[])
                  AS r(attempt_id, student_id, position, choice, seq, now, cutoff, session)
), a AS (
    SELECT r.attempt_id, r.position, r.choice, r.seq, r.now, l.last_seen_at
      FROM r
      JOIN attempts at ON at.id = r.attempt_id
      JOIN attempt_live l ON l.attempt_id = r.attempt_id
      JOIN attempt_items i ON i.attempt_id = r.attempt_id AND i.position = r.position
     WHERE at.student_id = r.student_id
       AND at.status = %(in_progress)s
       AND at.deadline_at >= r.cutoff
       AND l.bound_session = r.session
       AND l.paused_at IS NULL
       AND (r.choice IS NULL OR (r.choice >= 0 AND r.choice < json_array_length(i.options)))
       FOR SHARE OF at SKIP LOCKED
), saved AS (
    INSERT INTO answers (attempt_id, position, choice, seq, saved_at)
    SELECT a.attempt_id, a.position, a.choice, a.seq, a.now FROM a ORDER BY a.attempt_id, a.position
    ON CONFLICT (attempt_id, position) DO UPDATE
       SET choice = excluded.choice, seq = excluded.seq, saved_at = excluded.saved_at
     WHERE answers.seq < excluded.seq
    RETURNING attempt_id, position, saved_at
)
SELECT saved.attempt_id, saved.position, saved.saved_at, a.last_seen_at
  FROM saved JOIN a ON a.attempt_id = saved.attempt_id AND a.position = saved.position
"""

# The session query of services/auth.py, for the hot routes' cache misses.
_SESSION = """
SELECT u.id, u.login, u.role, u.language, u.full_name, s.csrf_token, s.expires_at, u.must_change_password
  FROM auth_sessions s JOIN users u ON u.id = s.user_id
 WHERE s.token_hash = %(th)s AND s.revoked_at IS NULL AND u.is_active
"""

# Last-seen for the live view, at most every 15 s per attempt: the group's due ones in one statement.
# Its commit does not wait for the WAL flush (``synchronous_commit`` off for this one transaction:
# ``set_config(…, true)`` lasts until its end; the committer's connection is autocommit): last-seen
# is not academic data — a crash may lose the last second of it, which the next save writes again —
# and the committer's next group should not wait behind a second fsync (~0.2 ms here, more on a
# busy disk). The answers' own statement keeps the configured durability.
_TOUCH = """
UPDATE attempt_live l SET last_seen_at = t.now
  FROM unnest(%(attempt_id)s::uuid[], %(now)s::timestamptz[]) AS t(attempt_id, now)
 WHERE l.attempt_id = t.attempt_id AND set_config('synchronous_commit', 'off', true) IS NOT NULL
"""


def conninfo_of(database_url: str) -> str:
    """libpq's form of a SQLAlchemy URL (``postgresql+psycopg://…`` → ``postgresql://…``)."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(slots=True)
class _Save:
    """One request's save, queued for a group: its row, and the future its request waits on."""

    attempt_id: uuid.UUID
    student_id: int
    position: int
    choice: int | None
    seq: int
    now: datetime
    cutoff: datetime
    session: str
    done: asyncio.Future[datetime | None | object]
    expires: float  # the loop's clock: past it, the request is answered server_busy (FastSaves._reap)


class FastSaves:
    """The autosave's group commit on PostgreSQL, and a small pool of autocommit connections
    for it and for the session look-up of a cache miss (:data:`_SESSION`).

    Leader/follower group commit: a save that finds fewer than ``groups`` groups in flight is
    written at once (no waiting window: a lone save costs what it did before); the saves that
    arrive while a group's commit is in flight queue up and the next free committer writes all
    of them — at most ``group_max`` — with one statement (:data:`_SAVE_GROUP`) in one
    transaction. Each request is answered after that commit, with its own row's outcome. The
    queue holds at most ``queue_max`` saves (beyond: ``server_busy``), and a request waits at
    most ``timeout_s`` for its commit (then ``server_busy``; a retry with the same sequence
    number is not applied twice).
    """

    timeout_s = 5.0

    def __init__(
        self,
        database_url: str,
        *,
        size: int = 8,
        timeout_s: float | None = None,
        groups: int = 2,
        group_max: int = 128,
        queue_max: int = 4096,
    ) -> None:
        if timeout_s is not None:
            self.timeout_s = timeout_s
        from ..db import lock_timeout_option

        self.groups, self.group_max, self.queue_max = max(1, groups), max(1, group_max), max(1, queue_max)
        self._pool = AsyncConnectionPool(
            conninfo_of(database_url),
            min_size=size + self.groups,
            max_size=size + self.groups,
            open=False,
            name="fast-save",
            # Prepared on first use per connection; a lock wait is bounded like the turn: past it the
            # general path decides (and answers 503 if it must wait too). Generic plans always: the
            # group statement is planned once per connection, not once per group. Its plan is
            # primary-key lookups for every row of the arrays (nested loops), right for 1 row and
            # for 128; planning it anew for each group (force_custom_plan, until 2026-12-07) cost
            # ~1.3 ms of PostgreSQL's CPU per group — 4× the statement itself at 6 saves a group
            # (docs/performance.md, "Planning once"). A table's statistics changing (ANALYZE)
            # invalidates the plan, and the pool renews its connections every hour.
            kwargs={
                "autocommit": True,
                "prepare_threshold": 0,
                "options": f"{lock_timeout_option(self.timeout_s)} -c plan_cache_mode=force_generic_plan",
            },
        )
        # Requests beyond the pool's size queue here rather than in the pool: the pool's waiting
        # list costs a condition variable and a timeout per waiter (about 8 % of the autosave's CPU
        # at 64 saves in flight in py-spy), a semaphore's only a future.
        self._turns = asyncio.Semaphore(size)
        self._queue: collections.deque[_Save] = collections.deque()
        self._committing = 0  # committers running (each holds one pooled connection)
        self._committers: set[asyncio.Task[None]] = set()
        # Every save not yet answered, in arrival order — which is also the order of their bounds, all
        # ``timeout_s`` long — and one timer, for the oldest: one timer per process rather than one
        # per request (arming and cancelling a timer per save was ~3 % of the process under load).
        self._waiting: collections.deque[_Save] = collections.deque()
        self._reaper: asyncio.TimerHandle | None = None
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
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        if self._committers:
            await asyncio.gather(*self._committers, return_exceptions=True)
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
        self,
        *,
        student_id: int,
        attempt_id: uuid.UUID,
        position: int,
        choice: int | None,
        seq: int,
        now: datetime,
        grace_s: float,
        session: str,
    ) -> datetime | None:
        """Store the answer, in the next group, if every rule holds; the committed ``saved_at``,
        or ``None``: use the general path.

        ``None`` is also the answer when the group could not be written (the general path then
        reports the database's trouble in the usual way). A full queue, or no commit within
        ``timeout_s``, raises ``server_busy`` (503 with Retry-After).
        """
        if not (1 <= seq < 2**63 and 0 < position < 2**15 and (choice is None or 0 <= choice < 2**15)):
            return None  # out of the columns' range: the general path words the refusal
        if len(self._queue) >= self.queue_max:
            log.warning("autosave queue full (%d saves waiting)", len(self._queue))
            raise _busy()
        await self.open()
        loop = asyncio.get_running_loop()
        # is_expired(deadline, now, grace) is now > deadline + grace; accepted while deadline >= now - grace.
        item = _Save(
            attempt_id,
            student_id,
            position,
            choice,
            seq,
            now,
            now - timedelta(seconds=grace_s),
            session,
            loop.create_future(),
            loop.time() + self.timeout_s,
        )
        waiting = self._waiting
        while waiting and waiting[0].done.done():  # the answered ones at the head (usually all but the last few)
            waiting.popleft()
        waiting.append(item)
        if self._reaper is None:
            self._reaper = loop.call_at(item.expires, self._reap)
        self._queue.append(item)
        self._lead()
        saved_at = await item.done
        if saved_at is _EXPIRED:
            log.warning("no autosave commit within %s s", self.timeout_s)
            raise _busy()
        return cast("datetime | None", saved_at)

    def _reap(self) -> None:
        """The bound of the wait: every save not answered ``timeout_s`` after it came is answered
        server_busy now (its row is then not written: ``_next_group`` skips it, a group in flight
        does not answer it again); then the timer is set for the oldest one still waiting."""
        self._reaper = None
        waiting = self._waiting
        now = asyncio.get_running_loop().time()
        while waiting:
            head = waiting[0]
            if head.done.done():
                waiting.popleft()
            elif head.expires <= now:
                waiting.popleft()
                head.done.set_result(_EXPIRED)
            else:
                self._reaper = asyncio.get_running_loop().call_at(head.expires, self._reap)
                break

    def _lead(self) -> None:
        """Start a committer when saves wait and fewer than ``groups`` run: the save that finds
        a committer free leads (its group goes at once); the others follow in the next group."""
        if self._queue and self._committing < self.groups:
            self._committing += 1
            task = asyncio.get_running_loop().create_task(self._commit_groups())
            self._committers.add(task)
            task.add_done_callback(self._committers.discard)

    def _next_group(self) -> list[_Save]:
        """The queue's head, in arrival order, up to ``group_max`` saves and up to the first one
        for a question already in the group (that one starts the next group: one statement cannot
        write a row twice, and the later save must be decided after the earlier one)."""
        group: list[_Save] = []
        keys: set[tuple[uuid.UUID, int]] = set()
        queue = self._queue
        while queue and len(group) < self.group_max:
            item = queue[0]
            if item.done.done():  # its request gave up waiting (answered 503): not written
                queue.popleft()
                continue
            key = (item.attempt_id, item.position)
            if key in keys:
                break
            keys.add(key)
            group.append(queue.popleft())
        return group

    async def _commit_groups(self) -> None:
        """A committer: takes a pooled connection and writes groups until the queue is empty."""
        try:
            async with self._pool.connection(timeout=self.timeout_s) as conn:
                while self._queue:
                    group = self._next_group()
                    if group:
                        await self._commit(conn, group)
        except (psycopg.Error, PoolTimeout) as exc:
            # The group being written was answered None by _commit; when no connection could be
            # had, the waiting saves are too: the general path decides and reports the trouble.
            log.warning(
                "autosave group commit unavailable (%s); its saves use the general path", exc.__class__.__name__
            )
            if isinstance(exc, PoolTimeout):
                while self._queue:
                    item = self._queue.popleft()
                    if not item.done.done():
                        item.done.set_result(None)
        finally:
            self._committing -= 1
            self._lead()  # a save queued while this committer was returning its connection

    async def _commit(self, conn: psycopg.AsyncConnection, group: list[_Save]) -> None:
        """One statement for the group; each request answered with its own row's outcome."""
        # The arrays as PostgreSQL array literals: one string each (psycopg's list dumper costs
        # several times more per element). Every element is plain: digits, a UUID, an ISO time;
        # the session — a hex digest — is quoted anyway.
        params = {
            "attempt_id": _array(str(g.attempt_id) for g in group),
            "student_id": _array(str(g.student_id) for g in group),
            "position": _array(str(g.position) for g in group),
            "choice": _array("NULL" if g.choice is None else str(g.choice) for g in group),
            "seq": _array(str(g.seq) for g in group),
            "now": _array(g.now.isoformat() for g in group),
            "cutoff": _array(g.cutoff.isoformat() for g in group),
            "session": _array(_quoted(g.session) for g in group),
            "in_progress": AttemptStatus.IN_PROGRESS.value,
        }
        try:
            cur = await conn.execute(_SAVE_GROUP, params, prepare=True)
            rows = await cur.fetchall()
        except BaseException:
            # Committed or not, the general path is safe to run next: a replayed seq is not applied twice.
            for g in group:
                if not g.done.done():
                    g.done.set_result(None)
            raise
        GROUP_SIZE.observe(len(group))
        applied = {(r[0], r[1]): r for r in rows}
        due: dict[uuid.UUID, datetime] = {}
        for g in group:
            row = applied.get((g.attempt_id, g.position))
            if row is not None and exam_day.presence_due(row[3], g.now):
                due[g.attempt_id] = max(g.now, due.get(g.attempt_id, g.now))
            if not g.done.done():
                g.done.set_result(row[2].astimezone(UTC) if row is not None else None)
        if due:
            # After the answers are committed and acknowledged: last-seen, for the live view.
            ids = sorted(due)
            await conn.execute(_TOUCH, {"attempt_id": ids, "now": [due[i] for i in ids]}, prepare=True)


_EXPIRED = object()  # a save's outcome when its bound ran out before its group's commit


def _array(elements: Iterable[str]) -> str:
    return "{" + ",".join(elements) + "}"


def _quoted(text: str) -> str:
    """One element of a text array literal, whatever it holds."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _busy() -> ServerBusy:
    """The refusal of every bounded wait (web/http.py ``server_busy``): 503 with Retry-After."""
    return ServerBusy("server_busy", N_("The server is busy. Try again in a few seconds."), retry_after=5)


def fast_saves_for(
    database_url: str,
    *,
    size: int,
    timeout_s: float | None = None,
    groups: int = 2,
    group_max: int = 128,
    queue_max: int = 4096,
) -> FastSaves | None:
    """The fast path where it exists (PostgreSQL); SQLite keeps the general path (its one writer)."""
    if not database_url.startswith("postgresql") or size <= 0:
        return None
    return FastSaves(
        database_url, size=size, timeout_s=timeout_s, groups=groups, group_max=group_max, queue_max=queue_max
    )
