"""Sign-in, server-side sessions, throttling and password changes (R1, R5, R6).

A session is a random token in an HttpOnly cookie; the database keeps only its
SHA-256, its CSRF token and its expiry. Every sign-in creates a new session
(no fixation); sign-out and password changes revoke sessions.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..clock import Clock
from ..domain.actors import Actor
from ..domain.roles import Role
from ..errors import InvalidInput, PermissionDenied, TooManyRequests
from ..i18n import N_, normalise_language
from ..kv import KeyValue
from ..security import passwords
from ..tables import auth_sessions, users
from .audit import record

log = logging.getLogger(__name__)


class SessionRateLimit:
    """At most ``per_minute`` requests per signed-in session (a runaway script or a stolen
    cookie hammering the server is refused, not served). If the shared store is down, the
    request is served: an exam must not stop because a counter did.

    The count lives in the shared store, so it holds across processes and machines. To keep
    the store off the hot path, each process adds its requests in batches of up to
    ``per_minute // 100`` (12 at the default 1,200/min; 1 — exact — for limits under 200):
    a session may go over by at most one batch per process before it is refused.
    """

    WINDOW_S = 60

    def __init__(self, kv: KeyValue, per_minute: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.kv = kv
        self.per_minute = per_minute
        self._monotonic = monotonic
        # token hash -> [local window end, requests not yet added to the store, the store's last total]
        self._local: dict[str, list[float]] = {}

    async def check(self, th: str) -> None:
        if self.per_minute <= 0:
            return
        now = self._monotonic()
        entry = self._local.get(th)
        if entry is None or entry[0] <= now:
            if len(self._local) >= 100_000:
                self._local = {k: e for k, e in self._local.items() if e[0] > now}
            entry = self._local[th] = [now + self.WINDOW_S, 0, 0]
        entry[1] += 1
        if entry[1] >= max(1, min(20, self.per_minute // 100)):
            pending, entry[1] = int(entry[1]), 0
            try:
                entry[2] = await self.kv.hit(f"rate:{th[:32]}", self.WINDOW_S, pending)
            except Exception:  # noqa: BLE001
                return
        if entry[2] + entry[1] > self.per_minute:
            raise TooManyRequests(
                "rate_limited", N_("Too many requests from this session; wait a minute."), retry_after=self.WINDOW_S
            )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    csrf_token: str
    actor: Actor
    must_change_password: bool


@dataclass(frozen=True, slots=True)
class SessionInfo:
    actor: Actor
    csrf_token: str
    token_hash: str
    expires_at: datetime
    # The one-time password the administrator printed is still in use: nothing but changing it.
    must_change_password: bool = False


class SessionCache:
    """Sessions resolved recently, so the hot routes skip one query.

    How long an entry is reused depends on whether revocations reach this process:

    * *synced* (the Redis revocation bus, :mod:`exam_engine.services.session_bus`, is
      subscribed): ``ttl_s`` (60 s by default). A sign-out, a password change or reset in
      any process evicts here within milliseconds; the TTL only bounds how long a lost
      message could matter, and a lost subscription clears the cache at once.
    * otherwise (no Redis, or the bus reconnecting): ``unsynced_ttl_s`` (5 s): a revocation
      made by another process (a second node, the ``exam-engine user reset-password`` command) is
      seen within that bound.

    Evictions made in this process are immediate. An evicted session (or user) is not
    cached again for ``tombstone_s``: a request that read the session row before the
    revoking transaction committed must not put the old row back. Expiry is still checked
    against the server's clock on every request; ``ttl_s = 0`` disables the cache.
    """

    def __init__(
        self,
        ttl_s: float = 60.0,
        unsynced_ttl_s: float = 5.0,
        max_entries: int = 50_000,
        monotonic: Callable[[], float] = time.monotonic,
        tombstone_s: float = 10.0,
    ) -> None:
        self.ttl_s = ttl_s
        self.unsynced_ttl_s = min(ttl_s, unsynced_ttl_s)
        self.max_entries = max_entries
        self.tombstone_s = tombstone_s
        self._monotonic = monotonic
        self._entries: dict[str, tuple[float, SessionInfo]] = {}
        self._tombstones: dict[str | int, float] = {}
        self._synced = False
        # Called with each eviction made here ("t:<token hash>" or "u:<user id>"): the bus publishes it.
        self.on_evict: Callable[[str], None] | None = None

    @property
    def synced(self) -> bool:
        return self._synced

    def set_synced(self, synced: bool) -> None:
        """The bus's subscription came up or went down: what was cached may have missed revocations."""
        self._entries.clear()
        self._synced = synced

    def get(self, th: str) -> SessionInfo | None:
        entry = self._entries.get(th)
        if entry is None:
            return None
        if entry[0] <= self._monotonic():
            self._entries.pop(th, None)
            return None
        return entry[1]

    def put(self, info: SessionInfo) -> None:
        ttl = self.ttl_s if self._synced else self.unsynced_ttl_s
        if ttl <= 0:
            return
        now = self._monotonic()
        if self._tombstones and (self._buried(info.token_hash, now) or self._buried(info.actor.user_id, now)):
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        # Spread over the second half of the TTL: sessions resolved together (a whole hall signing in)
        # must not all go back to the database in the same instant, in the middle of the exam.
        self._entries[info.token_hash] = (now + ttl * (0.5 + 0.5 * random.random()), info)

    def _buried(self, key: str | int | None, now: float) -> bool:
        until = self._tombstones.get(key) if key is not None else None
        if until is None:
            return False
        if until <= now:
            del self._tombstones[key]
            return False
        return True

    def _bury(self, key: str | int) -> None:
        now = self._monotonic()
        if len(self._tombstones) >= 1000:  # prune the stale ones now and then
            self._tombstones = {k: t for k, t in self._tombstones.items() if t > now}
        self._tombstones[key] = now + self.tombstone_s

    def evict(self, th: str) -> None:
        """This session ended here (sign-out): forget it, and tell the other processes."""
        self.forget(f"t:{th}")
        if self.on_evict is not None:
            self.on_evict(f"t:{th}")

    def evict_user(self, user_id: int | None) -> None:
        """Every session of this person changed (password, language, reset): forget them everywhere."""
        if user_id is None:
            return
        self.forget(f"u:{user_id}")
        if self.on_evict is not None:
            self.on_evict(f"u:{user_id}")

    def forget(self, message: str) -> None:
        """Apply one eviction ("t:<token hash>" or "u:<user id>"), made here or announced by another process."""
        kind, _, value = message.partition(":")
        if kind == "t":
            self._bury(value)
            self._entries.pop(value, None)
        elif kind == "u" and value.lstrip("-").isdecimal():
            user_id = int(value)
            self._bury(user_id)
            for th in [th for th, (_, info) in self._entries.items() if info.actor.user_id == user_id]:
                del self._entries[th]
        else:
            log.warning("ignoring a malformed session eviction %r", message[:80])


