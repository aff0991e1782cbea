"""The exam result contract the journal accepts, its signature and the apply rule.

Only the exam engine writes exam grades: every result travels signed with the engine's
Ed25519 key, over its *canonical* form — the result's fields as JSON with sorted keys,
no spaces, UTF-8, ``graded_at`` in UTC as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``. The wire
envelope is ``{"result": {…}, "signature": "<base64>"}``; the journal verifies the
signature over the canonical bytes of the received fields before it believes any of them.

Delivery is at least once, the effect exactly once: results are keyed by attempt id
and carry a ``version`` the engine raises on every re-grade (a later annulment is a
newer version). :func:`decide_apply` inserts the first, updates with a newer one and
ignores a duplicate or an older one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from journal_bridge.errors import ResultForged, ResultInvalid
from journal_bridge.grading import ExamStatus

_FIELDS = ("attempt_id", "student_id", "discipline_code", "exam_id", "score", "status", "graded_at", "version")


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """Sorted-key, space-free UTF-8 JSON: the bytes that are signed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


@dataclass(frozen=True, slots=True)
class ExamResult:
    """One graded attempt. ``score`` may be None only for a timed-out or annulled attempt."""

    attempt_id: str
    student_id: str
    discipline_code: str
    exam_id: str
    score: int | None
    status: ExamStatus
    graded_at: datetime
    version: int

    def __post_init__(self) -> None:
        for name in ("attempt_id", "student_id", "discipline_code", "exam_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ResultInvalid("result_field_invalid", field=name, value=value)
        try:
            object.__setattr__(self, "status", ExamStatus(self.status))
        except (ValueError, TypeError):
            raise ResultInvalid("result_field_invalid", field="status", value=self.status) from None
        score = self.score
        if score is None:
            if self.status in (ExamStatus.PASSED, ExamStatus.UNSATISFACTORY):
                raise ResultInvalid("result_score_missing", status=str(self.status))
        elif isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise ResultInvalid("result_field_invalid", field="score", value=score)
        if not isinstance(self.graded_at, datetime) or self.graded_at.utcoffset() is None:
            raise ResultInvalid("result_field_invalid", field="graded_at", value=self.graded_at)
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ResultInvalid("result_field_invalid", field="version", value=self.version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "student_id": self.student_id,
            "discipline_code": self.discipline_code,
            "exam_id": self.exam_id,
            "score": self.score,
            "status": str(self.status),
            "graded_at": _format_time(self.graded_at),
            "version": self.version,
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExamResult:
        if not isinstance(data, Mapping):
            raise ResultInvalid("result_malformed", detail="the result is not an object")
        for name in data:
            if name not in _FIELDS:
                raise ResultInvalid("result_field_unknown", field=name)
        for name in _FIELDS:
            if name not in data:
                raise ResultInvalid("result_field_missing", field=name)
        stamp = data["graded_at"]
        if not isinstance(stamp, str) or not stamp.endswith("Z"):
            raise ResultInvalid("result_field_invalid", field="graded_at", value=stamp)
        try:
            naive = datetime.fromisoformat(stamp[:-1])
        except ValueError:
            naive = None
        if naive is None or naive.tzinfo is not None:
            raise ResultInvalid("result_field_invalid", field="graded_at", value=stamp)
        graded_at = naive.replace(tzinfo=UTC)
        return cls(**{**data, "graded_at": graded_at})


@dataclass(frozen=True, slots=True)
class SignedExamResult:
    result: ExamResult
    signature: bytes

    def to_bytes(self) -> bytes:
        """The wire envelope (itself canonical JSON)."""
        return canonical_json(
            {"result": self.result.to_dict(), "signature": base64.b64encode(self.signature).decode("ascii")}
        )


def public_key_from_bytes(data: bytes) -> Ed25519PublicKey:
    """The engine's verification key from its raw 32 bytes or a PEM ``PUBLIC KEY`` block."""
    try:
        key = (
            load_pem_public_key(data)
            if data.lstrip().startswith(b"-----")
            else (Ed25519PublicKey.from_public_bytes(data))
        )
    except ValueError as exc:
        raise ResultInvalid("verify_key_invalid", detail=str(exc)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ResultInvalid("verify_key_invalid", detail=type(key).__name__)
    return key


def sign_result(result: ExamResult, private_key: Ed25519PrivateKey) -> SignedExamResult:
    return SignedExamResult(result, private_key.sign(result.canonical_bytes()))


def verify_result(signed: SignedExamResult, public_key: Ed25519PublicKey) -> ExamResult:
    """The result, if ``signed.signature`` is the engine's over its canonical bytes."""
    try:
        public_key.verify(signed.signature, signed.result.canonical_bytes())
    except InvalidSignature:
        raise ResultForged("result_signature_invalid", attempt_id=signed.result.attempt_id) from None
    return signed.result


def accept_result(envelope: bytes, public_key: Ed25519PublicKey) -> ExamResult:
    """Parse a wire envelope and return its result only if the signature verifies."""
    return open_envelope(envelope, public_key).result


def open_envelope(envelope: bytes, public_key: Ed25519PublicKey) -> SignedExamResult:
    """Parse a wire envelope and return it, result and signature, only if the signature verifies.

    The signature is checked over the canonical bytes of the fields exactly as received,
    before they are interpreted, so an altered field (or an added one) is refused as forged.
    """
    try:
        data = json.loads(envelope)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResultInvalid("result_malformed", detail=str(exc)) from None
    if not isinstance(data, dict) or set(data) != {"result", "signature"}:
        raise ResultInvalid("result_malformed", detail="expected exactly 'result' and 'signature'")
    raw, encoded = data["result"], data["signature"]
    if not isinstance(raw, dict) or not isinstance(encoded, str):
        raise ResultInvalid("result_malformed", detail="'result' must be an object, 'signature' a string")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ResultForged("result_signature_invalid", attempt_id=str(raw.get("attempt_id"))) from None
    try:
        public_key.verify(signature, canonical_json(raw))
    except InvalidSignature:
        raise ResultForged("result_signature_invalid", attempt_id=str(raw.get("attempt_id"))) from None
    return SignedExamResult(ExamResult.from_dict(raw), signature)


class ApplyAction(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    IGNORE = "ignore"


class ApplyReason(StrEnum):
    NEW_ATTEMPT = "new_attempt"
    NEWER_VERSION = "newer_version"
    DUPLICATE = "duplicate"
    OLDER_VERSION = "older_version"
    SAME_VERSION_DIFFERS = "same_version_differs"
    IDENTITY_MISMATCH = "identity_mismatch"


@dataclass(frozen=True, slots=True)
class ApplyDecision:
    action: ApplyAction
    reason: ApplyReason


def decide_apply(stored: ExamResult | None, incoming: ExamResult) -> ApplyDecision:
    """What to do with ``incoming`` given the result stored for its attempt (or None).

    Acknowledge every outcome: an ignored result is one the journal already has (or
    must never take — a version that changes the student, discipline or exam of an
    attempt, or a same-version result that differs, which the caller should log loudly).
    """
    if stored is None:
        return ApplyDecision(ApplyAction.INSERT, ApplyReason.NEW_ATTEMPT)
    if stored.attempt_id != incoming.attempt_id:
        raise ResultInvalid("result_attempt_mismatch", stored=stored.attempt_id, incoming=incoming.attempt_id)
    identity = ("student_id", "discipline_code", "exam_id")
    if any(getattr(stored, k) != getattr(incoming, k) for k in identity):
        return ApplyDecision(ApplyAction.IGNORE, ApplyReason.IDENTITY_MISMATCH)
    if incoming.version > stored.version:
        return ApplyDecision(ApplyAction.UPDATE, ApplyReason.NEWER_VERSION)
    if incoming.version < stored.version:
        return ApplyDecision(ApplyAction.IGNORE, ApplyReason.OLDER_VERSION)
    if incoming.canonical_bytes() == stored.canonical_bytes():
        return ApplyDecision(ApplyAction.IGNORE, ApplyReason.DUPLICATE)
    return ApplyDecision(ApplyAction.IGNORE, ApplyReason.SAME_VERSION_DIFFERS)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """:func:`decide_apply` over a batch: what each result meets, and where each attempt ends.

    ``decisions[i]`` is the stored result (or None) that ``incoming[i]`` was decided
    against, and the decision. ``inserts`` and ``updates`` map an attempt id to the index
    of the result it ends at: attempts new to the journal, and stored ones that change.
    """

    decisions: tuple[tuple[ExamResult | None, ApplyDecision], ...]
    inserts: dict[str, int]
    updates: dict[str, int]


def plan_batch(stored: Mapping[str, ExamResult], incoming: Sequence[ExamResult]) -> BatchPlan:
    """Decide a batch in order, as if its results arrived one by one.

    Several results for one attempt (a grade and its annulment) are decided in turn, each
    against the one applied before it, so the batch ends where single deliveries would —
    and the journal can write each attempt's end state with one statement.
    """
    current: dict[str, tuple[ExamResult, int | None]] = {a: (r, None) for a, r in stored.items()}
    decisions: list[tuple[ExamResult | None, ApplyDecision]] = []
    for index, result in enumerate(incoming):
        before = current.get(result.attempt_id)
        decision = decide_apply(None if before is None else before[0], result)
        decisions.append((None if before is None else before[0], decision))
        if decision.action is not ApplyAction.IGNORE:
            current[result.attempt_id] = (result, index)
    changed = {attempt: index for attempt, (_, index) in current.items() if index is not None}
    return BatchPlan(
        tuple(decisions),
        {a: i for a, i in changed.items() if a not in stored},
        {a: i for a, i in changed.items() if a in stored},
    )
