"""The exam result contract: canonical bytes, Ed25519 signatures and exactly-once apply."""

import base64
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from journal_bridge.errors import ResultForged, ResultInvalid
from journal_bridge.grading import ExamStatus
from journal_bridge.results import (
    ApplyAction,
    ApplyReason,
    ExamResult,
    accept_result,
    decide_apply,
    public_key_from_bytes,
    sign_result,
    verify_result,
)

ENGINE_KEY = Ed25519PrivateKey.generate()
ENGINE_PUBLIC = ENGINE_KEY.public_key()
RESULT = ExamResult(
    attempt_id="att-1",
    student_id="st-7",
    discipline_code="KK1201",
    exam_id="ex-3",
    score=82,
    status=ExamStatus.PASSED,
    graded_at=datetime(2026, 1, 15, 14, 30, tzinfo=timezone(timedelta(hours=5))),
    version=1,
)


def _tamper(envelope: bytes, **changes) -> bytes:
    data = json.loads(envelope)
    data["result"].update(changes)
    return json.dumps(data).encode()


def test_canonical_bytes_are_sorted_compact_json_with_utc_time():
    assert RESULT.canonical_bytes() == (
        b'{"attempt_id":"att-1","discipline_code":"KK1201","exam_id":"ex-3","graded_at":"2026-01-15T09:30:00Z",'
        b'"score":82,"status":"passed","student_id":"st-7","version":1}'
    )


def test_a_signed_result_is_accepted_after_travelling_as_bytes():
    envelope = sign_result(RESULT, ENGINE_KEY).to_bytes()
    assert accept_result(envelope, ENGINE_PUBLIC) == RESULT


def test_an_altered_score_is_refused_as_forged():
    envelope = _tamper(sign_result(RESULT, ENGINE_KEY).to_bytes(), score=100)
    with pytest.raises(ResultForged) as error:
        accept_result(envelope, ENGINE_PUBLIC)
    assert (error.value.code, error.value.params["attempt_id"]) == ("result_signature_invalid", "att-1")


def test_a_result_signed_by_another_key_is_refused():
    forged = sign_result(RESULT, Ed25519PrivateKey.generate())
    with pytest.raises(ResultForged):
        verify_result(forged, ENGINE_PUBLIC)
    with pytest.raises(ResultForged):
        accept_result(forged.to_bytes(), ENGINE_PUBLIC)


def test_an_added_field_or_a_garbled_signature_is_refused():
    envelope = sign_result(RESULT, ENGINE_KEY).to_bytes()
    with pytest.raises(ResultForged):
        accept_result(_tamper(envelope, note="extra"), ENGINE_PUBLIC)
    data = json.loads(envelope)
    data["signature"] = "not base64!"
    with pytest.raises(ResultForged):
        accept_result(json.dumps(data).encode(), ENGINE_PUBLIC)


@pytest.mark.parametrize(
    "envelope", [b"{", b"[]", b'{"result": {}, "signature": "", "x": 1}', b'{"result": 1, "signature": ""}']
)
def test_a_malformed_envelope_is_refused(envelope):
    with pytest.raises(ResultInvalid) as error:
        accept_result(envelope, ENGINE_PUBLIC)
    assert error.value.code == "result_malformed"


def test_a_correctly_signed_result_that_breaks_the_contract_is_refused():
    raw = {**RESULT.to_dict(), "score": 101}
    payload = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    envelope = json.dumps({"result": raw, "signature": base64.b64encode(ENGINE_KEY.sign(payload)).decode()})
    with pytest.raises(ResultInvalid) as error:
        accept_result(envelope.encode(), ENGINE_PUBLIC)
    assert (error.value.code, error.value.params["field"]) == ("result_field_invalid", "score")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (dict(score=None), "result_score_missing"),
        (dict(status="lost"), "result_field_invalid"),
        (dict(version=0), "result_field_invalid"),
        (dict(graded_at=datetime(2026, 1, 15)), "result_field_invalid"),
        (dict(attempt_id=" "), "result_field_invalid"),
    ],
)
def test_the_contract_is_checked_on_construction(changes, code):
    with pytest.raises(ResultInvalid) as error:
        replace(RESULT, **changes)
    assert error.value.code == code


def test_a_timed_out_or_annulled_result_may_have_no_score():
    assert replace(RESULT, score=None, status=ExamStatus.ANNULLED).score is None


def test_the_public_key_loads_from_raw_bytes_or_pem():
    raw = ENGINE_PUBLIC.public_bytes(Encoding.Raw, PublicFormat.Raw)
    pem = ENGINE_PUBLIC.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    envelope = sign_result(RESULT, ENGINE_KEY).to_bytes()
    for data in (raw, pem):
        assert accept_result(envelope, public_key_from_bytes(data)) == RESULT
    with pytest.raises(ResultInvalid):
        public_key_from_bytes(b"short")


ANNULLED = replace(RESULT, status=ExamStatus.ANNULLED, score=None, version=2)


@pytest.mark.parametrize(
    ("stored", "incoming", "action", "reason"),
    [
        (None, RESULT, ApplyAction.INSERT, ApplyReason.NEW_ATTEMPT),
        (RESULT, RESULT, ApplyAction.IGNORE, ApplyReason.DUPLICATE),
        (RESULT, ANNULLED, ApplyAction.UPDATE, ApplyReason.NEWER_VERSION),
        (ANNULLED, RESULT, ApplyAction.IGNORE, ApplyReason.OLDER_VERSION),
        (RESULT, replace(RESULT, score=90), ApplyAction.IGNORE, ApplyReason.SAME_VERSION_DIFFERS),
        (RESULT, replace(ANNULLED, student_id="st-8"), ApplyAction.IGNORE, ApplyReason.IDENTITY_MISMATCH),
    ],
)
def test_apply_rule(stored, incoming, action, reason):
    decision = decide_apply(stored, incoming)
    assert (decision.action, decision.reason) == (action, reason)


def test_delivering_the_same_results_again_changes_nothing():
    """At-least-once delivery, exactly-once effect: a fake store applying every delivery."""
    store: dict[str, ExamResult] = {}
    writes: list[str] = []

    def deliver(result: ExamResult) -> None:
        decision = decide_apply(store.get(result.attempt_id), result)
        if decision.action is not ApplyAction.IGNORE:
            store[result.attempt_id] = result
            writes.append(decision.action)

    for result in (RESULT, RESULT, ANNULLED, RESULT, ANNULLED):
        deliver(accept_result(sign_result(result, ENGINE_KEY).to_bytes(), ENGINE_PUBLIC))
    assert store == {"att-1": ANNULLED}
    assert writes == ["insert", "update"]


def test_comparing_results_of_different_attempts_is_a_caller_error():
    with pytest.raises(ResultInvalid):
        decide_apply(RESULT, replace(RESULT, attempt_id="att-2"))
