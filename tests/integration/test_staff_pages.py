"""Issue 20 staff pages over HTTP (the browser walks are in tests/e2e/test_staff_in_browser.py): the exam-day
page and its actions, journal set-up, the audit log, the language switch, annulment in the journal grid."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.tables import attempts, audit_log, users
from tests.factories import ADMIN, make_user, make_world, open_client
from tests.integration.test_exam_day_world import close_all, signed_in, staff, start

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


async def watch(services, exam_id: int, *logins: str) -> None:  # type: ignore[no-untyped-def]
    """Assign proctors to the exam where per-exam assignments exist (issue 19); nothing to do without them."""
    try:
        from exam_engine.services import assignments  # type: ignore[attr-defined]
    except ImportError:
        return
    async with services.engine.begin() as conn:
        await assignments.set_exam_proctors(conn, ADMIN, exam_id, list(logins), now=services.clock.now())


async def _page(api, path: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    resp = await api.client.request("GET", path, allow_redirects=False)
    return resp.status, await resp.text()


async def _post(api, path: str, data: dict) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    resp = await api.client.request("POST", path, data={"_csrf": api.csrf, **data}, allow_redirects=False)
    return resp.status, await resp.text(), resp.headers.get("Location", "")


async def test_the_live_page_lists_absent_lobby_and_writing_students_and_pauses_with_a_reason(services, clock):
    world = await make_world(services, students=3)
    client = await open_client(services)
    writer = await signed_in(client, "student1")
    waiting = await signed_in(client, "student2")
    proctor = await staff(services, client, "proctor1", Role.PROCTOR)
    await watch(services, world.exam_id, "proctor1")
    try:
        aid = (await start(writer, world.exam_id))["attempt"]["id"]
        status, body = await waiting.call("POST", f"/api/v1/exams/{world.exam_id}/lobby", {"checks": {}})
        assert status == 200, body

        status, html = await _page(proctor, "/proctor/live")
        assert status == 200 and f'href="/proctor/live/{world.exam_id}"' in html and "Law exam" in html
        status, html = await _page(proctor, f"/proctor/live/{world.exam_id}")
        assert status == 200
        states = dict(
            re.findall(r'data-state="(\w+)" data-student="\d+">\s*<th scope="row">(?:<a [^>]*>)?Student (\w+)', html)
        )
        assert {v: k for k, v in states.items()} == {"student1": "writing", "student2": "lobby", "student3": "absent"}
        assert "жазып отыр" in html and "күту залында" in html and "келмеді" in html  # kk: the proctor's language

        # A pause without a reason is refused in words and changes nothing; with one it pauses.
        action = f"/proctor/live/{world.exam_id}/attempts/{aid}/pause"
        status, html, _ = await _post(proctor, action, {"reason": "  "})
        assert status == 422 and "Себебін" in html
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(attempts.c.status))).scalar() == "in_progress"
        status, _, location = await _post(proctor, action, {"reason": "өрт дабылы"})
        assert status == 303 and location.startswith(f"/proctor/live/{world.exam_id}?done=pause")
        status, html = await _page(proctor, location)
        assert "тоқтатылды" in html and 'data-state="paused"' in html
        async with services.engine.connect() as conn:
            after = (
                await conn.execute(select(audit_log.c.after).where(audit_log.c.action == "attempt.paused"))
            ).scalar()
        assert after["reason"] == "өрт дабылы"

        # Extra time with no minutes: the service's refusal, shown on the form.
        status, html, _ = await _post(
            proctor,
            f"/proctor/live/{world.exam_id}/attempts/{aid}/extra-time",
            {"reason": "компьютер істен шықты", "minutes": ""},
        )
        assert status == 422 and "600" in html
        # Downtime credit with no measured downtime: refused in words; release and terminate work from the page.
        status, html, _ = await _post(
            proctor, f"/proctor/live/{world.exam_id}/attempts/{aid}/downtime-credit", {"reason": "сервер тоқтады"}
        )
        assert status == 409 and 'id="action-error"' in html
        status, _, location = await _post(
            proctor, f"/proctor/live/{world.exam_id}/attempts/{aid}/release-device", {"reason": "ноутбук істен шықты"}
        )
        assert status == 303 and "done=release-device" in location
        status, _, location = await _post(
            proctor, f"/proctor/live/{world.exam_id}/attempts/{aid}/no-such-action", {"reason": "x"}
        )
        assert status == 404
        async with services.engine.connect() as conn:
            actions = (
                (
                    await conn.execute(
                        select(audit_log.c.action)
                        .where(audit_log.c.subject == f"attempt:{aid}")
                        .order_by(audit_log.c.id)
                    )
                )
                .scalars()
                .all()
            )
        assert actions[-2:] == ["attempt.paused", "attempt.device_released"]
        # The rows partial the page polls carries the same state.
        status, html = await _page(proctor, f"/proctor/live/{world.exam_id}/rows")
        assert status == 200 and 'data-state="paused"' in html and "<html" not in html
        # /live (reported as 404) leads to the index.
        status, _ = await _page(proctor, "/live")
        assert status == 302
        # A student may not open it; the academic administrator may (roster and actions, no camera pictures).
        status, _ = await _page(writer, f"/proctor/live/{world.exam_id}")
        assert status == 403
        await make_user(services, "admin1", Role.ACADEMIC_ADMIN)
        admin = await signed_in(client, "admin1")
        status, html = await _page(admin, f"/proctor/live/{world.exam_id}")
        assert status == 200 and 'data-state="paused"' in html and "<img" not in html
        status, html = await _page(admin, f"/proctor/live/{world.exam_id}/attempts/{aid}/extra-time")
        assert status == 200 and 'name="widen_window"' in html
        status, _, location = await _post(
            admin, f"/proctor/live/{world.exam_id}/attempts/{aid}/terminate", {"reason": "телефон"}
        )
        assert status == 303
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(attempts.c.status))).scalar() == "annulled"
        await close_all(admin)
    finally:
        await close_all(writer, waiting, proctor)


async def test_the_admin_creates_a_journal_and_assigns_a_teacher_and_every_missing_field_is_named(services, clock):
    await make_world(services, students=1)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN, language="ru")
    await make_user(services, "teacher1", Role.TEACHER)
    client = await open_client(services)
    admin = await signed_in(client, "admin1")
    try:
        status, html = await _page(admin, "/")
        assert 'href="/admin/journals"' in html and 'href="/proctor/live"' in html and 'href="/admin/audit"' in html
        status, html, _ = await _post(
            admin, "/admin/journals", {"group": "", "discipline": "", "period": "", "closes_on": ""}
        )
        assert status == 422
        for field in ("group", "discipline", "period", "closes_on"):
            assert f'id="err-{field}"' in html, field
        # The closing day is typed as Kazakhstan writes it; one that is no day is named with the expected form.
        status, html, _ = await _post(
            admin,
            "/admin/journals",
            {"group": "G1", "discipline": "LAW-101", "period": "2026-spring", "closes_on": "12/31/2026"},
        )
        assert status == 422 and "Введите дату в виде ДД.ММ.ГГГГ, например 07.12.2026." in html
        assert 'placeholder="ДД.ММ.ГГГГ"' in html and 'type="date"' not in html
        status, _, location = await _post(
            admin,
            "/admin/journals",
            {"group": "G1", "discipline": "LAW-101", "period": "2026-spring", "closes_on": "31.12.2026"},
        )
        assert status == 303, _
        journal_id = location.split("#journal-")[1]
        status, html, location = await _post(
            admin, "/admin/journals/teachers", {"journal": journal_id, "teacher": "teacher1"}
        )
        assert status == 303
        status, html = await _page(admin, "/admin/journals")
        assert "Test teacher1" in html and "Журнал создан" not in html

        teacher = await signed_in(client, "teacher1")
        status, body = await teacher.call("GET", "/api/v1/journals")
        assert [j["id"] for j in body["items"]] == [int(journal_id)]
        assert body["items"][0]["closes_at"] == "2026-12-31T18:59:59+00:00"  # the day's end in Almaty
        await close_all(teacher)

        # The audit log names the admin, says what happened in Russian, filters and verifies.
        status, html = await _page(admin, "/admin/audit?action=journal.teacher_assigned")
        assert status == 200 and "Test admin1" in html and "user:admin1" not in html
        assert re.findall(r'<td class="what">([^<]*)</td>', html) == ["преподаватель назначен в журнал"]
        assert "Test teacher1 (" in html  # the id in the recorded values is named too
        status, html = await _page(admin, "/admin/audit?person=admin1&from=nonsense")
        assert status == 422 and "Введите дату в виде ДД.ММ.ГГГГ, например 07.12.2026." in html
        for typed in ("1.6.2026", "2026-06-01"):  # the page's form and ISO (links, scripts) read the same
            status, html = await _page(admin, f"/admin/audit?action=journal.teacher_assigned&from={typed}&to={typed}")
            assert status == 200 and 'value="01.06.2026"' in html, typed
            assert re.findall(r'<td class="what">([^<]*)</td>', html) == ["преподаватель назначен в журнал"], typed
        status, html = await _page(admin, "/admin/audit?action=journal.teacher_assigned&from=02.06.2026")
        assert status == 200 and re.findall(r'<td class="what">([^<]*)</td>', html) == []
        resp = await admin.client.request("POST", "/admin/audit", data={"_csrf": admin.csrf})
        assert resp.status == 200 and 'id="audit-state"' in await resp.text()
    finally:
        await close_all(admin)


async def test_the_language_switch_keeps_the_query_and_the_sign_in_choice_wins(services, clock):
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN, language="kk")
    client = await open_client(services)
    try:
        # Before sign-in: choose Russian on the sign-in page; the account says Kazakh.
        resp = await client.post(
            "/language", data={"lang": "ru", "next": "/login?next=%2Fadmin%2Faudit%3Fpage%3D2"}, allow_redirects=False
        )
        where = urlsplit(resp.headers["Location"])
        assert (
            resp.status == 302 and where.path == "/login" and parse_qs(where.query) == {"next": ["/admin/audit?page=2"]}
        )
        resp = await client.post(
            "/login",
            data={"login": "admin1", "password": "correct horse battery staple", "next": "/admin/audit?page=2"},
            allow_redirects=False,
        )
        assert resp.status == 302 and resp.headers["Location"] == "/admin/audit?page=2"
        resp = await client.get("/admin/audit?page=2")
        html = await resp.text()
        assert 'lang="ru"' in html and "Журнал аудита" in html
        # The switch on a page with a query string comes back to the same address.
        csrf = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
        assert 'name="next" value="/admin/audit?page=2"' in html
        resp = await client.post(
            "/language", data={"lang": "kk", "next": "/admin/audit?page=2", "_csrf": csrf}, allow_redirects=False
        )
        assert resp.headers["Location"] == "/admin/audit?page=2"
        assert 'lang="kk"' in await (await client.get("/admin/audit?page=2")).text()
        # A missing page is a page in the reader's language, not a bare English "404: Not Found".
        resp = await client.get("/quality/no-such-page?x=1")
        assert resp.status == 404 and "Бет табылмады" in await resp.text()
        # The switch on a page that answered a form (its address takes only POST) lands on the page above it.
        resp = await client.get("/admin/users/reset", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/admin/users"
        resp = await client.get("/admin/journals/teachers", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/admin/journals"
        resp = await client.get("/api/v1/no-such-thing")
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    finally:
        await client.close()


async def test_the_demo_gives_every_role_something_to_do(services, clock):
    from exam_engine import demo
    from exam_engine.domain.actors import Actor
    from exam_engine.services import live_board
    from journal_bridge import api as journal_api

    await demo.seed(services)
    await demo.seed(services)  # a second run adds nothing twice
    async with services.engine.connect() as conn:
        proctor_id = (await conn.execute(select(users.c.id).where(users.c.login == "proctor"))).scalar()
        teacher_id = (await conn.execute(select(users.c.id).where(users.c.login == "teacher"))).scalar()
        proctor = Actor(proctor_id, "proctor", Role.PROCTOR)
        today = await live_board.exams_of_day(conn, proctor, now=clock.now(), tz="Asia/Almaty")
        journals = await journal_api.visible_journals(
            conn, journal_api.Actor(str(teacher_id), frozenset({journal_api.Role.TEACHER})), clock.now(), staff=False
        )
    assert sorted(e["proctored"] for e in today if e["open_now"]) == [False, True]
    assert all(e["students"] == 3 for e in today)
    assert sorted(j.discipline_code for j in journals) == ["DEMO-101", "DEMO-102"]


async def test_the_audit_log_pages_fifty_at_a_time_newest_first_and_names_the_system(services, clock):
    from exam_engine.services.audit import record

    await make_user(services, "root1", Role.SYSADMIN, language="ru")
    async with services.engine.begin() as conn:
        for n in range(60):
            await record(conn, clock.now(), "system:deadline", "attempt.timed_out", f"attempt:{n:04d}")
    client = await open_client(services)
    root = await signed_in(client, "root1")
    try:
        status, first = await _page(root, "/admin/audit?action=attempt.timed_out")
        assert status == 200 and first.count('<td class="what">') == 50
        assert "attempt:0059" not in first and "попытка 0059" in first and "попытка 0010" in first
        assert "попытка 0009" not in first and "система (время вышло)" in first and "system:deadline" not in first
        older = re.search(r'href="([^"]+)" id="audit-next"', first).group(1).replace("&amp;", "&")
        status, second = await _page(root, "/admin/audit" + older)
        assert status == 200 and second.count('<td class="what">') == 10 and "попытка 0000" in second
        assert 'id="audit-next"' not in second and 'id="audit-prev"' in second
        # A failed sign-in by nobody known: the address in words, the subject named.
        async with services.engine.begin() as conn:
            await record(conn, clock.now(), "anon:10.0.0.7", "auth.login_failed", "login:nobody")
        status, html = await _page(root, "/admin/audit?action=auth.login_failed")
        assert "без входа в систему (10.0.0.7)" in html and "неудачный вход" in html and "логин nobody" in html
        assert "anon:" not in html
    finally:
        await close_all(root)


async def test_only_the_sysadmin_is_offered_the_machine_readable_api_description(services, clock):
    # Raw English JSON is no page for a proctor or a teacher; whoever connects other systems finds it.
    await make_user(services, "root1", Role.SYSADMIN, language="ru")
    await make_user(services, "proctor1", Role.PROCTOR, language="kk")
    await make_user(services, "teacher1", Role.TEACHER, language="ru")
    client = await open_client(services)
    people = [await signed_in(client, login) for login in ("root1", "proctor1", "teacher1")]
    try:
        offered = []
        for api in people:
            status, html = await _page(api, "/")
            assert status == 200
            offered.append("/api/v1/openapi.json" in html)
    finally:
        await close_all(*people)
    assert offered == [True, False, False]


async def test_the_system_page_says_in_words_when_the_database_or_the_chain_check_fails(services, clock, monkeypatch):
    # A failure was shown as the exception's English class name ("OperationalError") as its only words.
    from admin_ui import admin_system

    await make_user(services, "root1", Role.SYSADMIN, language="kk")
    client = await open_client(services)
    root = await signed_in(client, "root1")

    def unreachable(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("connection refused")

    async def cannot_verify(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the chain could not be read")

    monkeypatch.setattr(admin_system, "text", unreachable)
    monkeypatch.setattr(admin_system.api, "verify_audit_chain", cannot_verify)
    try:
        status, html = await _page(root, "/admin/system")
        assert status == 200
        assert "жауап жоқ; себебі сервер журналында" in html and "OSError" not in html
        _, verified, _ = await _post(root, "/admin/system", {})
        assert "Тексеру орындалмады; себебі сервер журналында." in verified
        assert "<code>RuntimeError</code>" in verified  # a name to search the log for, shown as code
    finally:
        await close_all(root)


@pytest.mark.parametrize(("language", "heading"), [("kk", "Файл тым үлкен"), ("ru", "Файл слишком большой")])
async def test_a_form_over_the_servers_bound_answers_a_page_in_words_and_stores_nothing(
    services, clock, language, heading
):
    # A 13 MiB bank (a .docx with pictures, say) was refused with aiohttp's plain English
    # "Maximum request body size 12582912 exceeded."
    import aiohttp

    from question_bank.tables import bank_versions

    await make_user(services, "quality1", Role.QUALITY, language=language)
    client = await open_client(services)
    quality = await signed_in(client, "quality1")
    try:
        form = aiohttp.FormData()
        form.add_field("_csrf", quality.csrf)
        form.add_field("discipline", "LAW-101")
        form.add_field("lang", "kk")
        form.add_field("file", b"x" * (13 * 1024 * 1024), filename="big.docx", content_type="application/octet-stream")
        resp = await quality.client.request("POST", "/quality/upload", data=form, allow_redirects=False)
        html = await resp.text()
        assert resp.status == 413 and heading in html and "Maximum request body size" not in html
        back = re.search(r'<a href="([^"]+)" id="error-back">', html).group(1)
        again = await quality.client.request("GET", back)
        assert again.status == 200 and again.url.path == "/quality"  # the way back leads to the upload form
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
        status, body = await quality.call("POST", "/api/v1/bank/uploads", data=b"x" * (13 * 1024 * 1024))
        assert status == 413 and body["error"]["code"] == "bank_too_large"  # the API keeps its JSON refusal
        # aiohttp's own refusals of an API request are worded too (a page script shows the message).
        status, body = await quality.call("GET", "/api/v1/no-such-route")
        words = {"kk": "Бұл мекенжайда ештеңе жоқ.", "ru": "По этому адресу ничего нет."}[language]
        assert (status, body["error"]) == (404, {"code": "not_found", "message": words})
        status, body = await quality.call("DELETE", "/api/v1/me/language")
        assert (
            status == 405 and body["error"]["code"] == "method_not_allowed" and "Method" not in body["error"]["message"]
        )
    finally:
        await close_all(quality)
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(bank_versions.c.id))).first() is None


@pytest.mark.parametrize("language", ["kk", "ru"])
async def test_a_form_sent_from_a_stale_page_answers_a_page_in_words_and_changes_nothing(services, clock, language):
    # A page left open while the person signed in again elsewhere sends an old CSRF token: that was
    # raw JSON ({"error": {"code": "csrf_failed", ...}}) on a form page and "403: Forbidden" on the
    # language switch.
    await make_user(services, "teacher1", Role.TEACHER, language=language)
    client = await open_client(services)
    teacher = await signed_in(client, "teacher1")
    expired = {"kk": "Форманың мерзімі өтті", "ru": "Срок действия формы истёк"}[language]
    try:
        for path, form in (
            ("/account", {"current": "x", "new": "a brand new password"}),
            ("/language", {"lang": "ru" if language == "kk" else "kk", "next": "/journals"}),
        ):
            resp = await teacher.client.request(
                "POST", path, data={"_csrf": "a token of another page", **form}, allow_redirects=False
            )
            html = await resp.text()
            assert resp.status == 403 and resp.content_type == "text/html", (path, html[:200])
            assert expired in html and 'id="error-back"' in html and "csrf_failed" not in html, path
    finally:
        await close_all(teacher)
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(users.c.language).where(users.c.login == "teacher1"))).scalar() == language
        denied = (await conn.execute(select(audit_log.c.action).where(audit_log.c.action == "access.denied"))).all()
    assert len(denied) == 2  # both refusals recorded, as before
