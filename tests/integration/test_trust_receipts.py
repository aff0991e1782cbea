"""At submit the student receives a signed receipt that ``exam-engine receipt verify`` checks."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from exam_engine.cli import main
from exam_engine.security.receipt import ReceiptProblem, answers_digest
from exam_engine.security.signing import signer_for
from exam_engine.services import receipts
from tests.conftest import settings_env
from tests.factories import Api, make_world, open_client


async def sit_and_submit(services, answers_given: int = 3) -> dict:
    world = await make_world(services, question_count=5)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login(world.students[0])
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        attempt_id = started["attempt"]["id"]
        for seq, q in enumerate(started["questions"][:answers_given], start=1):
            status, _ = await api.call(
                "PUT", f"/api/v1/attempts/{attempt_id}/answers/{q['position']}", {"choice": seq % 2, "seq": seq}
            )
            assert status == 200
        status, result = await api.call("POST", f"/api/v1/attempts/{attempt_id}/submit")
        assert status == 200, result
        status, again = await api.call("POST", f"/api/v1/attempts/{attempt_id}/submit")
        assert status == 200
        assert again["receipt"] == result["receipt"], "a repeated submit must return the same receipt"
        return result
    finally:
        await client.close()


def use_environment(services, monkeypatch) -> None:
    url = services.settings.database_url.replace("+aiosqlite", "").replace("+psycopg", "")
    for name, value in settings_env(url, str(services.settings.data_dir), None).items():
        monkeypatch.setenv(name, value)


async def test_submit_returns_a_signed_receipt_of_the_stored_answers(services):
    result = await sit_and_submit(services)
    receipt = result["receipt"]
    assert receipt["attempt_id"] == result["id"] and receipt["answers"] == 3
    assert receipt["submitted_at"] == result["submitted_at"]
    assert receipt["key_id"] == signer_for(services.settings).key_id
    async with services.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT position, choice, seq FROM answers"))).all()
    assert receipt["answers_digest"] == answers_digest(result["id"], [tuple(r) for r in rows])
    check = await receipts.check(services.engine, receipt, signer_for(services.settings).verifier())
    assert check.valid, check.detail


async def test_receipt_verify_accepts_a_genuine_receipt_and_names_a_later_answer_change(
    services, monkeypatch, capsys, tmp_path
):
    result = await sit_and_submit(services)
    use_environment(services, monkeypatch)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(result))  # the whole submit response, as a browser would save it
    assert await asyncio.to_thread(main, ["receipt", "verify", str(path)]) == 0
    assert "VALID receipt" in capsys.readouterr().out

    async with services.engine.begin() as conn:  # an insider edits a stored answer afterwards
        await conn.execute(text("UPDATE answers SET choice = 4 WHERE position = (SELECT MIN(position) FROM answers)"))
    assert await asyncio.to_thread(main, ["receipt", "verify", str(path)]) == 1
    assert "answers_changed" in capsys.readouterr().err
    # Offline, the receipt itself is still authentic: it proves what was submitted.
    assert await asyncio.to_thread(main, ["receipt", "verify", "--offline", str(path)]) == 0


async def test_a_deleted_or_added_answer_changes_the_digest(services):
    result = await sit_and_submit(services, answers_given=2)
    verifier = signer_for(services.settings).verifier()
    async with services.engine.begin() as conn:
        await conn.execute(text("DELETE FROM answers WHERE position = (SELECT MAX(position) FROM answers)"))
    check = await receipts.check(services.engine, result["receipt"], verifier)
    assert check.problem is ReceiptProblem.ANSWERS_CHANGED


async def test_a_forged_or_damaged_receipt_is_invalid_with_a_reason(services, monkeypatch, capsys, tmp_path):
    receipt = (await sit_and_submit(services))["receipt"]
    use_environment(services, monkeypatch)
    cases = {
        "bad_signature": {**receipt, "answers": receipt["answers"] + 1},
        "unknown_key": {**receipt, "key_id": "0" * 32},
        "malformed": {k: v for k, v in receipt.items() if k != "answers_digest"},
    }
    for reason, doc in cases.items():
        path = tmp_path / f"{reason}.json"
        path.write_text(json.dumps(doc))
        assert await asyncio.to_thread(main, ["receipt", "verify", "--offline", str(path)]) == 1, reason
        assert f"INVALID receipt: {reason}" in capsys.readouterr().err
    (tmp_path / "junk.json").write_bytes(b"\xff\xfe not json")
    assert await asyncio.to_thread(main, ["receipt", "verify", str(tmp_path / "junk.json")]) == 1
    assert "malformed" in capsys.readouterr().err
