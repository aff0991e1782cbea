"""Requests aiohttp cannot parse are refused precisely, in the reader's language, and logged in English.

Before, aiohttp answered them itself — a URL or a header line over 8,190 bytes, more than 128 headers,
a garbled request line or header, a bad ``Content-Length`` or chunk — with an English plain-text 400
quoting the client's own bytes (a student whose cookies had grown read "Got more than 8190 bytes when
reading: b'...'"), and logged each with a traceback. A chunked body found malformed while its route was
already reading it got no answer at all until the body deadline (30 s), then a 408 "did not arrive".
Raw sockets, since no HTTP client sends these.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from exam_engine.app import build_app
from tests.e2e.conftest import browser, webcam_file  # noqa: F401 - fixtures
from tests.factories import Api, make_world, open_client, start_exam

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


async def _raw(port: int, *parts: bytes, pause: float = 0.0) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(pause)
        raw = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _request(target: str, *headers: str, method: str = "GET", body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _api_error(status_headers_body: tuple[int, dict[str, str], bytes]) -> tuple[int, str, str]:
    status, headers, body = status_headers_body
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    return status, error["code"], error["message"]


def _page(status_headers_body: tuple[int, dict[str, str], bytes]) -> tuple[int, str]:
    status, headers, body = status_headers_body
    assert headers["content-type"].startswith("text/html"), headers
    return status, body.decode()


async def test_requests_aiohttp_cannot_parse_get_a_precise_refusal_in_the_readers_language(
    services, caplog, monkeypatch
):
    from exam_engine.web import protocol

    monkeypatch.setattr(protocol, "GATE", protocol._LogGate())  # not gated by another test's refusals
    client = await open_client(services)
    port = client.port
    caplog.set_level(logging.INFO)
    try:
        # The exam page's API, a Russian browser: a URL over the bound.
        status, code, message = _api_error(
            await _raw(port, _request("/api/v1/me?q=" + "a" * 9000, "Accept-Language: ru-RU,ru;q=0.9"))
        )
        assert (status, code) == (414, "url_too_long")
        assert (
            message
            == "Адрес запроса слишком длинный (более 8190 символов). Откройте страницу заново с главной страницы."
        )

        # A page, cookies grown past the bound; the language cookie (kk) wins over the browser's ru.
        status, page = _page(
            await _raw(port, _request("/exam", "Accept-Language: ru", "Cookie: lang=kk; junk=" + "x" * 9000))
        )
        assert status == 431
        assert '<html lang="kk">' in page and "Сұрау қабылданбады" in page
        assert "Браузерде осы сайттың cookie файлдарын өшіріп, қайта кіріңіз." in page
        assert "Got more than" not in page and "bytes" not in page

        # More headers than the bound, in Russian.
        many = [f"X-Extra-{i}: {i}" for i in range(200)]
        status, page = _page(await _raw(port, _request("/staff", "Accept-Language: ru", *many)))
        assert status == 431 and "Запрос отклонён" in page and "более 128 заголовков" in page

        # Not HTTP at all: nothing says who it is, so the default language (Kazakh), a page.
        status, page = _page(await _raw(port, b"HELLO THERE\r\n\r\n"))
        assert status == 400 and "Сұраудың бірінші жолы дұрыс HTTP сұрау жолы емес." in page

        # A malformed header line on the API.
        status, code, message = _api_error(
            await _raw(port, _request("/api/v1/me", "Accept-Language: ru", "Bad Header Line"))
        )
        assert (status, code) == (400, "bad_header")
        assert message == "Один из заголовков запроса искажён или повторяется. Запрос не обработан."

        # Two Content-Lengths (request smuggling's first step) on the sign-in.
        status, code, message = _api_error(
            await _raw(
                port,
                _request(
                    "/api/v1/auth/login",
                    "Cookie: lang=ru",
                    "Content-Type: application/json",
                    "Content-Length: 2",
                    "Content-Length: 3",
                    method="POST",
                    body=b"{}",
                ),
            )
        )
        assert (status, code) == (400, "bad_body_framing")
        assert message.startswith("Длина тела запроса или его разбиение на части указаны неверно.")

        # The server goes on serving.
        resp = await client.get("/healthz")
        assert resp.status == 200

        # Logged in English, one line each at most every 10 s (a flood of garbage does not fill the disk),
        # without a traceback.
        refused = [r for r in caplog.records if "could not be parsed" in r.getMessage()]
        assert refused and all(r.levelno == logging.WARNING and r.exc_info is None for r in refused)
        assert "url_too_long" in refused[0].getMessage() and len(refused[0].getMessage()) < 400
        assert not [r for r in caplog.records if r.name == "aiohttp.server"], "aiohttp still logs them itself"
    finally:
        await client.close()


async def test_a_chunked_body_that_turns_out_malformed_is_refused_at_once_and_changes_nothing(services, caplog):
    services.settings = services.settings.with_overrides(body_timeout_s=30.0)
    world = await make_world(services, students=1, student_language="ru")
    client = await open_client(services)
    caplog.set_level(logging.INFO)
    try:
        student = Api(client)
        started = await start_exam(student, world.students[0], world.exam_id)
        attempt = started["attempt"]["id"]
        cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["exam_session"].value
        head = _request(
            f"/api/v1/attempts/{attempt}/answers/1",
            f"Cookie: exam_session={cookie}",
            f"X-CSRF-Token: {student.csrf}",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
            "Accept-Language: ru-RU,ru;q=0.9",  # the body is read before the person is looked up
            method="PUT",
        )
        t0 = time.perf_counter()
        # The head reaches the route, which starts reading the body; then a chunk size that is not hex.
        result = await _raw(client.port, head, b"zz\r\n" + b'{"choice":1,"seq":1}' + b"\r\n0\r\n\r\n", pause=0.3)
        took = time.perf_counter() - t0
        status, code, message = _api_error(result)
        assert (status, code) == (400, "bad_body_framing"), (status, code, message)
        assert message.startswith("Длина тела запроса или его разбиение на части указаны неверно.")
        assert took < 5, f"the refusal took {took:.1f} s (the body deadline is 30 s)"
        status, view = await student.call("GET", f"/api/v1/attempts/{attempt}")
        assert status == 200 and view["questions"][0]["seq"] is None, view
        assert not [r for r in caplog.records if r.name == "aiohttp.server"], "an unhandled error was logged"
    finally:
        await client.close()


async def test_an_unhandled_error_is_a_500_in_the_readers_language_not_aiohttps_english(services):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app = build_app(services, run_sweeper=False)
    app.router.add_get("/api/v1/boom", boom)
    app.router.add_get("/boom", boom)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        resp = await client.get("/api/v1/boom", headers={"Accept-Language": "ru"})
        body = await resp.json()
        assert resp.status == 500 and body["error"]["code"] == "internal_error"
        assert body["error"]["message"].startswith("Сервер не смог выполнить запрос; ошибка записана.")
        resp = await client.get("/boom", headers={"Cookie": "lang=kk"})
        page = await resp.text()
        assert resp.status == 500 and resp.content_type == "text/html"
        assert "Сервер сұрауды орындай алмады; қате тіркелді." in page and "Internal Server Error" not in page
    finally:
        await client.close()


@pytest.mark.e2e
@pytest.mark.parametrize("language", ["kk", "ru"])
async def test_a_browser_whose_cookies_grew_too_large_sees_what_to_do_in_its_language(services, browser, language):  # noqa: F811
    """What a student sees when the browser's cookies for the site outgrow the header bound."""
    from tests.e2e.conftest import served_page, shot

    async with served_page(services, browser, locale=f"{language}-KZ") as (base, page):
        host = base.split("//", 1)[1].split(":")[0]
        big = [{"name": f"junk{i}", "value": "x" * 3500, "domain": host, "path": "/"} for i in range(3)]
        await page.context.add_cookies([{"name": "lang", "value": language, "domain": host, "path": "/"}, *big])
        response = await page.goto(f"{base}/exam/1")
        assert response.status == 431
        text = await page.inner_text("main")
        expected = {
            "kk": ("Сұрау қабылданбады", "Браузерде осы сайттың cookie файлдарын өшіріп, қайта кіріңіз."),
            "ru": ("Запрос отклонён", "Удалите в браузере файлы cookie этого сайта и войдите заново."),
        }[language]
        assert all(part in text for part in expected), text
        # Its style is its own (the stylesheet's request carries the same cookies), allowed by its hash.
        bar = await page.evaluate("getComputedStyle(document.querySelector('.top')).backgroundColor")
        assert bar == "rgb(11, 92, 173)", bar
        await shot(page, f"refused-headers-too-large-{language}")
