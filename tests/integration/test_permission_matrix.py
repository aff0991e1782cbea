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
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update

from exam_engine.bootstrap import Services
from exam_engine.domain.roles import ACADEMIC_PERMISSIONS, MATRIX, Kind, Permission, Reach, Role, allows, reach
from exam_engine.services import assignments, catalog
from exam_engine.services.authority import NOT_FOUND
from exam_engine.tables import answers, attempts, audit_log, exam_proctors, exams, faculty_heads, users
from exam_engine.web.api_journal import audit_sink
from exam_engine.web.app import create_app  # noqa: F401 - importing the app registers every route module
from exam_engine.web.http import ROUTES, RouteDoc
from journal_bridge import api as journal
from journal_bridge.tables import journal_substitutes
from proctor.kinds import FlagKind
from proctor.tables import proctor_attempts, proctor_flags
from tests.factories import ADMIN, Api, make_user, make_world, new_api, open_client
from tests.integration.proctor_world import frame_person, proctored_attempt
from tests.integration.test_journal_world import PERIOD, PERIOD_CLOSES, make_journal_world
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
    ("GET", "/api/v1/journals/{journal_id}"): "the journal's rules decide who reads it (R4), within the reach "
    "the server passes with the person (issue 19)",
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
    wrongly_admitted = [
        (r.value, m, p, o[0])
        for (r, m, p), o in outcomes.items()
        if not allows(r, _permission(m, p)) and not _forbidden(o)
    ]
    wrongly_refused = [
        (r.value, m, p, o)
        for (r, m, p), o in outcomes.items()
        if allows(r, _permission(m, p)) and (_forbidden(o) or o[0] in (401, 500))
    ]
    assert not wrongly_admitted, wrongly_admitted
    assert not wrongly_refused, wrongly_refused
    # R3: the technical administrator is refused every route that changes academic data.
    sysadmin = [
        (m, p)
        for (r, m, p), o in outcomes.items()
        if r is Role.SYSADMIN and _permission(m, p) in ACADEMIC_PERMISSIONS and not _forbidden(o)
    ]
    assert not sysadmin, sysadmin
    # Every refusal is logged with the route and who asked; nothing admitted is logged as denied.
    denied = {(m, p, f"user:matrix_{r.value}") for (r, m, p), o in outcomes.items() if _forbidden(o)}
    logged = {
        (rec.args[0], _route_of(rec.args[1]), rec.args[2])
        for rec in records  # type: ignore[index]
        if rec.msg.startswith("denied") and rec.args[3] == "forbidden"
    }  # type: ignore[index]
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
            ("GET", base, None),
            ("GET", f"{base}/result", None),
            ("PUT", f"{base}/answers/1", {"choice": 0, "seq": 1}),
            ("POST", f"{base}/submit", {}),
            ("GET", f"{proctor}/plan", None),
            ("POST", f"{proctor}/consent", {"consent": True}),
            ("POST", f"{proctor}/heartbeat", {"page_id": "intruder"}),
            ("POST", f"{base}/begin", {}),
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
            ("GET", journal, None),
            ("GET", f"{journal}/corrections", None),
            ("GET", f"{journal}/statistics", None),
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


# ---------------------------------------------------------------------------------------- ownership
# The second axis (issue 19): the same role, inside and outside its assignment. A proctor acts on the
# exams assigned to them, a faculty head on the journals of their faculty's groups, a head of
# department on the journals of the disciplines their department teaches. Generated from the route
# tables (API and pages): a route acting on an exam, attempt, flag, journal or correction names it
# (``resource=``), and for every such route and every role whose reach over it is an assignment,
# the assigned person is let through and the unassigned one answered exactly like a missing thing.
# A student's own attempt and a teacher's own journal are decided where the thing is loaded (the
# attempt statements, the journal's rules); the two tests above walk those.

OWNED_PARAMS = {f"{kind.value}_id": kind for kind in Kind}
PAIRS = {
    Role.PROCTOR: ("proctor1", "proctor_out"),
    Role.FACULTY_HEAD: ("dean", "dean_out"),
    Role.DEPARTMENT_HEAD: ("dephead", "dephead_out"),
}
# Signed-in pages that take an owned thing's id but whose owning rules decide (no permission of their own).
PAGES_DECIDED_BY_OWNING_RULES = {
    ("GET", "/journals/{journal_id}"): "the journal's rules: assigned teacher, substitute window, or staff "
    "within their reach (journal_with_view)",
}


