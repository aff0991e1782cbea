"""The signed submit receipt, as pure functions.

At submit the student gets a small JSON document: the attempt, the time the server
recorded the submission, and a digest of every stored answer as
(position, choice, sequence number) in position order, signed with the
installation's Ed25519 key. The student (or an appeals commission) can later show it,
and ``exam-engine receipt verify`` proves the server issued it and whether the stored
answers still match it: any later change to a stored answer changes the digest.

The receipt is deterministic (the submission time, not the time of asking, and a
deterministic signature scheme), so a repeated submit returns the same receipt.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

RECEIPT_VERSION = 1
PREFIX = b"exam-engine submit receipt v1\n"
FIELDS = (
    "version",
    "attempt_id",
    "student_id",
    "exam_id",
    "status",
    "submitted_at",
    "answers",
    "answers_digest",
    "key_id",
)


@dataclass(frozen=True, slots=True)
class ReceiptBody:
    attempt_id: str
    student_id: int
    exam_id: int
    status: str
    submitted_at: str
    answers: int
    answers_digest: str
    key_id: str
    version: int = RECEIPT_VERSION


class ReceiptProblem(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    ANSWERS_CHANGED = "answers_changed"
    ATTEMPT_MISSING = "attempt_missing"


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    problem: ReceiptProblem | None
    detail: str
    body: ReceiptBody | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None


def answers_digest(attempt_id: uuid.UUID | str, answers: Iterable[tuple[int, int | None, int]]) -> str:
    """SHA-256 over the attempt id and every (position, choice, seq), sorted by position."""
    lines = [f"exam-engine answers v1\n{attempt_id}\n"]
    for position, choice, seq in sorted(answers, key=lambda a: a[0]):
        lines.append(f"{position}|{'' if choice is None else choice}|{seq}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _message(body: ReceiptBody) -> bytes:
    data = {name: getattr(body, name) for name in FIELDS}
    return PREFIX + json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def sign(body: ReceiptBody, signer: Callable[[bytes], str]) -> dict[str, Any]:
    """The document handed to the student: the body's fields plus the signature."""
    return {**asdict(body), "signature": signer(_message(body))}


def parse(document: Mapping[str, Any]) -> ReceiptBody:
    """The body of a receipt document; raises ValueError naming what is wrong."""
    if not isinstance(document, Mapping):
        raise ValueError("a receipt is a JSON object")
    missing = [name for name in (*FIELDS, "signature") if name not in document]
    if missing:
        raise ValueError(f"missing fields: {', '.join(missing)}")
    types = {
        "attempt_id": str,
        "student_id": int,
        "exam_id": int,
        "status": str,
        "submitted_at": str,
        "answers": int,
        "answers_digest": str,
        "key_id": str,
        "version": int,
    }
    for name, kind in types.items():
        if not isinstance(document[name], kind) or isinstance(document[name], bool):
            raise ValueError(f"field {name} must be a {kind.__name__}")
    if document["version"] != RECEIPT_VERSION:
        raise ValueError(f"unsupported receipt version {document['version']}")
    return ReceiptBody(**{name: document[name] for name in FIELDS})


def check(
    document: Mapping[str, Any],
    verify: Callable[[str, bytes, str], bool],
    knows: Callable[[str], bool],
    stored_digest: str | None = None,
    *,
    stored_known: bool = False,
) -> ReceiptCheck:
    """Is the receipt authentic, and (when ``stored_known``) do the stored answers still match it?"""
    try:
        body = parse(document)
    except ValueError as error:
        return ReceiptCheck(ReceiptProblem.MALFORMED, str(error))
    signature = document.get("signature")
    if not knows(body.key_id):
        return ReceiptCheck(ReceiptProblem.UNKNOWN_KEY, f"key {body.key_id} is not a trusted key", body)
    if not isinstance(signature, str) or not verify(body.key_id, _message(body), signature):
        return ReceiptCheck(ReceiptProblem.BAD_SIGNATURE, "the signature does not match the receipt", body)
    if stored_known:
        if stored_digest is None:
            return ReceiptCheck(ReceiptProblem.ATTEMPT_MISSING, "the attempt is not in the database", body)
        if stored_digest != body.answers_digest:
            return ReceiptCheck(
                ReceiptProblem.ANSWERS_CHANGED,
                "the stored answers no longer match the answers the receipt was issued for",
                body,
            )
    return ReceiptCheck(
        None, "the receipt is authentic" + (" and the stored answers match it" if stored_known else ""), body
    )
