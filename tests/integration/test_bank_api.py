"""The question-bank API for the quality department, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import aiohttp
import openpyxl
import pytest
from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.services import catalog
from exam_engine.tables import audit_log
from exam_engine.web import app  # noqa: F401 - registers the routes
from exam_engine.web.http import ROUTES
from question_bank.parse import parse_bank
from question_bank.tables import bank_items, bank_versions
from tests.factories import ADMIN, Api, make_user, make_world, new_api, open_client

BANK_V1 = "\n".join(
    f"<question>Сұрақ {n}: қылмыстық құқық?\n<variant>дұрыс {n}\n<variant>қате {n}.1\n<variant>қате {n}.2\n"
    f"<variant>қате {n}.3\n<variant>қате {n}.4\n"
    for n in range(1, 7)
).encode("utf-8")
BROKEN = "<question>Бірінші сұрақ?\n<variant>иә\n<variant>иә\n\n<question>\n<variant>а\n<variant>б\n".encode()


async def _discipline(services, code: str = "CRIM-201") -> None:  # type: ignore[no-untyped-def]
    async with services.engine.begin() as conn:
        await catalog.add_discipline(conn, ADMIN, code=code, name="Қылмыстық құқық", now=services.clock.now())


async def _count(services, table) -> int:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def _audit(services, action: str) -> list:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (await conn.execute(select(audit_log).where(audit_log.c.action == action))).all()


async def _quality(services, language: str = "ru"):  # type: ignore[no-untyped-def]
    await make_user(services, "quality1", Role.QUALITY, language=language)
    client = await open_client(services)
    api = Api(client)
    await api.login("quality1")
    return client, api


async def test_quality_uploads_a_platonus_file_and_publishes_it(services):
    await _discipline(services)
    client, api = await _quality(services)
    try:
        status, body = await api.call(
            "POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&filename=b.txt", data=BANK_V1
        )
        assert status == 201, body
        assert body["accepted"] and body["stored"] and body["report"]["format"] == "platonus"
        assert body["report"]["counts"] == {"questions": 6, "valid": 6, "errors": 0, "warnings": 0}
        version = body["version"]
        assert version["status"] == "draft" and version["version"] == 1 and version["item_count"] == 6
        status, published = await api.call("POST", f"/api/v1/bank/versions/{version['id']}/publish")
        assert status == 200 and published["status"] == "published"
        status, again = await api.call("POST", f"/api/v1/bank/versions/{version['id']}/publish")
        assert status == 409 and again["error"]["code"] == "bank_version_published"
        assert "уже опубликована" in again["error"]["message"]
        status, content = await api.call("GET", f"/api/v1/bank/versions/{version['id']}")
        assert status == 200 and len(content["items"]) == 6
        assert content["items"][0]["options"][content["items"][0]["correct"]] == "дұрыс 1"
    finally:
        await client.close()
    uploads = await _audit(services, "bank.uploaded")
    assert len(uploads) == 1 and uploads[0].actor == "user:quality1"
    assert uploads[0].after["questions"] == 6 and uploads[0].after["version"] == 1
    assert len(await _audit(services, "bank.published")) == 1


async def test_a_bank_with_an_error_is_refused_whole_with_a_translated_report(services):
    await _discipline(services)
    client, api = await _quality(services, language="ru")
    try:
        status, body = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk", data=BROKEN)
    finally:
        await client.close()
    assert status == 422 and body["error"]["code"] == "bank_invalid" and not body["stored"]
    messages = [e["message"] for e in body["report"]["errors"]]
    assert messages[0] == "Строка 3, вопрос 1: Варианты 1 и 2 совпадают"
    assert any(
        e["code"] == "empty_question" and e["line"] == 5 and e["question"] == 2 for e in body["report"]["errors"]
    )
    assert await _count(services, bank_versions) == 0 and await _count(services, bank_items) == 0
    refused = await _audit(services, "bank.upload_refused")
    assert len(refused) == 1 and refused[0].after["errors"] == len(messages)


async def test_a_re_upload_is_a_new_version_with_its_diff_and_the_old_one_stays(services):
    await _discipline(services)
    client, api = await _quality(services)
    v2 = BANK_V1.replace("Сұрақ 6: қылмыстық".encode(), "Жаңа сұрақ: азаматтық".encode())
    v2 = v2.replace("<variant>дұрыс 2\n<variant>қате 2.1".encode(), "<variant>қате 2.1\n<variantright>дұрыс 2".encode())
    v2 = v2.replace(b"\xd0\xa1\xd2\xb1\xd1\x80\xd0\xb0\xd2\x9b 3", "СҰРАҚ 3".encode())
    try:
        status, first = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk", data=BANK_V1)
        assert status == 201
        status, dry = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&dry_run=1", data=v2)
        assert status == 200 and dry["dry_run"] and not dry["stored"] and dry["diff"]["counts"]["added"] == 1
        assert [(d["kind"], d["number"]) for d in dry["losses"]] == [("removed", 6)]
        status, refused = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk", data=v2)
        assert status == 409 and refused["error"]["code"] == "bank_replace_unconfirmed"
        [removed] = refused["error"]["details"]
        assert removed["kind"] == "removed" and removed["number"] == 6 and "Сұрақ 6" in removed["message"]
        assert await _count(services, bank_versions) == 1  # nothing stored without the confirmation
        status, second = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&confirm=1", data=v2)
        assert status == 201 and second["version"]["version"] == 2
        counts = second["diff"]["counts"]
        assert counts == {"added": 1, "removed": 1, "changed": 1, "unchanged": 4}
        assert second["diff"]["changed"][0]["fields"] == ["text"]
        status, diff = await api.call("GET", f"/api/v1/bank/versions/{second['version']['id']}/diff")
        assert status == 200 and diff["against"]["version"] == 1 and diff["diff"]["counts"] == counts
        status, listed = await api.call("GET", "/api/v1/bank/versions?discipline=CRIM-201")
        assert [v["version"] for v in listed["items"]] == [1, 2]
        status, old = await api.call("GET", f"/api/v1/bank/versions/{first['version']['id']}")
        assert any(it["text"].startswith("Сұрақ 6") for it in old["items"])
    finally:
        await client.close()


async def test_a_replace_that_breaks_kk_ru_twins_needs_confirmation_and_names_the_item_ids(services):
    await _discipline(services)
    client, api = await _quality(services)
    ru = BANK_V1.decode().replace("Сұрақ", "Вопрос").replace("қылмыстық құқық", "уголовное право").encode()
    try:
        for lang, data in (("kk", BANK_V1), ("ru", ru)):
            status, _ = await api.call(
                "POST", f"/api/v1/bank/uploads?discipline=CRIM-201&lang={lang}&twins=position", data=data
            )
            assert status == 201
        status, kk_v1 = await api.call("GET", "/api/v1/bank/versions?discipline=CRIM-201")
        kk_id = next(v["id"] for v in kk_v1["items"] if v["language"] == "kk")
        ru_id = next(v["id"] for v in kk_v1["items"] if v["language"] == "ru")
        _, kk_items = await api.call("GET", f"/api/v1/bank/versions/{kk_id}")
        _, ru_items = await api.call("GET", f"/api/v1/bank/versions/{ru_id}")
        # The same questions again, but without twins=position: every pairing with the Russian bank breaks.
        status, refused = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk", data=BANK_V1)
        assert status == 409 and refused["error"]["code"] == "bank_replace_unconfirmed"
        broken = refused["error"]["details"]
        assert [d["kind"] for d in broken] == ["broken_twin"] * 6
        assert [d["item_id"] for d in broken] == [it["id"] for it in kk_items["items"]]
        assert [d["twin_item_id"] for d in broken] == [it["id"] for it in ru_items["items"]]
        assert "6" in refused["error"]["message"]
        assert (
            broken[0]["message"] == "Вопрос 1 теряет близнеца: вопрос 1 русского банка (ключ пары #1) остаётся без пары"
        )
        status, stored = await api.call(
            "POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&confirm=1", data=BANK_V1
        )
        assert status == 201 and [d["kind"] for d in stored["losses"]] == ["broken_twin"] * 6
        [audit] = [r for r in await _audit(services, "bank.uploaded") if r.after["version"] == 2]
        assert [d["item_id"] for d in audit.after["confirmed_losses"]] == [it["id"] for it in kk_items["items"]]
    finally:
        await client.close()


async def test_publishing_a_draft_that_drops_published_questions_needs_confirmation(services):
    await _discipline(services)
    client, api = await _quality(services, language="kk")
    shorter = b"\n".join(BANK_V1.split(b"\n")[:-7]) + b"\n"  # question 6 gone
    try:
        status, first = await api.call(
            "POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&publish=1", data=BANK_V1
        )
        assert status == 201 and first["version"]["status"] == "published"
        status, draft = await api.call(
            "POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&confirm=1", data=shorter
        )
        assert status == 201 and draft["version"]["item_count"] == 5
        draft_id = draft["version"]["id"]
        status, refused = await api.call("POST", f"/api/v1/bank/versions/{draft_id}/publish")
        assert status == 409 and refused["error"]["code"] == "bank_publish_unconfirmed"
        _, old = await api.call("GET", f"/api/v1/bank/versions/{first['version']['id']}")
        [loss] = refused["error"]["details"]
        assert (loss["kind"], loss["item_id"]) == ("removed", old["items"][5]["id"])
        assert loss["message"].startswith("6-сұрақ алынып тасталады")
        _, still = await api.call("GET", f"/api/v1/bank/versions/{draft_id}")
        assert still["version"]["status"] == "draft"
        status, done = await api.call("POST", f"/api/v1/bank/versions/{draft_id}/publish?confirm=1")
        assert status == 200 and done["status"] == "published"
    finally:
        await client.close()


async def test_append_mode_refuses_a_question_already_in_the_latest_version(services):
    await _discipline(services)
    client, api = await _quality(services)
    extra = "<question>Қосымша сұрақ?\n<variant>а\n<variant>б\n<variant>в\n<variant>г\n<variant>д\n".encode()
    try:
        await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk", data=BANK_V1)
        status, dup = await api.call(
            "POST",
            "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&append=1",
            data=BANK_V1[: BANK_V1.index(b"<question>", 10)],
        )
        assert status == 422 and dup["report"]["errors"][0]["code"] == "duplicate_of_existing"
        status, ok = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&append=1", data=extra)
        assert status == 201 and ok["version"]["item_count"] == 7 and ok["diff"]["counts"]["added"] == 1
    finally:
        await client.close()


async def test_a_multipart_upload_reads_the_file_and_its_form_fields(services):
    await _discipline(services)
    client, api = await _quality(services)
    form = aiohttp.FormData()
    form.add_field("discipline", "CRIM-201")
    form.add_field("lang", "ru")
    form.add_field("topic", "Жалпы бөлім")
    form.add_field("file", BANK_V1, filename="bank.txt", content_type="text/plain")
    try:
        status, body = await api.call("POST", "/api/v1/bank/uploads", data=form)
        assert status == 201, body
        status, content = await api.call("GET", f"/api/v1/bank/versions/{body['version']['id']}")
    finally:
        await client.close()
    assert body["version"]["source_name"] == "bank.txt" and body["version"]["language"] == "ru"
    assert {it["topic"] for it in content["items"]} == {"Жалпы бөлім"}


async def test_upload_usage_errors_are_clear(services, monkeypatch):
    from exam_engine.services import banks

    monkeypatch.setattr(banks, "MAX_BANK_BYTES", 1000)
    await _discipline(services)
    client, api = await _quality(services)
    try:
        status, body = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk", data=b"x" * 1001)
        assert status == 413 and body["error"]["code"] == "bank_too_large" and "1000" in body["error"]["message"]
        status, body = await api.call("POST", "/api/v1/bank/uploads?discipline=NOPE&lang=kk", data=BANK_V1[:200])
        assert status == 404 and body["error"]["code"] == "discipline_not_found"
        status, body = await api.call(
            "POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&format=word", data=BANK_V1[:200]
        )
        assert status == 422 and body["error"]["code"] == "unknown_format"
        status, body = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=en", data=BANK_V1[:200])
        assert status == 422 and body["error"]["code"] == "unsupported_language"
    finally:
        await client.close()
    assert await _count(services, bank_versions) == 0


async def test_exports_read_back_to_the_same_questions_and_the_template_downloads(services):
    await _discipline(services)
    client, api = await _quality(services)
    try:
        _, up = await api.call(
            "POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&difficulty=2&topic=T1", data=BANK_V1
        )
        original = parse_bank(BANK_V1, language="kk", default_topic="T1", default_difficulty=2).items
        for fmt in ("gift", "platonus", "qti"):
            resp = await api.client.request("GET", f"/api/v1/bank/versions/{up['version']['id']}/export?format={fmt}")
            assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
            again = parse_bank(await resp.read(), format=fmt, language="kk").items
            assert [(i.text, i.options, i.correct, i.topic, i.difficulty) for i in again] == [
                (i.text, i.options, i.correct, i.topic, i.difficulty) for i in original
            ]
        assert resp.headers["Content-Type"] == "application/zip"  # the last one: QTI 3.0, a package
        assert resp.headers["Content-Disposition"].endswith('-qti3.zip"')
        # The package goes back in as an upload (detected, parsed in the child): the same bank, no change.
        status, back = await api.call(
            "POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&dry_run=1", data=await resp.read()
        )
        assert status == 200 and back["report"]["format"] == "qti" and back["diff"]["counts"]["unchanged"] == 6
        resp = await api.client.request("GET", "/api/v1/bank/template")
        book = openpyxl.load_workbook(io.BytesIO(await resp.read()))
        assert book.sheetnames == ["Questions", "Instructions"]
        assert book["Instructions"]["A1"].value.startswith("Заполняйте по одной строке")
    finally:
        await client.close()
    assert len(await _audit(services, "bank.exported")) == 3


def _bank_routes() -> list[tuple[str, str]]:
    return [(doc.method, doc.path) for doc, _ in ROUTES if doc.path.startswith("/api/v1/bank")]


NO_BANK_ACCESS = [r for r in Role if r not in (Role.QUALITY, Role.ACADEMIC_ADMIN)]


async def test_no_other_role_reaches_any_bank_endpoint(services):
    world = await make_world(services, students=0)
    version_id = world.bank_versions["kk"]
    routes = _bank_routes()
    assert len(routes) == 9
    client = await open_client(services)
    try:
        for role in NO_BANK_ACCESS:
            login = f"x_{role.value}"
            await make_user(services, login, role)
            api = await new_api(client)
            await api.login(login)
            for method, path in routes:
                url = path.replace("{version_id}", str(version_id)).replace("{exam_id}", str(world.exam_id))
                if url.endswith("/uploads"):
                    url += "?discipline=LAW-101&lang=kk"
                status, body = await api.call(method, url, data=BANK_V1 if method == "POST" else None)
                assert status == 403 and body["error"]["code"] == "forbidden", (role, method, url, status)
            await api.client.close()
        for role in (Role.QUALITY, Role.ACADEMIC_ADMIN):
            await make_user(services, f"x_{role.value}", role)
            api = await new_api(client)
            await api.login(f"x_{role.value}")
            status, _ = await api.call("GET", f"/api/v1/bank/versions/{version_id}")
            assert status == 200, role
            await api.client.close()
    finally:
        await client.close()
    assert await _count(services, bank_versions) == 1
    assert not await _audit(services, "bank.exported")


@pytest.mark.parametrize("role", [Role.TEACHER, Role.STUDENT])
async def test_a_teacher_or_student_cannot_even_list_the_versions(services, role):
    await make_world(services, students=0)
    await make_user(services, "nosy", role)
    client = await open_client(services)
    api = Api(client)
    await api.login("nosy")
    try:
        status, body = await api.call("GET", "/api/v1/bank/versions")
    finally:
        await client.close()
    assert status == 403 and "items" not in body


def test_an_exam_body_blueprint_becomes_cells_or_a_precise_error():
    from exam_engine.errors import InvalidInput
    from exam_engine.web.api_bank import blueprint_field

    assert blueprint_field({}) is None
    assert blueprint_field(
        {
            "blueprint": [
                {"topic": " A ", "difficulty": 1, "count": 2},
                {"topic": None, "difficulty": None, "count": 1},
                {"topic": "A", "difficulty": 1, "count": 1},
            ]
        }
    ) == {("A", 1): 3, (None, None): 1}
    for bad in (
        {"blueprint": "A:1"},
        {"blueprint": [{"topic": "A", "count": "2"}]},
        {"blueprint": [{"topic": "A", "difficulty": True, "count": 2}]},
    ):
        with pytest.raises(InvalidInput) as refused:
            blueprint_field(bad)
        assert refused.value.params["field"] == "blueprint"