def _owned_kinds(path: str) -> set[Kind]:
    return {OWNED_PARAMS[name] for name in _PARAM.findall(path) if name in OWNED_PARAMS}


def test_every_route_acting_on_an_owned_thing_names_it():
    """A new API route with an exam, attempt, flag, journal or correction id in its path and no
    ``resource=`` fails here: without it the route would check the role but not the assignment."""
    missing = [
        (doc.method, doc.path)
        for doc, _ in ROUTES
        if doc.auth and _owned_kinds(doc.path) and doc.resource not in _owned_kinds(doc.path)
    ]
    assert not missing, missing
    assert sum(1 for doc, _ in ROUTES if doc.resource is not None) >= 40


def _page_routes(app: Any) -> list[tuple[str, str, Any]]:
    out = []
    for route in app.router.routes():
        handler = route.handler
        if not hasattr(handler, "page_permission"):
            continue  # not a signed-in page (sign-in form, static files, redirects)
        methods = ("GET", "POST") if route.method == "*" else (route.method,)
        out += [(m, route.resource.canonical, handler) for m in methods if m != "HEAD"]
    return out


async def test_every_page_acting_on_an_owned_thing_names_it(services):
    client = await open_client(services)
    try:
        pages = _page_routes(client.server.app)
    finally:
        await client.close()
    assert len(pages) >= 30
    missing = [
        (m, p)
        for m, p, h in pages
        if _owned_kinds(p) and h.page_resource not in _owned_kinds(p) and (m, p) not in PAGES_DECIDED_BY_OWNING_RULES
    ]
    assert not missing, missing


@dataclass
class Owned:
    ids: dict[str, Any]  # path parameter -> the value used
    apis: dict[str, Api]
    client: Any

    def url(self, path: str) -> str:
        return _PARAM.sub(lambda m: str(self.ids.get(m.group(1), 1)), path)

    async def close(self) -> None:
        for api in self.apis.values():
            await api.client.close()  # type: ignore[attr-defined]
        await self.client.close()


async def owned_world(services: Services) -> Owned:
    """A proctored attempt on an exam watched by ``proctor1`` (not ``proctor_out``); its group's
    journal (faculty F1, headed by ``dean``; ``dean_out`` heads F2) in a discipline taught by
    department D1 (headed by ``dephead``; ``dephead_out`` heads D2); a flag and a correction."""
    pw = await proctored_attempt(services)
    await pw.proctor.client.close()  # type: ignore[attr-defined]
    await pw.frame(frame_person(1))  # evidence seq 1: the camera picture pages show
    people = {
        "proctor_out": Role.PROCTOR,
        "dean": Role.FACULTY_HEAD,
        "dean_out": Role.FACULTY_HEAD,
        "dephead": Role.DEPARTMENT_HEAD,
        "dephead_out": Role.DEPARTMENT_HEAD,
        "teacher1": Role.TEACHER,
        "teacher2": Role.TEACHER,
    }
    ids = {login: await make_user(services, login, role) for login, role in people.items()}
    now = services.clock.now()
    async with services.engine.begin() as conn:
        await catalog.ensure_faculty(conn, ADMIN, code="F2", name="Other faculty", now=now)
        await assignments.set_faculty_head(conn, ADMIN, "dean", "F1", now=now)
        await assignments.set_faculty_head(conn, ADMIN, "dean_out", "F2", now=now)
        await assignments.add_department(conn, ADMIN, code="D1", name="Law", faculty_code="F1", now=now)
        await assignments.add_department(conn, ADMIN, code="D2", name="Languages", faculty_code="F1", now=now)
        await assignments.set_discipline_department(conn, ADMIN, "LAW-101", "D1", now=now)
        await assignments.set_department_head(conn, ADMIN, "dephead", "D1", now=now)
        await assignments.set_department_head(conn, ADMIN, "dephead_out", "D2", now=now)
        sink = audit_sink(conn, now, ADMIN)
        journal_id = await journal.create_journal(
            conn,
            group_code="G1",
            discipline_code="LAW-101",
            period_code=PERIOD,
            period_closes_at=PERIOD_CLOSES,
            institution="—",
            by=ADMIN.label,
            now=now,
            audit=sink,
        )
        await journal.assign_teacher(conn, journal_id, str(ids["teacher1"]), by=ADMIN.label, now=now, audit=sink)
        flag_id = (
            await conn.execute(
                proctor_flags.insert()
                .values(
                    attempt_id=uuid.UUID(pw.attempt_id),
                    kind=list(FlagKind)[0].value,
                    start_ms=1000,
                    end_ms=2000,
                    severity="high",
                    count=1,
                    occurrence=1,
                    evidence_seqs=[],
                )
                .returning(proctor_flags.c.id)
            )
        ).scalar_one()
        await conn.execute(
            update(proctor_attempts)
            .where(proctor_attempts.c.attempt_id == uuid.UUID(pw.attempt_id))
            .values(review_state="pending", flag_count=1)
        )
        student_id = (
            await conn.execute(select(attempts.c.student_id).where(attempts.c.id == uuid.UUID(pw.attempt_id)))
        ).scalar_one()
    apis: dict[str, Api] = {"student": pw.student, "student_out": pw.other_student}
    for login in ("proctor1", *people, "admin_x"):
        if login == "admin_x":
            await make_user(services, login, Role.ACADEMIC_ADMIN)
        apis[login] = await new_api(pw.client)
        await apis[login].login(login)
    teacher = apis["teacher1"]
    today = now.astimezone(timezone(timedelta(hours=5))).date().isoformat()
    status, lesson = await teacher.call("POST", f"/api/v1/journals/{journal_id}/lessons", {"held_on": today})
    assert status == 201, lesson
    status, correction = await teacher.call(
        "POST",
        f"/api/v1/journals/{journal_id}/corrections",
        {"lesson_id": lesson["id"], "action": "delete_lesson", "reason": "entered twice"},
    )
    assert status == 201, correction
    values = {
        "exam_id": pw.exam_id,
        "attempt_id": pw.attempt_id,
        "flag_id": flag_id,
        "journal_id": journal_id,
        "correction_id": correction["id"],
        "lesson_id": lesson["id"],
        "student_id": student_id,
        "seq": 1,
        "action": "pause",
    }
    return Owned(values, apis, pw.client)


