"""Every page every demo account can open, in Kazakh and in Russian, shows no English and no raw code.

Outside reviewers sign in as each person of the demo (``exam_engine.demo``), open every page in kk and in
ru and fail us for any English word or raw code on screen ("attempt.paused", "in_progress", "None", an
exception's text, an untranslated button, "Dec"). This walk does the same: the page routes are read from
the app's router (a new page is covered without touching this file), their path parameters are filled
from the demo world after a few actions (a proctored exam in its checks, one written after a pause, a
flagged proctored attempt, submitted attempts' results, an exam decided by the quality gate), and the visible text of every HTML answer — 403 and 404 pages included,
since a person sees those too — is checked for Latin words and codes.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select, update

from exam_engine import demo
from exam_engine.demo_bank import DEMO_ITEMS
from exam_engine.domain.holds import HoldPolicy
from exam_engine.domain.roles import ROLE_NAMES, Role
from exam_engine.i18n import translate
from exam_engine.security import passwords
from exam_engine.services import holds
from exam_engine.tables import attempts, exams, users
from exam_engine.web.app import create_app  # noqa: F401 - importing the app registers every route module
from journal_bridge import api as journal_api
from question_bank import api as bank_api
from tests.factories import PASSWORD, Api, new_api, open_client
from tests.integration.proctor_world import BASE

_PARAM = re.compile(r"{(\w+)}")

# GET routes of admin_ui that are not pages a person reads (no text to check), and why.
NOT_PAGES = {
    "/favicon.ico": "an icon",
    "/proctor/live/{exam_id}/picture/{attempt_id}/{seq}": "a camera picture (JPEG)",
}

# Latin a kk/ru reader legitimately sees, each with its reason. Anything else Latin of three or more
# letters on a page, or any snake_case / dotted code, fails the test.
ALLOWED = {
    # The demo's logins (exam_engine.demo.ACCOUNTS): a login is typed in Latin and shown as typed.
    # (Five of them equal a role's code — teacher, proctor, quality, methodologist, sysadmin — so the
    # walk also checks that a refusal names the role in words.)
    *(login for login, *_ in demo.ACCOUNTS),
    # The demo's codes of discipline, group, faculty, department, journal period and exam session
    # ("DEMO-101", "DEMO-G1", ...: codes are Latin data the university enters; the names next to them are kk/ru).
    "DEMO",
    # The operator account that ran `exam-engine demo`: "command line (demo)" as uploader and in the audit log.
    "demo",
    # File formats and extensions, and the encodings a CSV may come in.
    *("PDF", "CSV", "XLSX", "JSON", "XML", "DOCX", "WebM", "JPEG", "UTF-8", "CP1251"),
    *("txt", "docx", "zip", "xlsx", "csv", "xml"),
    # Question-bank formats by their own names (the upload form and its hint).
    *("Platonus", "GIFT", "Aiken", "Moodle", "QTI"),
    # The brand.
    "exam-engine",
}

# Latin that one page legitimately shows, by route.
ALLOWED_ON = {
    # The API description's standard name on the staff start page ("API сипаттамасы (OpenAPI)").
    "/": {"API", "OpenAPI"},
    # The contingent upload's required and optional CSV columns, named as the file must spell them.
    "/admin/contingent": {"role", "login", "full_name", "group", "faculty", "faculty_name", "language", "student"},
    # Example codes in the code fields' hints: codes are Latin.
    "/admin/disciplines": {"LAW-101"},
    "/admin/sessions": {"2026-SUMMER"},
    # Software by its own name (versions, readiness); the backup instructions name cron, systemd, the docs
    # file docs/backup.md and the command that verifies the audit chain, "exam-engine audit verify".
    "/admin/system": {"Python", "aiohttp", "SQLAlchemy", "SQLite", "PostgreSQL", "Redis"}
    | {"cron", "systemd", "docs", "backup.md", "audit", "verify"},
    # Keys by the names printed on them (the grid's hint: "press Enter", "Escape undoes what you typed").
    "/journals/{journal_id}": {"Enter", "Escape"},
    # Browsers by their own names (the screen-sharing check: "use a recent Chrome, Edge or Firefox").
    "/exam/{exam_id}": {"Chrome", "Edge", "Firefox"},
    "/exam/{exam_id}/check": {"Chrome", "Edge", "Firefox"},
}

# A Latin token: letters, digits and the joiners a code uses (snake_case, dotted, dashed).
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z]")
_WORD = re.compile(r"[A-Za-z]{3,}")
_CODE = re.compile(r"[A-Za-z0-9]_[A-Za-z0-9]|[A-Za-z]\.[A-Za-z]")
# An attempt's identifier (the audit log's "attempt 3f2a…", as in the attempt's address): not a word.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class _Visible(HTMLParser):
    """The text a person sees: text nodes outside <script>/<style>, and the attributes a browser shows.

    Also left out: what is shown as literal input or output — <code>, <pre>, <kbd>, <samp> (the commands
    the system administrator types, a version string, a one-time password, the audit filter's example).
    Taken in: the texts a page's script shows, passed in its ``<script type="application/json">`` block
    under ``messages`` (every page script gets its words there).
    """

    SHOWN = ("placeholder", "title", "aria-label", "alt")
    LITERAL = ("script", "style", "code", "pre", "kbd", "samp")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden: list[str] = []
        self._json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self._json = tag == "script" and found.get("type") == "application/json"
        if tag in self.LITERAL:
            self._hidden.append(tag)
        if self._hidden:
            return
        self.parts.extend(str(found[name]) for name in self.SHOWN if found.get(name))
        if tag == "input" and found.get("type") in ("submit", "button", "reset") and found.get("value"):
            self.parts.append(str(found["value"]))

    def handle_endtag(self, tag: str) -> None:
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()

    def handle_data(self, data: str) -> None:
        if self._json and self._hidden == ["script"]:
            self.parts.extend(_messages(json.loads(data)))
        elif not self._hidden and data.strip():
            self.parts.append(data)


def _messages(config: Any, inside: bool = False) -> list[str]:
    """The strings under every ``messages`` key of a page script's configuration."""
    if isinstance(config, dict):
        return [s for key, value in config.items() for s in _messages(value, inside or key == "messages")]
    if isinstance(config, list):
        return [s for value in config for s in _messages(value, inside)]
    # A message's {placeholders} are filled by the script; the words around them are what is checked.
    return [re.sub(r"\{\w+\}", " ", config)] if inside and isinstance(config, str) else []


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.parts)


