"""The outbox relay: carries graded results to the journal, signed, until acknowledged.

The grading transaction writes an ``outbox`` row (topic ``exam.result``). The relay,
running in every server process next to the sweeper and once at start-up, picks
undelivered rows in batches with ``FOR UPDATE SKIP LOCKED`` (several processes never
carry the same row at once), signs each result with the engine's Ed25519 private key
and hands the signed envelope to the journal's :func:`journal_bridge.api.accept` in the
same transaction, then marks the row delivered. Delivery is at least once; the
journal's effect is exactly once, keyed by attempt id, so a redelivery (a crash after
the journal committed, a row re-queued by hand) changes nothing.

A refusal or an error counts a try and records ``last_error``; the row is retried after
a backoff that doubles with every try (1 s, 2 s, 4 s … capped at 5 minutes), measured
from the row's creation, so no extra column is needed.

Keys: ``EXAM_SIGNING_KEY_FILE`` names a PEM (PKCS#8) Ed25519 private key; without it a
key pair is generated once under ``<data_dir>/keys/`` (private key mode 600) with a
warning. The key is random, never derived from ``EXAM_SECRET_KEY``. The journal verifies
with the public half, so nothing without the private key can write an exam grade.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from journal_bridge import api as journal

from ..clock import Clock
from ..config import Settings
from ..errors import ConfigError
from ..tables import outbox
from .attempts import RESULT_TOPIC
from .audit import record

log = logging.getLogger(__name__)

RELAY_ACTOR = "system:relay"
KEY_FILE = "exam_signing_ed25519.pem"
PUBLIC_FILE = "exam_signing_ed25519.pub.pem"
MAX_BACKOFF_S = 300.0


@dataclass(frozen=True)
class BridgeKeys:
    """The engine's signing key and the journal's verification key (its public half)."""

    private: Ed25519PrivateKey = field(repr=False)
    public: Ed25519PublicKey


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: the exam-result signing key must be Ed25519, not {type(key).__name__}")
    return key


@functools.lru_cache(maxsize=8)
def _keys_at(path: Path, generate: bool) -> BridgeKeys:
    if not path.is_file():
        if not generate:
            raise ConfigError(f"EXAM_SIGNING_KEY_FILE={str(path)!r}: no such file")
        try:
            _write_private(path, Ed25519PrivateKey.generate())
            log.warning("no EXAM_SIGNING_KEY_FILE given: generated the exam-result signing key into %s "
                        "(keep it safe; the journal trusts only results signed with it)", path)
        except FileExistsError:
            pass  # another process generated it first: use theirs
    private = _read_private(path)
    public = private.public_key()
    pub_path = path.with_name(PUBLIC_FILE)
    if generate and not pub_path.exists():
        pub_path.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    return BridgeKeys(private, public)


def bridge_keys(settings: Settings, env: Mapping[str, str] | None = None) -> BridgeKeys:
    """The signing key from ``EXAM_SIGNING_KEY_FILE``, or the one kept under ``data_dir/keys``."""
    env = os.environ if env is None else env
    configured = env.get("EXAM_SIGNING_KEY_FILE")
    if configured:
        return _keys_at(Path(configured).resolve(), False)
    return _keys_at((settings.data_dir / "keys" / KEY_FILE).resolve(), True)


def backoff_s(tries: int) -> float:
    """Seconds from the row's creation before try number ``tries + 1``: the doubling delays summed."""
    return sum(min(2.0 ** i, MAX_BACKOFF_S) for i in range(tries))


def exam_result(payload: Mapping[str, Any]) -> journal.ExamResult:
    """The journal's contract from the outbox payload (ids become opaque strings)."""
    return journal.ExamResult(
        attempt_id=str(payload["attempt_id"]), student_id=str(payload["student_id"]),
        discipline_code=str(payload["discipline_code"]), exam_id=str(payload["exam_id"]),
        score=payload["score"], status=payload["status"],
        graded_at=datetime.fromisoformat(payload["graded_at"]), version=int(payload["version"]))


@dataclass
class RelayReport:
    delivered: int = 0
    refused: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.refused + self.failed