def _scoped_roles(permission: Permission | None, kind: Kind) -> list[Role]:
    """Roles that hold the route's permission (a journal read: VIEW_JOURNALS) and reach ``kind`` by assignment."""
    needed = permission or Permission.VIEW_JOURNALS
    return [role for role in PAIRS if allows(role, needed) and reach(role, kind) is not Reach.ALL]


def _refused_as_missing(outcome: tuple[int, Any], kind: Kind) -> bool:
    status, body = outcome
    return status == 404 and isinstance(body, dict) and body["error"]["code"] == NOT_FOUND[kind][0]


def _let_through(outcome: tuple[int, Any], kind: Kind) -> bool:
    status, _ = outcome
    return status not in (401, 403, 500) and not _refused_as_missing(outcome, kind)


async def test_an_assigned_person_is_let_through_and_an_unassigned_one_of_the_same_role_is_not(services):
    world = await owned_world(services)
    cases = [
        (doc, role)
        for doc, _ in ROUTES
        if doc.resource is not None
        for role in _scoped_roles(doc.permission, doc.resource)
    ]
    # Every proctor route and every faculty-head route acting on a thing is walked.
    assert {doc.path for doc, role in cases if role is Role.PROCTOR} >= {
        doc.path
        for doc, _ in ROUTES
        if doc.permission in (Permission.PROCTOR_REVIEW, Permission.LIVE_CONTROL) and doc.resource is not None
    }
    assert len(cases) >= 25, len(cases)
    try:
        # The unassigned first: what they ask must change nothing the assigned person then finds.
        refused = {}
        for doc, role in cases:
            body = {} if doc.method in ("POST", "PUT", "PATCH") else None
            refused[(doc.method, doc.path, role)] = await _call(
                world.apis[PAIRS[role][1]], doc.method, world.url(doc.path), body
            )
        wrongly_let_through = [
            (m, p, r.value, o) for (m, p, r), o in refused.items() if not _refused_as_missing(o, _kind(m, p))
        ]
        assert not wrongly_let_through, wrongly_let_through
        async with services.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(attempts.c.status, attempts.c.deadline_at).where(
                        attempts.c.id == uuid.UUID(world.ids["attempt_id"])
                    )
                )
            ).one()
            assert row.status == "in_progress"  # not paused, terminated or annulled by a stranger
        let_through = {}
        for doc, role in cases:
            body = {} if doc.method in ("POST", "PUT", "PATCH") else None
            let_through[(doc.method, doc.path, role)] = await _call(
                world.apis[PAIRS[role][0]], doc.method, world.url(doc.path), body
            )
        wrongly_refused = [
            (m, p, r.value, o) for (m, p, r), o in let_through.items() if not _let_through(o, _kind(m, p))
        ]
        assert not wrongly_refused, wrongly_refused
    finally:
        await world.close()