def offending(text: str, path: str = "") -> list[str]:
    """Latin words of three or more letters and snake_case/dotted codes, except the allowed ones."""
    found = []
    allowed = ALLOWED | ALLOWED_ON.get(path, set())
    for token in _TOKEN.findall(text):
        token = token.strip(".-_")
        if _UUID.fullmatch(token):
            continue
        if token in allowed or token.split("-")[0] in allowed and not _CODE.search(token):
            continue  # "DEMO-101", "DEMO-G1": a demo code
        if _WORD.search(token) or _CODE.search(token):
            found.append(token)
    return found


def test_the_checker_finds_what_reviewers_find() -> None:
    html = (
        '<html><head><style>.a{color:red}</style><script>var paused = "attempt.paused";</script></head><body>'
        '<p>Емтихан <b>in_progress</b> None</p><input type="submit" value="Save">'
        '<input name="secret_code" value="x_y"><span title="Dec 7">7</span><img alt="Фото">'
        "<p>student1 DEMO-101 PDF exam-engine 12:40 &laquo;Жұмыс&raquo; <code>exam:3</code> попытка "
        "3f2a0c1e-9d5c-4e43-a0e4-12eddb29c194</p><p>Статус: paused</p>"
        '<script type="application/json">{"messages": {"ok": "Сақталды {time}", "no": "Saved"}, "url": "/api/v1/x"}'
        "</script></body></html>"
    )
    assert offending(visible_text(html)) == ["in_progress", "None", "Save", "Dec", "paused", "Saved"]


@dataclass
class World:
    exams: list[int]
    attempts: dict[int, list[str]]  # exam id → attempt ids
    journals: list[int]
    versions: list[int]


async def _password(services: Any) -> None:
    """The demo prints one-time passwords; the walk signs in with a known one, the change already made."""
    hashed = await passwords.hash_password_async(PASSWORD)
    async with services.engine.begin() as conn:
        await conn.execute(
            update(users)
            .where(users.c.login.in_([login for login, *_ in demo.ACCOUNTS]))
            .values(password_hash=hashed, must_change_password=False)
        )


async def _signed_in(client: Any, login: str) -> Api:
    api = await new_api(client)
    await api.login(login)
    return api