_PENDING = (
    select(outbox.c.id, outbox.c.payload, outbox.c.tries, outbox.c.created_at)
    .where(outbox.c.delivered_at.is_(None), outbox.c.topic == RESULT_TOPIC)
    .order_by(outbox.c.tries, outbox.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_MARK = update(outbox).where(outbox.c.id == bindparam("row_id"))


async def _deliver(conn: AsyncConnection, row: Any, keys: BridgeKeys, now: datetime) -> str | None:
    """Hand one row to the journal; None when acknowledged, else the reason it was not."""
    try:
        signed = journal.sign_result(exam_result(row.payload), keys.private)
    except (journal.ResultInvalid, KeyError, TypeError, ValueError) as error:
        return f"unusable outbox payload: {error}"

    async def audit(action: str, subject: str, before: dict | None, after: dict | None) -> None:
        await record(conn, now, RELAY_ACTOR, action, subject, before, after)

    answer = await journal.accept(conn, signed.to_bytes(), keys.public, now=now, audit=audit)
    return None if answer.accepted else answer.reason


async def _relay_batch(conn: AsyncConnection, keys: BridgeKeys, now: datetime, limit: int,
                       only: int | None = None) -> RelayReport:
    stmt = _PENDING.where(outbox.c.id == only) if only is not None else _PENDING
    report = RelayReport()
    for row in (await conn.execute(stmt, {"limit": limit})).all():
        if row.created_at + timedelta(seconds=backoff_s(row.tries)) > now:
            continue  # backing off after a failure
        problem = await _deliver(conn, row, keys, now)
        values: dict[str, Any] = {"tries": row.tries + 1, "last_error": problem}
        if problem is None:
            values["delivered_at"] = now
            report.delivered += 1
        else:
            log.warning("exam result %s not delivered (try %d): %s", row.id, row.tries + 1, problem)
            report.refused += 1
        await conn.execute(_MARK.values(**values), {"row_id": row.id})
    return report


async def relay_once(engine: AsyncEngine, keys: BridgeKeys, clock: Clock, *, batch: int = 100) -> RelayReport:
    """Deliver every due outbox row now, batch after batch; one transaction per batch.

    When a batch fails (a database error), its rows are retried one by one so that one
    bad row cannot hold the others back; the failing row gets its try and error recorded.
    """
    total = RelayReport()
    while True:
        try:
            async with engine.begin() as conn:
                report = await _relay_batch(conn, keys, clock.now(), batch)
        except Exception:  # noqa: BLE001 - isolate the failing row below
            log.exception("relay batch failed; retrying its rows one by one")
            report = await _one_by_one(engine, keys, clock, batch)
        total.delivered += report.delivered
        total.refused += report.refused
        total.failed += report.failed
        if report.delivered < batch:  # a short or troubled batch: the rest waits for the next round
            return total


async def _one_by_one(engine: AsyncEngine, keys: BridgeKeys, clock: Clock, batch: int) -> RelayReport:
    async with engine.connect() as conn:
        ids = (await conn.execute(select(outbox.c.id).where(
            outbox.c.delivered_at.is_(None), outbox.c.topic == RESULT_TOPIC).order_by(outbox.c.tries, outbox.c.id)
            .limit(batch))).scalars().all()
    report = RelayReport()
    for row_id in ids:
        try:
            async with engine.begin() as conn:
                single = await _relay_batch(conn, keys, clock.now(), 1, only=row_id)
            report.delivered += single.delivered
            report.refused += single.refused
        except Exception as error:  # noqa: BLE001 - record and move on
            report.failed += 1
            async with engine.begin() as conn:
                await conn.execute(_MARK.values(tries=outbox.c.tries + 1, last_error=f"{type(error).__name__}: "
                                                f"{error}"[:2000]), {"row_id": row_id})
    return report


async def run_forever(engine: AsyncEngine, keys: BridgeKeys, clock: Clock, interval_s: float) -> None:
    """The background task: relay, sleep, repeat; a failed round is logged, never fatal."""
    while True:
        try:
            report = await relay_once(engine, keys, clock)
            if report.handled:
                log.info("relay: %d delivered, %d refused, %d failed", report.delivered, report.refused,
                         report.failed)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep relaying after a transient failure
            log.exception("relay round failed; retrying")
        await asyncio.sleep(interval_s)