def _kind(method: str, path: str) -> Kind:
    return next(doc.resource for doc, _ in ROUTES if (doc.method, doc.path) == (method, path))  # type: ignore[misc]


# Reach.OWN, decided where the thing is loaded: a teacher's journal, a student's attempt. Read routes
# are walked here (a write's body is checked before its owner is looked up; the two tests at the top
# of this file send valid bodies for those).
OWN_PAIRS = {Role.TEACHER: ("teacher1", "teacher2"), Role.STUDENT: ("student", "student_out")}


def _own_roles(permission: Permission | None, kind: Kind) -> list[Role]:
    return [
        role
        for role in OWN_PAIRS
        if reach(role, kind) is Reach.OWN
        and (
            allows(role, permission)
            if permission
            else allows(role, Permission.KEEP_JOURNAL) or allows(role, Permission.VIEW_JOURNALS)
        )
    ]


async def test_a_teacher_and_a_student_read_only_their_own_journal_and_attempt_on_every_read_route(services):
    world = await owned_world(services)
    cases = [
        (doc, role)
        for doc, _ in ROUTES
        if doc.resource is not None and doc.method == "GET"
        for role in _own_roles(doc.permission, doc.resource)
    ]
    assert {role for _, role in cases} == set(OWN_PAIRS) and len(cases) >= 8, cases
    try:
        for doc, role in cases:
            inside, outside = (world.apis[login] for login in OWN_PAIRS[role])
            status, body = await _call(outside, "GET", world.url(doc.path), None)
            assert status in (403, 404) and body["error"]["code"] != "forbidden", (doc.path, role, status, body)
            assert world.ids["attempt_id"] not in str(body) and "Student student" not in str(body)
            status, body = await _call(inside, "GET", world.url(doc.path), None)
            assert status not in (401, 403, 404, 500), (doc.path, role, status, body)
    finally:
        await world.close()


async def test_pages_let_the_assigned_person_through_and_answer_the_unassigned_one_404(services):
    world = await owned_world(services)
    try:
        pages = _page_routes(world.client.server.app)
        cases = [
            (m, p, role)
            for m, p, h in pages
            if h.page_resource is not None
            for role in _scoped_roles(h.page_permission, h.page_resource)
        ]
        cases += [("GET", "/journals/{journal_id}", role) for role in (Role.FACULTY_HEAD, Role.DEPARTMENT_HEAD)]
        assert {p for m, p, r in cases if r is Role.PROCTOR} >= {
            "/proctor/attempts/{attempt_id}",
            "/proctor/attempts/{attempt_id}/decision",
            "/proctor/attempts/{attempt_id}/flags/{flag_id}",
            "/proctor/attempts/{attempt_id}/room-scan",
        }
        for index in (1, 0):  # the unassigned, then the assigned
            for method, path, role in cases:
                api = world.apis[PAIRS[role][index]]
                form = (
                    None if method == "GET" else {"_csrf": api.csrf or "", "status": "dismissed", "decision": "reject"}
                )
                resp = await api.client.request(method, world.url(path), data=form, allow_redirects=False)
                page_text = (await resp.read()).decode("utf-8", "replace")  # a picture page answers a JPEG
                if index == 1:
                    assert resp.status == 404, (method, path, role, resp.status)
                    assert "Student student" not in page_text  # nothing of the attempt or journal is shown
                else:
                    assert resp.status in (200, 303, 409, 422), (method, path, role, resp.status)
    finally:
        await world.close()