@dataclass(frozen=True)
class ThrottlePolicy:
    """The numbers of :class:`LoginThrottle` (docs/security.md, "Sign-in throttling").

    A delay after ``n`` failures counted by one key is ``first_s * 2 ** ((n - free) // step)``,
    capped, and nothing below ``free``.
    """

    window_s: int = 3600  # failures of a (login, client) pair and of a client: remembered this long after the last
    pair_free: int = 5  # failures of one login from one client before it waits
    pair_first_s: float = 15.0  # ... 15 s, 30 s, 60 s ... after each further failure
    pair_cap_s: float = 900.0
    client_free: int = 20  # failures from one client (any logins) before the client waits
    client_step: int = 5
    client_first_s: float = 0.5  # ... 0.5 s, doubled every 5 failures ...
    client_cap_s: float = 10.0  # ... at most 10 s: a classroom behind one address waits, never for long
    account_free: int = 10  # failures of one login from all clients before *unknown* clients wait
    account_step: int = 10
    account_first_s: float = 1.0
    account_cap_s: float = 5.0  # a short, bounded wait for the owner on another computer
    account_limit: int = 100  # NIST SP 800-63B 5.2.2: at most 100 consecutive failures per account;
    account_window_s: int = (
        86400  # beyond it only clients the account signed in from before are heard (24 h after the last)
    )
    known_s: int = 30 * 86400  # a client is "known" to an account this long after a successful sign-in
    successes_per_min: int = 10  # successful sign-ins per account per minute


