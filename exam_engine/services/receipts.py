"""Issuing submit receipts from the database, and checking them against it.

:func:`issue` is called by ``attempts.submit`` in the submit transaction, after
finalisation. The signing key belongs to the installation; the database engine
knows which installation it serves because the composition root binds it
(:func:`bind`, called by ``bootstrap.build_services``): a service function gets only a
connection, and must not read the environment itself.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..config import Settings
from ..errors import ConfigError
from ..security import receipt as rules
from ..security.signing import Signer, Verifier, signer_for
from ..tables import answers, attempts

_SETTINGS: weakref.WeakKeyDictionary[Any, Settings] = weakref.WeakKeyDictionary()

_ATTEMPT = select(
    attempts.c.id, attempts.c.student_id, attempts.c.exam_id, attempts.c.status, attempts.c.submitted_at
).where(attempts.c.id == bindparam("attempt_id"))
_ANSWERS = select(answers.c.position, answers.c.choice, answers.c.seq).where(
    answers.c.attempt_id == bindparam("attempt_id")
)


def bind(engine: AsyncEngine, settings: Settings) -> None:
    """Say which installation (and so which signing key) this engine's receipts belong to."""
    _SETTINGS[engine.sync_engine] = settings


def _signer(conn: AsyncConnection) -> Signer:
    settings = _SETTINGS.get(conn.engine.sync_engine)
    if settings is None:
        raise ConfigError("no signing key is bound to this database engine (receipts.bind was not called)")
    return signer_for(settings)


async def stored_digest(conn: AsyncConnection, attempt_id: uuid.UUID | str) -> str | None:
    """The digest of the answers stored now, or None when the attempt does not exist."""
    attempt_uuid = uuid.UUID(str(attempt_id))
    if (await conn.execute(_ATTEMPT, {"attempt_id": attempt_uuid})).first() is None:
        return None
    rows = await conn.execute(_ANSWERS, {"attempt_id": attempt_uuid})
    return rules.answers_digest(attempt_uuid, [(r.position, r.choice, r.seq) for r in rows])


async def issue(conn: AsyncConnection, attempt_id: uuid.UUID) -> dict[str, Any] | None:
    """The signed receipt of a finished attempt (None while it is still in progress)."""
    row = (await conn.execute(_ATTEMPT, {"attempt_id": attempt_id})).first()
    if row is None or row.submitted_at is None:
        return None
    signer = _signer(conn)
    rows = await conn.execute(_ANSWERS, {"attempt_id": attempt_id})
    stored = [(r.position, r.choice, r.seq) for r in rows]
    body = rules.ReceiptBody(
        attempt_id=str(row.id),
        student_id=row.student_id,
        exam_id=row.exam_id,
        status=row.status,
        submitted_at=row.submitted_at.isoformat(),
        answers=len(stored),
        answers_digest=rules.answers_digest(row.id, stored),
        key_id=signer.key_id,
    )
    return rules.sign(body, signer.sign)


async def check(engine: AsyncEngine | None, document: Mapping[str, Any], verifier: Verifier) -> rules.ReceiptCheck:
    """Authenticity always; with an engine, also whether the stored answers still match."""
    if engine is None:
        return rules.check(document, verifier.verify, verifier.knows)
    try:
        attempt_id = uuid.UUID(str(document.get("attempt_id"))) if isinstance(document, Mapping) else None
    except ValueError:
        attempt_id = None
    digest = None
    if attempt_id is not None:
        async with engine.connect() as conn:
            digest = await stored_digest(conn, attempt_id)
    return rules.check(document, verifier.verify, verifier.knows, digest, stored_known=attempt_id is not None)
