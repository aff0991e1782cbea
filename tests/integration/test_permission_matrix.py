"""The permission matrix, walked exhaustively: every API route × every role, on both databases.

Generated from the one place routes declare what they need (``endpoint(..., permission=...)``,
read back from ``ROUTES``) and the one place roles get permissions (``domain/roles.MATRIX``):
a route added with a permission is covered without touching this file. Object ownership
(another student's attempt, another teacher's journal) is checked on top, since one
permission cannot say whose object it is.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from sqlalchemy import func, select

from exam_engine.bootstrap import Services
from exam_engine.domain.roles import ACADEMIC_PERMISSIONS, MATRIX, Permission, Role, allows
from exam_engine.web.app import create_app  # noqa: F401 - importing the app registers every route module
from exam_engine.tables import answers
from exam_engine.web.http import ROUTES, RouteDoc
from tests.factories import Api, make_user, make_world, new_api, open_client
from tests.integration.test_journal_world import make_journal_world
from tests.unit.proctor import scenes as sc

_PARAM = re.compile(r"{(\w+)}")

# Signed-in routes that declare no permission, and why each is safe without one. A new route
# without a permission fails the test below until it is listed here with its reason (or gets one).
OPEN_TO_EVERY_SIGNED_IN_ROLE: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/auth/logout"): "anyone signs themselves out",
    ("GET", "/api/v1/me"): "anyone asks who they are",
    ("POST", "/api/v1/me/password"): "anyone changes their own password",
    ("PUT", "/api/v1/me/language"): "anyone chooses their language",
    ("GET", "/api/v1/journals"): "KEEP_JOURNAL or VIEW_JOURNALS: the handler checks either",
    ("GET", "/api/v1/journals/{journal_id}"): "the journal's rules decide who reads it (R4)",
    ("GET", "/api/v1/journals/{journal_id}/lessons/{lesson_id}/cells/{student_id}/history"): "as the grid",
    ("GET", "/api/v1/journals/{journal_id}/corrections"): "as the grid",
    ("GET", "/api/v1/journals/{journal_id}/statement"): "as the grid",
    ("GET", "/api/v1/journals/{journal_id}/export"): "as the grid",
    ("GET", "/api/v1/journals/{journal_id}/statistics"): "as the grid",
}


def _guarded() -> list[RouteDoc]:
    return [doc for doc, _ in ROUTES if doc.permission is not None]


def _url(doc: RouteDoc) -> str:
    """Syntactically valid path parameters: the permission check runs before any id is looked up."""
    return _PARAM.sub(lambda m: str(uuid.uuid4()) if m.group(1).endswith("attempt_id") else "1", doc.path)


async def _one_user_per_role(services: Services, client: Any, apis: dict[Role, Api]) -> dict[Role, Api]:
    for role in Role:
        login = f"matrix_{role.value}"
        await make_user(services, login, role)
        api = await new_api(client)
        await api.login(login)
        apis[role] = api
    return apis


Outcomes = dict[tuple[Role, str, str], tuple[int, Any]]


async def _walk(services: Services) -> tuple[Outcomes, list[logging.LogRecord]]:
    """Call every guarded route as every role; the answers and the denial log records."""
    client = await open_client(services)
    handler = _Capture()
    logger = logging.getLogger("exam_engine.web.http")
    logger.addHandler(handler)
    apis: dict[Role, Api] = {}
    try:
        apis = await _one_user_per_role(services, client, apis)
        outcomes: Outcomes = {}
        for doc in _guarded():
            url = _url(doc)
            for role, api in apis.items():
                body = {} if doc.method in ("POST", "PUT", "PATCH") else None
                outcomes[(role, doc.method, doc.path)] = await _call(api, doc.method, url, body)
    finally:
        logger.removeHandler(handler)
        for api in apis.values():
            await api.client.close()  # type: ignore[attr-defined]
        await client.close()
    return outcomes, handler.records


async def _call(api: Api, method: str, url: str, body: Any) -> tuple[int, Any]:
    """Like ``Api.call``, but a file download (XLSX, PDF) is kept as bytes."""
    resp = await api.client.request(method, url, json=body, headers={"X-CSRF-Token": api.csrf or ""})
    if "json" in resp.headers.get("Content-Type", ""):
        return resp.status, await resp.json()
    return resp.status, await resp.read()


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _forbidden(outcome: tuple[int, Any]) -> bool:
    status, body = outcome
    return status == 403 and isinstance(body, dict) and body.get("error", {}).get("code") == "forbidden"


def test_the_matrix_covers_many_routes_and_every_role_holds_some_guarded_route():
    guarded = _guarded()
    assert len(guarded) >= 40, len(guarded)
    # The sysadmin's rights (health, audit) are pages and commands, not API routes: R3 leaves them nothing here.
    for role in set(Role) - {Role.SYSADMIN}:
        assert any(doc.permission in MATRIX[role] for doc in guarded), role
    assert not any(doc.permission in MATRIX[Role.SYSADMIN] for doc in guarded)


def test_every_signed_in_route_without_a_permission_is_listed_with_its_reason():
    unguarded = {(doc.method, doc.path) for doc, _ in ROUTES if doc.auth and doc.permission is None}
    assert unguarded <= set(OPEN_TO_EVERY_SIGNED_IN_ROLE), sorted(unguarded - set(OPEN_TO_EVERY_SIGNED_IN_ROLE))


def test_the_sysadmin_holds_no_permission_that_any_academic_route_declares():
    academic = [doc for doc in _guarded() if doc.permission in ACADEMIC_PERMISSIONS]
    assert len(academic) >= 25
    assert not [doc.path for doc in academic if allows(Role.SYSADMIN, doc.permission)]  # type: ignore[arg-type]


async def test_every_route_refuses_every_role_without_its_permission_and_admits_the_others(services):
    outcomes, records = await _walk(services)
    wrongly_admitted = [(r.value, m, p, o[0]) for (r, m, p), o in outcomes.items()
                        if not allows(r, _permission(m, p)) and not _forbidden(o)]
    wrongly_refused = [(r.value, m, p, o) for (r, m, p), o in outcomes.items()
                       if allows(r, _permission(m, p)) and (_forbidden(o) or o[0] in (401, 500))]
    assert not wrongly_admitted, wrongly_admitted
    assert not wrongly_refused, wrongly_refused
    # R3: the technical administrator is refused every route that changes academic data.
    sysadmin = [(m, p) for (r, m, p), o in outcomes.items()
                if r is Role.SYSADMIN and _permission(m, p) in ACADEMIC_PERMISSIONS and not _forbidden(o)]
    assert not sysadmin, sysadmin
    # Every refusal is logged with the route and who asked; nothing admitted is logged as denied.
    denied = {(m, p, f"user:matrix_{r.value}") for (r, m, p), o in outcomes.items() if _forbidden(o)}
    logged = {(rec.args[0], _route_of(rec.args[1]), rec.args[2]) for rec in records  # type: ignore[index]
              if rec.msg.startswith("denied") and rec.args[3] == "forbidden"}  # type: ignore[index]
    assert denied and logged == denied


def _permission(method: str, path: str) -> Permission:
    return next(doc.permission for doc in _guarded() if (doc.method, doc.path) == (method, path))  # type: ignore[misc]


def _route_of(url: str) -> str:
    """The declared path of a called URL (ids back to their ``{name}``)."""
    for doc in _guarded():
        pattern = "^" + _PARAM.sub("[^/]+", re.escape(doc.path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(pattern, url):
            return doc.path
    return url


async def test_a_student_can_neither_read_nor_write_another_students_attempt(services):
    world = await make_world(services, students=2, requires_proctoring=True)
    client = await open_client(services)
    owner, other = Api(client), await new_api(client)
    try:
        await owner.login(world.students[0])
        await other.login(world.students[1])
        status, started = await owner.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 200, started
        attempt = started["attempt"]["id"]
        base = f"/api/v1/attempts/{attempt}"
        proctor = f"/api/v1/proctor/attempts/{attempt}"
        for method, url, body in (
            ("GET", base, None), ("GET", f"{base}/result", None),
            ("PUT", f"{base}/answers/1", {"choice": 0, "seq": 1}), ("POST", f"{base}/submit", {}),
            ("GET", f"{proctor}/plan", None), ("POST", f"{proctor}/consent", {"consent": True}),
            ("POST", f"{proctor}/heartbeat", {"page_id": "intruder"}), ("POST", f"{base}/begin", {}),
        ):
            status, answer = await other.call(method, url, body)
            assert status == 404 and answer["error"]["code"] == "attempt_not_found", (method, url, answer)
        status, answer = await other.call("POST", f"{base}/camera-check", data=sc.live(sc.person(), 1))
        assert status == 404 and answer["error"]["code"] == "attempt_not_found", answer
        status, mine = await owner.call("GET", base)
        # A proctored attempt waits in its device checks (issue 20); the intruder moved nothing on.
        assert status == 200 and mine["attempt"]["status"] == "checks"
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(answers))).scalar_one() == 0
    finally:
        await other.client.close()  # type: ignore[attr-defined]
        await client.close()


async def test_a_teacher_cannot_read_or_write_another_teachers_journal(services):
    jw = await make_journal_world(services, students=1)
    client = await open_client(services)
    keeper, stranger = Api(client), await new_api(client)
    try:
        await keeper.login("teacher1")
        await stranger.login("teacher2")
        journal = f"/api/v1/journals/{jw.journal_id}"
        status, grid = await keeper.call("GET", journal)
        assert status == 200 and grid["can_edit"] is True
        for method, url, body in (
            ("GET", journal, None), ("GET", f"{journal}/corrections", None), ("GET", f"{journal}/statistics", None),
            ("GET", f"{journal}/export?format=csv", None),
            ("POST", f"{journal}/lessons", {"held_on": services.clock.now().date().isoformat()}),
        ):
            status, answer = await stranger.call(method, url, body)
            assert status in (403, 404), (method, url, status, answer)
            assert answer["error"]["code"] != "forbidden", answer  # the journal's own rule (R4), not the role
        status, listing = await stranger.call("GET", "/api/v1/journals")
        assert status == 200 and listing["items"] == []
    finally:
        await stranger.client.close()  # type: ignore[attr-defined]
        await client.close()