async def _act(services: Any, client: Any) -> None:
    """The states a page shows only after something happened, through the API a browser uses."""
    async with services.engine.connect() as conn:
        plain, proctored = (
            (await conn.execute(select(exams.c.id).order_by(exams.c.requires_proctoring, exams.c.id))).scalars().all()
        )
    student1, student2, student3 = [await _signed_in(client, f"student{n}") for n in (1, 2, 3)]
    proctor = await _signed_in(client, "proctor")
    try:
        # Everyone hands in the plain exam: its results are final, and the gate holds them (below).
        for student in (student1, student2, student3):
            status, body = await student.call("POST", f"/api/v1/exams/{plain}/start", {})
            assert status == 200, body
            status, body = await student.call("POST", f"/api/v1/attempts/{body['attempt']['id']}/submit")
            assert status == 200, body
        # student1 is in the proctored exam's device checks; student3 was let in, pasted (a flag), was
        # paused and resumed, and is writing.
        status, body = await student1.call("POST", f"/api/v1/exams/{proctored}/start", {})
        assert status == 200, body
        status, body = await student3.call("POST", f"/api/v1/exams/{proctored}/start", {})
        assert status == 200, body
        writing = body["attempt"]["id"]
        status, body = await proctor.call(
            "POST", f"/api/v1/live/attempts/{writing}/admit", {"reason": "тексеру аудиторияда өтті"}
        )
        assert status == 200, body
        status, body = await student3.call(
            "POST", f"{BASE}/attempts/{writing}/consent", {"consent": True, "camera": True, "microphone": True}
        )
        assert status == 200, body
        status, body = await student3.call(
            "POST", f"{BASE}/attempts/{writing}/events", {"events": [{"seq": 1, "type": "paste"}]}
        )
        assert status == 200, body
        for step in ("pause", "resume"):
            status, body = await proctor.call(
                "POST", f"/api/v1/live/attempts/{writing}/{step}", {"reason": "өрт дабылы"}
            )
            assert status == 200, body
    finally:
        for api in (student1, student2, student3, proctor):
            await api.client.close()  # type: ignore[attr-defined]
    # The quality gate decides the plain exam (its results are final): the hold pages have something to show.
    async with services.engine.begin() as conn:
        state = await holds.decide_exam(
            conn, plain, services.clock.now(), HoldPolicy(min_attempts=1, discrimination_below=2.0)
        )
    assert state is not None
    # A second, draft version of the first demo bank (nine of its ten questions): the version pages and the
    # comparison have a difference to show.
    async with services.engine.begin() as conn:
        kk = await bank_api.list_versions(conn, demo.DISCIPLINE)
        await bank_api.add_version(
            conn,
            discipline_code=demo.DISCIPLINE,
            language=kk[0].language,
            items=DEMO_ITEMS[kk[0].language][:9],
            source_name="банк.txt",
            created_by="user:quality",
            now=services.clock.now(),
        )


async def _world(services: Any) -> World:
    async with services.engine.connect() as conn:
        exam_ids = list((await conn.execute(select(exams.c.id).order_by(exams.c.id))).scalars())
        by_exam: dict[int, list[str]] = {e: [] for e in exam_ids}
        for row in await conn.execute(select(attempts.c.id, attempts.c.exam_id).order_by(attempts.c.started_at)):
            by_exam[int(row.exam_id)].append(str(row.id))
        journals = [int(j.id) for j in await journal_api.load_journals(conn)]
        versions = [
            v.id
            for code in (demo.DISCIPLINE, demo.PROCTORED_DISCIPLINE)
            for v in await bank_api.list_versions(conn, code)
        ]
        # The last one is a draft of the first bank (below): /quality/compare compares the two.
        first = await bank_api.list_versions(conn, demo.DISCIPLINE)
    return World(exam_ids, by_exam, journals, [*versions, first[-1].id])


def _page_routes(app: Any) -> list[str]:
    """Every GET page of admin_ui, read from the router."""
    found = []
    for route in app.router.routes():
        handler = getattr(route.handler, "__wrapped__", route.handler)
        if route.method not in ("GET", "*") or not getattr(handler, "__module__", "").startswith("admin_ui"):
            continue
        path = route.resource.canonical
        if path not in NOT_PAGES and path not in found:
            found.append(path)
    return found