def throttle_delay(count: int, *, free: int, first_s: float, cap_s: float, step: int = 1) -> float:
    """Seconds to wait after ``count`` failures: none below ``free``, then doubling every ``step``, capped."""
    if count < free:
        return 0.0
    return min(cap_s, first_s * 2 ** min(30, (count - free) // step))


class LoginThrottle:
    """Failed sign-ins and password changes slow down the guesser, not the owner.

    Three counters, each with a growing delay (a refusal with ``Retry-After``, no sleeping
    on the server):

    * per (login, client): the strongest; the person typing wrong passwords waits;
    * per client (any logins): a guesser spraying many logins from one address slows down
      to a few attempts a minute, while the others behind the same address wait at most
      ``client_cap_s``;
    * per login (all clients): a short wait (``account_cap_s``) for clients that never signed
      in to this account, and after ``account_limit`` consecutive failures those clients are
      refused until the count's window ends. A client the account signed in from before
      (``known_s``) is never held by other clients' failures.

    Correct sign-ins per login are limited too (``successes_per_min``): a script signing in
    in a loop cannot fill the session table or the Argon2 queue. If the shared store is down,
    sign-in still works (availability on exam day beats a counter).
    """

    def __init__(
        self,
        kv: KeyValue,
        max_failures: int = 5,
        window_s: int = 3600,
        policy: ThrottlePolicy | None = None,
        *,
        successes_per_min: int | None = None,
    ) -> None:
        base = policy or ThrottlePolicy()
        changes: dict[str, Any] = {"pair_free": max_failures, "window_s": window_s}
        if successes_per_min is not None:
            changes["successes_per_min"] = successes_per_min
        self.kv = kv
        self.policy = replace(base, **changes)

    @staticmethod
    def _keys(login: str, ip: str | None) -> dict[str, str]:
        account, client = login.lower()[:64], ip or "-"
        return {
            "pair": f"login-fail:{account}|{client}",
            "pair_wait": f"login-wait:{account}|{client}",
            "client": f"login-fail-ip:{client}",
            "client_wait": f"login-wait-ip:{client}",
            "account": f"login-fail-acct:{account}",
            "account_wait": f"login-wait-acct:{account}",
            "known": f"login-known:{account}|{client}",
            "ok": f"login-ok:{account}",
        }

    async def check(self, login: str, ip: str | None) -> None:
        """Refuse (429) before the password is even verified, if this attempt must wait."""
        keys = self._keys(login, ip)
        names = ("pair_wait", "client_wait", "account_wait", "account", "known", "ok")
        try:
            seen = dict(zip(names, await self.kv.peek([keys[n] for n in names]), strict=True))
        except Exception:  # noqa: BLE001 - a broken counter must not stop sign-in
            log.warning("login throttle store unavailable; allowing sign-in attempt")
            return
        p = self.policy
        known = seen["known"][0] > 0
        if not known and seen["account"][0] >= p.account_limit:
            raise _wait(
                "account_protected",
                N_(
                    "Too many failed sign-in attempts on this account. Sign in from a computer you have used "
                    "before, or try again in {minutes} minutes."
                ),
                seen["account"][1],
            )
        if seen["ok"][0] >= p.successes_per_min:
            raise self._too_many_sign_ins(seen["ok"][1])
        wait = max(seen["pair_wait"][1], seen["client_wait"][1], 0.0 if known else seen["account_wait"][1])
        if wait > 0:
            if wait >= 60:
                raise _wait(
                    "too_many_attempts", N_("Too many failed sign-in attempts. Try again in {minutes} minutes."), wait
                )
            raise _wait("too_many_attempts", N_("Too many failed sign-in attempts. Try again in {seconds} s."), wait)
        # A place among this minute's sign-ins is taken before the password is verified (released if it
        # is wrong): counted after, 20 concurrent sign-ins would all pass the check above.
        try:
            taken = await self.kv.hit(keys["ok"], 60)
            if taken > p.successes_per_min:
                await self.kv.hit(keys["ok"], 60, -1)
                raise self._too_many_sign_ins(60.0)
        except TooManyRequests:
            raise
        except Exception:  # noqa: BLE001
            log.warning("login throttle store unavailable; sign-in not counted")

    @staticmethod
    def _too_many_sign_ins(seconds: float) -> TooManyRequests:
        return _wait("too_many_sign_ins", N_("Too many sign-ins to this account; try again in a minute."), seconds)

    async def failed(self, login: str, ip: str | None) -> None:
        keys, p = self._keys(login, ip), self.policy
        try:
            await self.kv.hit(keys["ok"], 60, -1)  # the place :meth:`check` took was not a sign-in
            # Sliding: a count lives its window after the last failure, so a patient guesser's delays keep growing.
            pair = await self.kv.hit(keys["pair"], p.window_s, sliding=True)
            client = await self.kv.hit(keys["client"], p.window_s, sliding=True)
            account = await self.kv.hit(keys["account"], p.account_window_s, sliding=True)
            for key, delay in (
                ("pair_wait", throttle_delay(pair, free=p.pair_free, first_s=p.pair_first_s, cap_s=p.pair_cap_s)),
                (
                    "client_wait",
                    throttle_delay(
                        client, free=p.client_free, first_s=p.client_first_s, cap_s=p.client_cap_s, step=p.client_step
                    ),
                ),
                (
                    "account_wait",
                    throttle_delay(
                        account,
                        free=p.account_free,
                        first_s=p.account_first_s,
                        cap_s=p.account_cap_s,
                        step=p.account_step,
                    ),
                ),
            ):
                if delay > 0:
                    await self.kv.block(keys[key], delay)
        except Exception:  # noqa: BLE001
            log.warning("login throttle store unavailable; failure not counted")

    async def succeeded(self, login: str, ip: str | None) -> None:
        """The password was right: this pair and the account start afresh and the client is known
        (the sign-in itself was counted by :meth:`check`)."""
        keys, p = self._keys(login, ip), self.policy
        try:
            for name in ("pair", "pair_wait", "account", "account_wait"):
                await self.kv.reset(keys[name])
            await self.kv.block(keys["known"], p.known_s)
        except Exception:  # noqa: BLE001
            log.warning("login throttle store unavailable; success not recorded")

    async def forgive(self, login: str) -> None:
        """An administrator reset the password: the account's failures no longer hold anyone
        (the person signs in with the printed password from any computer)."""
        keys = self._keys(login, None)
        try:
            for name in ("account", "account_wait"):
                await self.kv.reset(keys[name])
        except Exception:  # noqa: BLE001
            log.warning("login throttle store unavailable; account failures not cleared")


WAIT_CODES = ("too_many_attempts", "too_many_sign_ins", "account_protected")  # what _wait answers (429)


def _wait(code: str, msgid: str, seconds: float) -> TooManyRequests:
    assert code in WAIT_CODES, code
    retry = max(1, math.ceil(seconds))
    return TooManyRequests(code, msgid, retry_after=retry, seconds=retry, minutes=max(1, math.ceil(retry / 60)))


BAD_CREDENTIALS = ("bad_credentials", N_("Wrong login or password."))
DISABLED_NOTE = {"account_disabled": True}  # the audit page: "Account disabled: yes"


def account_disabled() -> PermissionDenied:
    return PermissionDenied(
        "account_disabled",
        N_("Your account is disabled. Ask the academy's administration (the education-methodology centre) about it."),
    )


def _actor(row: object, ip: str | None) -> Actor:
    return Actor(
        user_id=row.id,
        login=row.login,
        role=Role(row.role),
        language=row.language,  # type: ignore[attr-defined]
        full_name=row.full_name,
        ip=ip,  # type: ignore[attr-defined]
    )


async def sign_in(
    engine: AsyncEngine,
    *,
    login: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
    clock: Clock,
    ttl_s: int,
    throttle: LoginThrottle,
    max_sessions: int = 0,
    cache: SessionCache | None = None,
    replaces: str | None = None,
) -> SignedIn | None:
    """Sign in, or return ``None`` after recording the failure.

    ``replaces``: the hash of the session token the browser already sent. A sign-in never keeps it
    (no fixation: the new session has a new token), and ends it, whoever's it was, so a browser
    signed in anew holds one session — the person before at a shared computer is signed out.

    The password is verified with no database connection held: during a login storm the
    Argon2 queue must not starve the pool that every autosave needs. With ``max_sessions``,
    the person's oldest open sessions beyond it end (recorded, and dropped from every
    process's cache through ``cache``).
    """
    await throttle.check(login, ip)
    async with engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.login == login))).first()
    ok = await passwords.verify_password_async(row.password_hash if row else None, password)
    now = clock.now()
    async with engine.begin() as conn:
        if not ok or row is None or not row.is_active:
            if ok and row is not None:
                # The right password of a disabled account: said as such (the password proves it is
                # theirs, so a guesser learns nothing), recorded, and no session opened.
                await record(
                    conn, now, f"anon:{ip or '-'}", "auth.login_refused", f"user:{row.id}", None, DISABLED_NOTE
                )
            else:
                await throttle.failed(login, ip)
                await record(conn, now, f"anon:{ip or '-'}", "auth.login_failed", f"login:{login[:64]}")
            signed, ended = None, []
        else:
            await throttle.succeeded(login, ip)
            if max_sessions > 0:
                await _lock_person(conn, row.id)
            signed = await _open_session(conn, row, ip=ip, user_agent=user_agent, now=now, ttl_s=ttl_s)
            ended = (
                await _end_oldest_sessions(conn, signed.actor, token_hash(signed.token), max_sessions, now)
                if max_sessions > 0
                else []
            )
            if replaces is not None:
                ended += await _end_replaced_session(conn, signed.actor, replaces, now)
    if signed is None:
        if ok and row is not None:  # recorded above, committed; now refused
            raise account_disabled()
        return None
    if cache is not None:
        for th in ended:  # after the commit: another process must not re-read them as open
            cache.evict(th)
    return signed