async def test_lists_show_only_what_the_person_is_assigned_to(services):
    world = await owned_world(services)
    try:
        for url, key in (("/api/v1/proctor/live", "attempts"), ("/api/v1/proctor/queue", "attempts")):
            _, mine = await world.apis["proctor1"].call("GET", url)
            _, theirs = await world.apis["proctor_out"].call("GET", url)
            assert [a["attempt_id"] for a in mine[key]] == [world.ids["attempt_id"]], (url, mine)
            assert theirs[key] == [], (url, theirs)
        _, mine = await world.apis["proctor1"].call("GET", "/api/v1/exams")
        _, theirs = await world.apis["proctor_out"].call("GET", "/api/v1/exams")
        assert [e["id"] for e in mine["items"]] == [world.ids["exam_id"]] and theirs["items"] == []
        for inside, outside in (("dean", "dean_out"), ("dephead", "dephead_out")):
            _, mine = await world.apis[inside].call("GET", "/api/v1/journals")
            _, theirs = await world.apis[outside].call("GET", "/api/v1/journals")
            assert [j["id"] for j in mine["items"]] == [world.ids["journal_id"]] and theirs["items"] == []
        _, mine = await world.apis["dean"].call("GET", "/api/v1/journal-corrections")
        _, theirs = await world.apis["dean_out"].call("GET", "/api/v1/journal-corrections")
        assert [c["id"] for c in mine["items"]] == [world.ids["correction_id"]] and theirs["items"] == []
        # The pages list the same: the unassigned proctor's dashboard names no student.
        for login, shown in (("proctor1", True), ("proctor_out", False)):
            resp = await world.apis[login].client.request("GET", "/proctor")
            assert resp.status == 200 and (world.ids["attempt_id"] in await resp.text()) is shown
        for login, shown in (("dean", True), ("dean_out", False)):
            resp = await world.apis[login].client.request("GET", "/journal/corrections")
            assert resp.status == 200 and ("entered twice" in await resp.text()) is shown
    finally:
        await world.close()


async def test_the_testers_faculty_head_cannot_grant_a_substitute_on_another_facultys_journal(services):
    """Issue 19, case 2: a faculty head granted a teacher a window on another faculty's journal."""
    world = await owned_world(services)
    url = f"/api/v1/journals/{world.ids['journal_id']}/substitutes"
    grant = {
        "teacher": "teacher1",
        "valid_from": "2026-01-01T00:00:00+05:00",
        "valid_until": "2026-12-31T00:00:00+05:00",
        "reason": "illness of the teacher",
    }
    try:
        status, body = await world.apis["dean_out"].call("POST", url, grant)
        assert status == 404 and body["error"]["code"] == "journal_not_found", body
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(journal_substitutes))).scalar_one() == 0
            denied = (
                await conn.execute(
                    select(audit_log.c.actor, audit_log.c.subject).where(audit_log.c.action == "access.denied")
                )
            ).all()
        assert ("user:dean_out", f"route:POST {url}") in [tuple(r) for r in denied]
        status, body = await world.apis["dean"].call("POST", url, grant)
        assert status == 201, body
    finally:
        await world.close()