def _urls(path: str, world: World) -> list[str]:
    """The addresses of a route with its parameters filled from the demo world (an attempt with its exam)."""
    from admin_ui.exam_day import ACTIONS

    names = _PARAM.findall(path)
    if "attempt_id" in names:
        pairs = [(str(e), a) for e, ids in world.attempts.items() for a in ids]
    else:
        pairs = [(str(e), "") for e in world.exams]
    values: dict[str, list[Any]] = {
        "exam_id": [str(e) for e in world.exams],
        "journal_id": [str(j) for j in world.journals],
        "version_id": [str(v) for v in world.versions],
        "action": list(ACTIONS),
        # Only the GET that sends a person back to the queue answers at these addresses: any id does.
        "correction_id": ["1"],
        "result_correction_id": ["1"],
    }
    unknown = [n for n in names if n not in values and n != "attempt_id"]
    assert not unknown, f"{path}: the walk has no demo value for {unknown}; add one in _urls"
    others = [n for n in names if n not in ("exam_id", "attempt_id")]
    urls = []
    for exam_id, attempt_id in pairs if {"exam_id", "attempt_id"} & set(names) else [("", "")]:
        for combo in itertools.product(*(values[n] for n in others)):
            filled = dict(zip(others, combo, strict=True), exam_id=exam_id, attempt_id=attempt_id)
            urls.append(_PARAM.sub(lambda m, f=filled: f[m.group(1)], path))  # type: ignore[misc]
    if path in QUERIES:
        urls = [url + QUERIES[path](world) for url in urls]
    return urls


# Pages that show nothing without a query string, and the one the walk gives them.
QUERIES = {
    "/quality/compare": lambda world: f"?old={world.versions[0]}&new={world.versions[-1]}",
}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_no_page_shows_english_or_a_code_to_any_demo_account_in_kk_or_ru(services: Any) -> None:
    await demo.seed(services)
    await _password(services)
    client = await open_client(services)
    try:
        await _act(services, client)
        world = await _world(services)
        routes = _page_routes(client.server.app)
        assert len(routes) > 20, routes
        opened: set[str] = set()
        findings: dict[tuple[str, str, str], list[str]] = {}  # (role, language, words) → the addresses
        for login, role, _name, _lang in demo.ACCOUNTS:
            person = await _signed_in(client, login)
            try:
                for language in ("kk", "ru"):
                    resp = await person.client.request(
                        "POST", "/language", data={"lang": language, "next": "/", "_csrf": person.csrf}
                    )
                    assert resp.status == 200 and f'lang="{language}"' in await resp.text()
                    for path in routes:
                        for url in _urls(path, world):
                            resp = await person.client.request("GET", url)
                            ctype = resp.headers.get("Content-Type", "")
                            body = await resp.text() if "html" in ctype else ""
                            where = f"{role} ({login}) [{language}] GET {url} → {resp.status} {resp.url.path}"
                            assert resp.status in (200, 403, 404), where
                            assert resp.url.path != "/login" or url == "/login", where  # still signed in
                            if resp.status == 200:
                                opened.add(path)
                            if body:
                                assert f'lang="{language}"' in body or "<html" not in body, where
                                text = visible_text(body)
                                words = offending(text, path)
                                # The audit log's fallback for an action it has no name for: the demo's have one.
                                unnamed = translate(language, "{area}: another action", area="").strip()
                                words += [f"«{unnamed}»"] if unnamed in text else []
                                # A refusal names the role in words: five demo logins equal their role's code,
                                # so the Latin check alone would not see "(proctor)" there.
                                refusal = translate(language, "Your role ({role}) may not do this.", role="\0")
                                named = refusal.replace("\0", translate(language, ROLE_NAMES[Role(role)]))
                                if refusal.split("\0")[0] in text and named not in text:
                                    words.append(f"not «{named}»")
                                if words:
                                    key = (f"{role} ({login})", language, " ".join(sorted(set(words))))
                                    findings.setdefault(key, []).append(f"GET {url} → {resp.status}")
                            if resp.status == 403:
                                break  # the role may not open this page at all: the other addresses say the same
            finally:
                await person.client.close()  # type: ignore[attr-defined]
        # Before sign-in: the sign-in page in the language chosen on it.
        anonymous = await new_api(client)
        try:
            for language in ("kk", "ru"):
                await anonymous.client.request("POST", "/language", data={"lang": language, "next": "/login"})
                resp = await anonymous.client.request("GET", "/login")
                body = await resp.text()
                assert resp.status == 200 and f'lang="{language}"' in body
                if words := offending(visible_text(body)):
                    findings.setdefault(("not signed in", language, " ".join(sorted(set(words)))), []).append(
                        "GET /login"
                    )
        finally:
            await anonymous.client.close()  # type: ignore[attr-defined]
        unopened = [p for p in routes if p not in opened]
        report = [
            f"{who} [{language}] {words!r} on {', '.join(urls[:4])}"
            + (f" and {len(urls) - 4} more" if urls[4:] else "")
            for (who, language, words), urls in findings.items()
        ]
        assert not findings and not unopened, (
            "English, codes or unnamed audit actions on screen:\n"
            + "\n".join(report)
            + f"\npages no demo account opened: {unopened}"
        )
    finally:
        await client.close()
