"""Issue 19 in real Chromium: the printed one-time password leads only to the change page; another site's form cannot sign in."""

from __future__ import annotations

import pytest

from exam_engine.services import users as user_service
from tests.factories import ADMIN, make_world, open_client

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]


async def test_a_student_with_the_printed_password_can_only_change_it(services, browser):
    world = await make_world(services, students=1)
    async with services.engine.begin() as conn:
        otp = await user_service.reset_password(conn, ADMIN, "student1", now=services.clock.now())
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ")
    page = await context.new_page()
    try:
        await page.goto(f"{base}/login?next=/student")
        await page.fill("#login", "student1")
        await page.fill("#password", otp)
        await page.click("button[type=submit].primary")
        await page.wait_for_url(f"{base}/account?first=1")
        for path in ("/student", f"/exam/{world.exam_id}", "/"):
            await page.goto(f"{base}{path}")
            assert page.url == f"{base}/account?first=1", path
        refusal = await page.evaluate(
            """async (id) => {
            const me = await (await fetch('/api/v1/me')).json();
            const r = await fetch(`/api/v1/exams/${id}/start`, {method: 'POST', headers: {'X-CSRF-Token': me.csrf_token}});
            return [r.status, (await r.json()).error.code];
        }""",
            world.exam_id,
        )
        assert refusal == [403, "password_change_required"]
        await page.fill("#current", otp)
        await page.fill("#new", "менің жаңа ұзын құпиясөзім")
        await page.click("button[type=submit].primary")
        await page.wait_for_selector("p.ok")
        await page.goto(f"{base}/student")
        assert page.url == f"{base}/student"
    finally:
        await context.close()
        await client.close()


TEXT_PLAIN_JSON = """([target]) => {
    const f = document.createElement('form');
    f.method = 'POST'; f.action = target; f.enctype = 'text/plain';
    const i = document.createElement('input');  // the body becomes {"login":…,"x":"="}: JSON sent as text/plain
    i.name = '{"login":"student1","password":"correct horse battery staple","x":"'; i.value = '"}';
    f.appendChild(i); document.body.appendChild(f); f.submit();
}"""
URLENCODED = """([target]) => {
    const f = document.createElement('form');
    f.method = 'POST'; f.action = target;
    for (const [k, v] of [['login', 'student1'], ['password', 'correct horse battery staple']]) {
        const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
    }
    document.body.appendChild(f); f.submit();
}"""


@pytest.mark.parametrize(
    "target,script,policy",
    [
        ("/api/v1/auth/login", TEXT_PLAIN_JSON, "strict-origin-when-cross-origin"),  # Origin: http://evil.example
        ("/login", URLENCODED, "no-referrer"),  # Origin: null (the attacker chooses its page's referrer policy)
    ],
)
async def test_a_form_on_another_site_cannot_sign_the_browser_in(services, browser, target, script, policy):
    await make_world(services, students=1)
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="ru-RU")
    html = f'<!doctype html><meta name="referrer" content="{policy}"><title>evil</title><body></body>'
    await context.route("http://evil.example/**", lambda route: route.fulfill(body=html, content_type="text/html"))
    page = await context.new_page()
    try:
        await page.goto("http://evil.example/")
        async with page.expect_navigation():
            await page.evaluate(script, [f"{base}{target}"])
        assert not [c for c in await context.cookies(base) if c["name"] == "exam_session"]
        await page.goto(f"{base}/student")
        assert page.url.startswith(f"{base}/login")  # not signed in
    finally:
        await context.close()
        await client.close()
