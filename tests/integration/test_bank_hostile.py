"""Hostile uploads through the API, on SQLite and PostgreSQL (issue 18).

A NUL character used to pass the dry run and make PostgreSQL fail (500) when stored; a slow
parse used to stall every request of the process. Now both are refused like any bad file:
422 with the located problem in the uploader's language, nothing stored, and the server
answers other requests while a parse runs in its child process.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.tables import bank_versions
from tests.integration.test_bank_api import _discipline, _quality

NUL_BANK = "<question>Бірінші сұрақ?\n<variant>а\n<variant>б\x00в\n<variant>г\n".encode()
ASTANA = (
    "<question>Қазақстанның елордасы?\n<variant>Астана\n<variant>Аст\u2063ана\n<variant>Аст\u034fана\n"
    "<variant>Астана\ufe0f\n<variant>Алматы\n"
).encode()
BIDI = "<question>Елорда?\n<variant>Астана\n<variant>\u202eанатсА\n".encode()
GOOD = "<question>Елорда?\n<variant>Астана\n<variant>Алматы\n".encode()
UPLOAD = "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&filename=b.txt"


async def _versions(services) -> int:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(bank_versions))).scalar_one()


async def test_nul_and_hidden_characters_are_refused_with_their_line_and_nothing_is_stored(services):
    await _discipline(services)
    client, api = await _quality(services, language="ru")
    try:
        status, body = await api.call("POST", UPLOAD, data=NUL_BANK)  # the storing path, not a dry run
        assert status == 422 and body["error"]["code"] == "bank_invalid" and not body["stored"]
        assert [(e["code"], e["line"]) for e in body["report"]["errors"]] == [("control_character", 3)]
        assert (
            body["report"]["errors"][0]["message"] == "Строка 3: В тексте есть управляющий символ U+0000; удалите его"
        )
        status, body = await api.call("POST", UPLOAD + "&dry_run=1", data=NUL_BANK)
        assert status == 422 and not body["accepted"]
        status, body = await api.call("POST", UPLOAD, data=ASTANA)
        assert status == 422 and [e["code"] for e in body["report"]["errors"]] == ["duplicate_option"] * 3
        status, body = await api.call("POST", UPLOAD, data=BIDI)
        assert status == 422 and body["report"]["errors"][0]["code"] == "direction_character"
        assert await _versions(services) == 0
    finally:
        await client.close()


async def test_the_refusal_reads_in_kazakh_for_a_kazakh_reader(services):
    await _discipline(services)
    client, api = await _quality(services, language="kk")
    try:
        status, body = await api.call("POST", UPLOAD, data=NUL_BANK)
        assert status == 422
        assert body["report"]["errors"][0]["message"] == "3-жол: Мәтінде U+0000 басқару таңбасы бар; оны өшіріңіз"
        assert await _versions(services) == 0
    finally:
        await client.close()


async def test_control_characters_in_the_request_itself_never_reach_the_database(services):
    """A NUL anywhere in an /api/ address is refused in one place, naming the parameter, before any
    route reads it (it used to reach PostgreSQL from some filters as a 500); nothing is stored."""
    await _discipline(services)
    client, api = await _quality(services)
    try:
        for query, field in (
            ("discipline=CRIM%00&lang=kk", "discipline"),
            ("discipline=CRIM-201&lang=kk&filename=a%00b.txt", "filename"),
            ("discipline=CRIM-201&lang=kk&topic=T%00", "topic"),
        ):
            status, body = await api.call("POST", f"/api/v1/bank/uploads?{query}", data=GOOD)
            assert status == 422 and body["error"]["code"] == "invalid_text", (query, body)
            assert f"«{field}»" in body["error"]["message"] and "NUL" in body["error"]["message"], body
        assert await _versions(services) == 0
        status, body = await api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk", data=GOOD)
        assert status == 201, body
        assert await _versions(services) == 1
    finally:
        await client.close()


async def test_malformed_multipart_is_a_precise_422_not_a_500(services):
    await _discipline(services)
    client, api = await _quality(services)
    try:
        for content_type, data in (
            ("multipart/form-data", b"--x\r\n\r\nabc"),  # no boundary (was a 500)
            ("multipart/form-data; boundary=", b"--\r\n"),  # an empty one
            ("multipart/form-data; boundary=zz", b"garbage before any boundary\r\n"),
        ):
            resp = await client.post(UPLOAD, data=data, headers={**api._headers(), "Content-Type": content_type})
            body = await resp.json()
            assert resp.status == 422, (content_type, resp.status, body)
            assert body["error"]["code"] == "multipart_invalid", (content_type, body)
            assert "multipart/form-data" in body["error"]["message"] and "«file»" in body["error"]["message"]
        assert await _versions(services) == 0
    finally:
        await client.close()


async def test_the_server_answers_while_a_slow_parse_runs_and_the_configured_cpu_limit_stops_it(services):
    """A parse that needs many CPU seconds runs in a child: /healthz keeps answering at once."""
    await _discipline(services)
    slow = ("::q:: Q {" + "~а\n" * 600_000 + "=б}\n").encode()  # many CPU seconds even on a fast machine
    services.settings = services.settings.with_overrides(bank_limits=ParseLimits(cpu_seconds=2, max_options=10**9))
    client, api = await _quality(services)
    try:
        upload = asyncio.create_task(
            api.call("POST", "/api/v1/bank/uploads?discipline=CRIM-201&lang=kk&filename=slow.gift", data=slow)
        )
        latencies = []
        while not upload.done():
            started = time.perf_counter()
            resp = await client.get("/healthz")
            assert resp.status == 200
            # and a request that needs the database: the upload holds no connection while it parses
            # (SQLite has exactly one)
            status, _ = await api.call("GET", "/api/v1/bank/versions")
            assert status == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
        status, body = await upload
        assert status == 422 and [e["code"] for e in body["report"]["errors"]] == ["parse_time_exceeded"]
        assert (
            body["report"]["errors"][0]["message"]
            == "Чтение файла заняло больше 2 секунд; разделите его на файлы поменьше"
        )
        assert len(latencies) >= 5 and max(latencies) < 1.0, latencies
        assert await _versions(services) == 0
    finally:
        await client.close()


async def test_a_version_stored_while_a_file_was_parsed_makes_the_upload_409_not_a_lost_update(services, monkeypatch):
    from exam_engine.services import banks
    from tests.factories import ADMIN

    await _discipline(services)
    client, api = await _quality(services)
    parse = banks.parse_upload
    others: list[int] = []

    async def parse_while_someone_else_stores(data, req, existing=(), limits=DEFAULT_LIMITS):  # type: ignore
        report = await parse(data, req, existing, limits)
        if not others:  # once: the other upload parses through here too
            others.append(1)
            async with services.engine.begin() as conn:
                await banks.upload(
                    conn,
                    ADMIN,
                    GOOD,
                    banks.UploadRequest("CRIM-201", "kk", filename="other.txt"),
                    now=services.clock.now(),
                )
        return report

    monkeypatch.setattr(banks, "parse_upload", parse_while_someone_else_stores)
    try:
        status, body = await api.call(
            "POST",
            UPLOAD + "&append=1",
            data=ASTANA.replace("Аст\u2063ана".encode(), b"X")
            .replace("Аст\u034fана".encode(), b"Y")
            .replace("Астана\ufe0f".encode(), b"Z"),
        )
        assert status == 409 and body["error"]["code"] == "bank_changed", body
        assert await _versions(services) == 1  # only the other upload's version
    finally:
        await client.close()


def _multipart(fields: list[tuple[str, bytes]], boundary: str = "h0stile") -> bytes:
    out = b""
    for name, value in fields:
        disposition = f'form-data; name="{name}"' + ('; filename="b.txt"' if name == "file" else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


async def test_a_multipart_upload_without_a_length_is_bounded_in_its_form_fields_too(services, monkeypatch):
    """Sent chunked (no Content-Length to refuse up front), only the file part was bounded: a form field
    was read whole into memory (then cut to 1,000 characters), and any number of fields were kept, so
    one upload could hold as much memory as it could send within the body deadline."""
    from exam_engine.services import banks

    monkeypatch.setattr(banks, "MAX_BANK_BYTES", 100_000)
    await _discipline(services)
    client, api = await _quality(services, language="ru")

    async def send(fields: list[tuple[str, bytes]]) -> tuple[int, dict]:
        body = _multipart(fields)

        async def chunks():  # type: ignore[no-untyped-def]
            for i in range(0, len(body), 16384):
                yield body[i : i + 16384]

        resp = await client.post(
            "/api/v1/bank/uploads",
            data=chunks(),
            headers={**api._headers(), "Content-Type": "multipart/form-data; boundary=h0stile"},
        )
        return resp.status, await resp.json()

    try:
        base = [("discipline", b"CRIM-201"), ("lang", b"kk"), ("file", GOOD)]
        status, body = await send([*base, ("topic", b"x" * 300_000)])
        assert status == 413 and body["error"]["code"] == "form_too_large", (status, body)
        assert body["error"]["message"] == "Поля формы загрузки слишком велики: кроме файла не более 65536 байт."
        status, body = await send([*base, *((f"f{i}", b"1") for i in range(500))])
        assert status == 422 and body["error"]["code"] == "form_too_many_fields", (status, body)
        assert body["error"]["message"] == "В форме загрузки больше 64 полей."
        # A part's header line over aiohttp's bound (a file name of 20,000 characters): the form's fault,
        # said as such — not "the length or the chunked encoding is malformed".
        long_name = _multipart(base).replace(b'filename="b.txt"', b'filename="' + b"n" * 20_000 + b'.txt"')
        resp = await client.post(
            "/api/v1/bank/uploads",
            data=long_name,
            headers={**api._headers(), "Content-Type": "multipart/form-data; boundary=h0stile"},
        )
        body = await resp.json()
        assert resp.status == 422 and body["error"]["code"] == "multipart_invalid", (resp.status, body)
        assert await _versions(services) == 0
        status, body = await send([*base, ("topic", "Жалпы бөлім".encode())])  # a plain form goes through
        assert status == 201, body
    finally:
        await client.close()