async def _open_session(
    conn: AsyncConnection, row: Any, *, ip: str | None, user_agent: str | None, now: datetime, ttl_s: int
) -> SignedIn:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await conn.execute(
        auth_sessions.insert().values(
            token_hash=token_hash(token),
            user_id=row.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
            ip=ip,
            user_agent=(user_agent or "")[:300],
        )
    )
    actor = _actor(row, ip)
    await record(conn, now, actor, "auth.login", f"user:{row.id}")
    return SignedIn(token=token, csrf_token=csrf, actor=actor, must_change_password=bool(row.must_change_password))


async def _lock_person(conn: AsyncConnection, user_id: int) -> None:
    """Concurrent sign-ins of one person take turns from here to their commit, so each counts the
    sessions the others opened (otherwise each kept the cap of its own view). ``FOR NO KEY UPDATE``:
    the session rows' foreign key takes ``KEY SHARE`` on the same row, which must not conflict."""
    await conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update(key_share=True))


async def _end_oldest_sessions(conn: AsyncConnection, actor: Actor, new: str, keep: int, now: datetime) -> list[str]:
    """End this person's oldest open sessions so that ``keep`` remain, the one just opened (``new``) among them.

    The caller locked the person's row before opening the session (:func:`_lock_person`).
    """
    rows = (
        await conn.execute(
            select(auth_sessions.c.token_hash, auth_sessions.c.created_at, auth_sessions.c.ip)
            .where(auth_sessions.c.user_id == actor.user_id)
            .where(auth_sessions.c.token_hash != new)
            .where(auth_sessions.c.revoked_at.is_(None))
            .where(auth_sessions.c.expires_at > now)
            .order_by(auth_sessions.c.created_at.desc(), auth_sessions.c.token_hash)
        )
    ).all()
    ended = rows[keep - 1 :]
    if not ended:
        return []
    await conn.execute(
        update(auth_sessions)
        .where(auth_sessions.c.token_hash.in_([r.token_hash for r in ended]))
        .where(auth_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    for r in ended:
        await record(
            conn,
            now,
            actor,
            "auth.session_ended",
            f"user:{actor.user_id}",
            None,
            {"reason": "session_limit", "limit": keep, "opened_at": r.created_at.isoformat(), "ip": r.ip},
        )
    return [r.token_hash for r in ended]


async def _end_replaced_session(conn: AsyncConnection, actor: Actor, th: str, now: datetime) -> list[str]:
    """End the session whose cookie the browser sent with its new sign-in (recorded for its owner)."""
    owner = (
        await conn.execute(
            update(auth_sessions)
            .where(auth_sessions.c.token_hash == th)
            .where(auth_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(auth_sessions.c.user_id)
        )
    ).scalar()
    if owner is None:
        return []
    await record(conn, now, actor, "auth.session_ended", f"user:{owner}", None, {"reason": "signed_in_again"})
    return [th]


_SESSION_QUERY = (
    select(
        users.c.id,
        users.c.login,
        users.c.role,
        users.c.language,
        users.c.full_name,
        auth_sessions.c.csrf_token,
        auth_sessions.c.expires_at,
        users.c.must_change_password,
    )
    .select_from(auth_sessions.join(users, users.c.id == auth_sessions.c.user_id))
    .where(auth_sessions.c.token_hash == bindparam("th"))
    .where(auth_sessions.c.revoked_at.is_(None))
    .where(users.c.is_active.is_(True))
)


async def resolve_session(
    conn: AsyncConnection,
    token: str,
    now: datetime,
    ip: str | None,
    cache: SessionCache | None = None,
) -> SessionInfo | None:
    th = token_hash(token)
    info = cache.get(th) if cache is not None else None
    if info is None:
        row = (await conn.execute(_SESSION_QUERY, {"th": th})).first()
        if row is None:
            return None
        info = _resolved(row, th, cache, ip)
    return _current(info, now, ip)


async def resolve_session_outside(
    engine: Any,
    token: str,
    now: datetime,
    ip: str | None,
    cache: SessionCache | None = None,
    lookup: Callable[[str], Awaitable[Any]] | None = None,
) -> SessionInfo | None:
    """:func:`resolve_session` for a route that holds no transaction: a query only on a cache miss.

    ``lookup`` (the hot path's one-statement look-up on PostgreSQL) answers the same row as
    the session query, or ``None``; without it a pooled connection runs the query.
    """
    th = token_hash(token)
    info = cache.get(th) if cache is not None else None
    if info is not None:
        return _current(info, now, ip)
    if lookup is None:
        async with engine.connect() as conn:
            return await resolve_session(conn, token, now, ip, cache)
    row = await lookup(th)
    if row is None:
        return None
    return _current(_resolved(row, th, cache, ip), now, ip)


def _resolved(row: Any, th: str, cache: SessionCache | None, ip: str | None) -> SessionInfo:
    """The session-query row as a SessionInfo, remembered in the cache (with the address it came from)."""
    info = SessionInfo(
        actor=_actor(row, ip),
        csrf_token=row.csrf_token,
        token_hash=th,
        expires_at=row.expires_at,
        must_change_password=bool(row.must_change_password),
    )
    if cache is not None:
        cache.put(info)
    return info


def _current(info: SessionInfo, now: datetime, ip: str | None) -> SessionInfo | None:
    if info.expires_at <= now:
        return None
    if info.actor.ip == ip:  # the usual case: the same machine as the request that was cached
        return info
    return replace(info, actor=replace(info.actor, ip=ip))


async def sign_out(conn: AsyncConnection, th: str, now: datetime, actor: Actor) -> None:
    await conn.execute(
        update(auth_sessions)
        .where(auth_sessions.c.token_hash == th)
        .where(auth_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await record(conn, now, actor, "auth.logout", f"user:{actor.user_id}")


PASSWORD_CHANGE_ACTIONS = ("auth.password_changed", "auth.password_change_failed")


async def change_password(
    conn: AsyncConnection,
    actor: Actor,
    *,
    current: str,
    new: str,
    now: datetime,
    keep_session: str | None,
    throttle: LoginThrottle,
) -> str | None:
    """Change the signed-in person's password, or raise after recording the refusal in ``conn``.

    Every session of the person ends, the one asking too: ``keep_session`` (its token hash) goes on
    under a new token with the same CSRF token and expiry, which is returned for the caller's cookie.
    A cookie stolen from this very session — the usual reason to change a password — stops working.

    A wrong current password is a failed sign-in of this account from this client (the same
    throttle): a stolen session cookie must not become a way to guess the password. The caller
    commits ``conn`` even when this raises (the refusal's audit row), so nothing is changed
    before every check has passed.
    """
    await throttle.check(actor.login, actor.ip)
    row = (await conn.execute(select(users.c.password_hash).where(users.c.id == actor.user_id))).first()
    try:
        if row is None or not await passwords.verify_password_async(row.password_hash, current):
            await throttle.failed(actor.login, actor.ip)
            raise InvalidInput("bad_current_password", N_("The current password is wrong."))
        if passwords.normalise(new) == passwords.normalise(current):
            # Keeping the printed one-time password would lift the "change it first" rule while the
            # password the administrator saw (and printed) kept working.
            raise InvalidInput(
                "password_unchanged",
                N_("The new password is the same as the current one; choose a different new password."),
            )
        passwords.check_acceptable(new, login=actor.login)
    except InvalidInput as refused:
        await record(
            conn, now, actor, "auth.password_change_failed", f"user:{actor.user_id}", None, {"code": refused.code}
        )
        raise
    new_hash = await passwords.hash_password_async(new)
    await conn.execute(
        update(users)
        .where(users.c.id == actor.user_id)
        .values(password_hash=new_hash, must_change_password=False, password_changed_at=now)
    )
    renewed = await _renew_session(conn, actor.user_id, keep_session, now) if keep_session else None
    # Every session of this person ends (the asking one lives on under ``renewed``): a leaked
    # password, or a cookie taken from this browser, stops working everywhere (R5).
    await conn.execute(
        update(auth_sessions)
        .where(auth_sessions.c.user_id == actor.user_id)
        .where(auth_sessions.c.revoked_at.is_(None))
        .where(auth_sessions.c.token_hash != (token_hash(renewed) if renewed else ""))
        .values(revoked_at=now)
    )
    await throttle.succeeded(actor.login, actor.ip)
    await record(conn, now, actor, "auth.password_changed", f"user:{actor.user_id}")
    return renewed


async def _renew_session(conn: AsyncConnection, user_id: int | None, old: str, now: datetime) -> str | None:
    """A new token for the session ``old`` (a token hash): same person, CSRF token, expiry, address."""
    row = (
        await conn.execute(
            select(auth_sessions).where(
                auth_sessions.c.token_hash == old,
                auth_sessions.c.user_id == user_id,
                auth_sessions.c.revoked_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    token = secrets.token_urlsafe(32)
    await conn.execute(
        auth_sessions.insert().values(
            token_hash=token_hash(token),
            user_id=row.user_id,
            csrf_token=row.csrf_token,  # the pages open in other tabs keep working with the new cookie
            created_at=now,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
        )
    )
    return token


async def set_language(conn: AsyncConnection, actor: Actor, language: str) -> str:
    lang = normalise_language(language)
    if lang != language:
        raise InvalidInput("unsupported_language", N_("Language must be kk or ru."))
    await conn.execute(update(users).where(users.c.id == actor.user_id).values(language=lang))
    return lang