async def test_a_substitute_window_opens_a_journal_to_teachers_only(services):
    """A faculty head named a student (or a proctor, or the system administrator) as a "substitute": the
    window was stored and opened the whole journal to them — every classmate's grade, the CSV export too."""
    world = await owned_world(services)
    sysadmin_id = await make_user(services, "sys_x", Role.SYSADMIN)
    sysadmin = await new_api(world.client)
    await sysadmin.login("sys_x")
    journal_id = world.ids["journal_id"]
    url = f"/api/v1/journals/{journal_id}/substitutes"
    window = {"valid_from": "2026-01-01T00:00:00+05:00", "valid_until": "2027-12-31T00:00:00+05:00"}
    try:
        for login in ("student1", "proctor1", "sys_x"):
            status, body = await world.apis["dean"].call("POST", url, {**window, "teacher": login, "reason": "illness"})
            assert status == 422 and body["error"]["code"] == "wrong_role", body
            assert login in body["error"]["message"] and "оқытушы емес" in body["error"]["message"]
        resp = await world.apis["dean"].client.request(
            "POST",
            "/journal/substitutes",
            data={
                "_csrf": world.apis["dean"].csrf or "",
                "journal": str(journal_id),
                "teacher": "student1",
                "valid_from": "01.01.2026 00:00",
                "valid_until": "31.12.2027 00:00",
                "reason": "illness",
            },
        )
        assert resp.status == 422 and "«student1» тіркелгісі оқытушы емес" in await resp.text()
        async with services.engine.begin() as conn:
            assert (await conn.execute(select(func.count()).select_from(journal_substitutes))).scalar_one() == 0
            # A window stored before the grant checked the role opens nothing either.
            people = {"student": world.ids["student_id"], "proctor1": None, "sys_x": sysadmin_id}
            people["proctor1"] = (
                await conn.execute(select(users.c.id).where(users.c.login == "proctor1"))
            ).scalar_one()
            for person in people.values():
                await conn.execute(
                    journal_substitutes.insert().values(
                        journal_id=journal_id,
                        teacher_id=str(person),
                        valid_from=services.clock.now() - timedelta(days=1),
                        valid_until=services.clock.now() + timedelta(days=30),
                        granted_by="dean",
                        granted_by_role="faculty_head",
                        granted_at=services.clock.now(),
                        reason="granted before the role was checked",
                    )
                )
        for api in (world.apis["student"], world.apis["proctor1"], sysadmin):
            for path in (f"/api/v1/journals/{journal_id}", f"/api/v1/journals/{journal_id}/export?format=csv"):
                status, body = await _call(api, "GET", path, None)
                assert status in (403, 404) and isinstance(body, dict), (path, status, body)
            resp = await api.client.request("GET", f"/journals/{journal_id}", allow_redirects=False)
            assert resp.status in (403, 404) and "Student student2" not in await resp.text()  # a classmate
        # A teacher is still let in by a window: the rule is about who, not about windows.
        status, body = await world.apis["dean"].call(
            "POST", url, {**window, "teacher": "teacher2", "reason": "illness"}
        )
        assert status == 201, body
        status, body = await world.apis["teacher2"].call("GET", f"/api/v1/journals/{journal_id}")
        assert status == 200 and body["can_edit"] is True, body
    finally:
        await sysadmin.client.close()  # type: ignore[attr-defined]
        await world.close()


async def test_the_administration_reassigns_proctors_during_the_exam_and_it_applies_at_once(services):
    """Issue 19, case 1: a proctor assigned to nothing paused and terminated other exams' attempts."""
    world = await owned_world(services)
    admin, exam_id, attempt = world.apis["admin_x"], world.ids["exam_id"], world.ids["attempt_id"]
    pause = f"/api/v1/live/attempts/{attempt}/pause"
    try:
        status, body = await admin.call(
            "PUT", f"/api/v1/admin/exams/{exam_id}/proctors", {"proctors": ["proctor_out", "dean"]}
        )
        assert status == 422 and body["error"]["code"] == "wrong_role", body
        assert "dean" in body["error"]["message"]
        status, body = await admin.call("GET", f"/api/v1/admin/exams/{exam_id}/proctors")
        assert [p["login"] for p in body["proctors"]] == ["proctor1"]  # the refused change changed nothing
        status, body = await admin.call("PUT", f"/api/v1/admin/exams/{exam_id}/proctors", {"proctors": ["proctor_out"]})
        assert status == 200 and [p["login"] for p in body["proctors"]] == ["proctor_out"], body
        status, body = await world.apis["proctor1"].call("POST", pause, {"reason": "a check"})
        assert status == 404 and body["error"]["code"] == "attempt_not_found", body
        status, body = await world.apis["proctor_out"].call("POST", pause, {"reason": "a check"})
        assert status == 200 and body["attempt"]["status"] == "paused", body
        async with services.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(audit_log.c.actor, audit_log.c.before, audit_log.c.after)
                    .where(audit_log.c.action == "exam.proctors_set", audit_log.c.subject == f"exam:{exam_id}")
                    .order_by(audit_log.c.id.desc())
                )
            ).first()
        assert row.actor == "user:admin_x"
        assert row.before == {"proctors": ["proctor1"]} and row.after == {"proctors": ["proctor_out"]}
    finally:
        await world.close()


async def test_the_demo_assigns_its_proctor_and_heads_so_the_printed_accounts_work(services):
    from exam_engine import demo

    await demo.seed(services)
    await demo.seed(services)  # a second run adds nothing twice
    async with services.engine.connect() as conn:
        exam_ids = list((await conn.execute(select(exams.c.id))).scalars())
        watched = (await conn.execute(select(exam_proctors.c.exam_id))).scalars().all()
        heads = (await conn.execute(select(faculty_heads.c.user_id))).scalars().all()
    assert exam_ids and sorted(watched) == sorted(exam_ids) and len(heads) == 1
