"""Who sees which exam (issue 19, docs/security.md *What a role lists*): every list of the API and every
page without an id, walked as each role by a person assigned to one exam, must not name the other exam,
its group, its discipline or its student; detail routes of the other exam answer 404 like a missing one.

Two exams: «Law exam» (G1 of faculty F1, LAW-101 taught by department D1) and «History exam» (G2 of
faculty F2, HIS-1 taught by D2), each with its journal, teacher, faculty head, head of department and
proctor. The quality department, the methodologists, the deputy head and the academic administration
work academy-wide (requirements Q2, J8, J9, R2) and see both."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from exam_engine.domain.roles import Role
from exam_engine.services import assignments, catalog, users
from exam_engine.web.api_journal import audit_sink
from exam_engine.web.app import create_app  # noqa: F401 - importing the app registers every route module
from exam_engine.web.http import ROUTES
from journal_bridge import api as journal
from question_bank import api as bank_api
from tests.factories import ADMIN, PASSWORD, Api, make_items, make_user, new_api, open_client, start_exam
from tests.integration.test_journal_world import PERIOD, PERIOD_CLOSES, make_journal_world

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"])

# What names the history exam anywhere: its title, group, discipline code and name, and its student.
HISTORY_MARKS = ("History exam", "HIS-1", "Тарих", "G2", "Student hist1")
LAW_MARKS = ("Law exam", "LAW-101")

# The law side's people: one of each role whose reach is an assignment, assigned only to the law exam.
LAW_SIDE = {
    "teacher1": Role.TEACHER,
    "dean": Role.FACULTY_HEAD,
    "dephead1": Role.DEPARTMENT_HEAD,
    "proctor1": Role.PROCTOR,
}
HISTORY_SIDE = {
    "teacher2": Role.TEACHER,
    "dean2": Role.FACULTY_HEAD,
    "dephead2": Role.DEPARTMENT_HEAD,
    "proctor2": Role.PROCTOR,
}
ACADEMY_WIDE = {
    "quality1": Role.QUALITY,
    "deputy": Role.DEPUTY_HEAD,
    "admin1": Role.ACADEMIC_ADMIN,
    "method1": Role.METHODOLOGIST,
}


async def _two_exams(services) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    jw = await make_journal_world(services, students=1)  # law: teacher1's journal, dean heads F1
    for login, role in {**LAW_SIDE, **HISTORY_SIDE, **ACADEMY_WIDE}.items():
        if login not in jw.ids:
            jw.ids[login] = await make_user(services, login, role)
    now = services.clock.now()
    async with services.engine.begin() as conn:
        f2 = await catalog.ensure_faculty(conn, ADMIN, code="F2", name="Тарих факультеті", now=now)
        g2 = await catalog.ensure_group(conn, ADMIN, code="G2", faculty_id=f2, now=now)
        await catalog.add_discipline(conn, ADMIN, code="HIS-1", name="Тарих", credits=3, now=now)
        version = await bank_api.add_version(
            conn,
            discipline_code="HIS-1",
            language="kk",
            items=make_items(10, language="kk"),
            source_name="test",
            created_by="tests",
            now=now,
            publish=True,
        )
        student = await users.add_user(
            conn,
            ADMIN,
            login="hist1",
            full_name="Student hist1",
            role="student",
            language="kk",
            password=PASSWORD,
            now=now,
        )
        await catalog.add_member(conn, ADMIN, group_id=g2, user_id=student.id, role=Role.STUDENT, now=now)
        history = await catalog.add_exam(
            conn,
            ADMIN,
            catalog.ExamSpec(
                title="History exam",
                discipline_code="HIS-1",
                session_code="S1",
                group_codes=["G2"],
                bank_versions={"kk": version.id},
                question_count=5,
                duration_s=1200,
                opens_at=now - timedelta(seconds=60),
                closes_at=now + timedelta(hours=8),
                timeout_policy="unsatisfactory",
                pass_score=50,
                requires_proctoring=False,
            ),
            now=now,
        )
        await assignments.set_faculty_head(conn, ADMIN, "dean2", "F2", now=now)
        await assignments.add_department(conn, ADMIN, code="D1", name="Құқық", faculty_code="F1", now=now)
        await assignments.add_department(conn, ADMIN, code="D2", name="Тарих кафедрасы", faculty_code="F2", now=now)
        await assignments.set_discipline_department(conn, ADMIN, "LAW-101", "D1", now=now)
        await assignments.set_discipline_department(conn, ADMIN, "HIS-1", "D2", now=now)
        await assignments.set_department_head(conn, ADMIN, "dephead1", "D1", now=now)
        await assignments.set_department_head(conn, ADMIN, "dephead2", "D2", now=now)
        await assignments.set_exam_proctors(conn, ADMIN, jw.world.exam_id, ["proctor1"], now=now)
        await assignments.set_exam_proctors(conn, ADMIN, history, ["proctor2"], now=now)
        sink = audit_sink(conn, now, ADMIN)
        other = await journal.create_journal(
            conn,
            group_code="G2",
            discipline_code="HIS-1",
            period_code=PERIOD,
            period_closes_at=PERIOD_CLOSES,
            institution="—",
            by=ADMIN.label,
            now=now,
            audit=sink,
        )
        await journal.assign_teacher(conn, other, str(jw.ids["teacher2"]), by=ADMIN.label, now=now, audit=sink)
    return {"law": jw.world.exam_id, "history": history, "law_journal": jw.journal_id, "history_journal": other}


def _list_routes() -> list[str]:
    """Every GET route of the API that takes no id: the lists and overviews."""
    return sorted({doc.path for doc, _ in ROUTES if doc.method == "GET" and "{" not in doc.path})


# Not pages of anybody's data: the sign-in form, health probes, the metrics (their own token), the API document.
NOT_LISTS = {"/login", "/logout", "/healthz", "/readyz", "/metrics", "/favicon.ico", "/api/v1/openapi.json"}


def _list_pages(app: Any) -> list[str]:
    """Every GET page without an id (``/static/…`` aside)."""
    out = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in ("GET", "*") and "{" not in path and not path.startswith("/static"):
            out.add(path)
    return sorted(out - NOT_LISTS)


async def test_an_exams_list_shows_each_role_the_exams_of_its_assignments_and_the_academy_wide_roles_all(services):
    ids = await _two_exams(services)
    client = await open_client(services)
    apis: dict[str, Api] = {}
    try:
        for login in (*LAW_SIDE, *HISTORY_SIDE, *ACADEMY_WIDE, "sub1"):
            apis[login] = await new_api(client)
            await apis[login].login(login)

        async def titles(login: str) -> list[str]:
            status, body = await apis[login].call("GET", "/api/v1/exams")
            assert status == 200, (login, body)
            return sorted(e["title"] for e in body["items"])

        for login in LAW_SIDE:
            assert await titles(login) == ["Law exam"], login
        for login in HISTORY_SIDE:
            assert await titles(login) == ["History exam"], login
        for login in ACADEMY_WIDE:
            assert await titles(login) == ["History exam", "Law exam"], login
        assert await titles("sub1") == []  # a teacher of no journal

        # The detail of the other side's exam: 404 like a missing exam, never its settings.
        for login in (*LAW_SIDE, *HISTORY_SIDE):
            mine, theirs = (ids["law"], ids["history"]) if login in LAW_SIDE else (ids["history"], ids["law"])
            status, body = await apis[login].call("GET", f"/api/v1/proctor/exams/{theirs}/settings")
            assert status == 404 and body["error"]["code"] == "exam_not_found", (login, body)
            status, body = await apis[login].call("GET", f"/api/v1/proctor/exams/{mine}/settings")
            assert status == 200 and body["exam_id"] == mine, (login, body)
        for login in ACADEMY_WIDE:
            status, _ = await apis[login].call("GET", f"/api/v1/proctor/exams/{ids['history']}/settings")
            assert status == 200, login

        # A faculty head moved to the other faculty sees the other exam at the next request.
        async with services.engine.begin() as conn:
            await assignments.set_faculty_head(conn, ADMIN, "dean", "F2", now=services.clock.now())
        assert await titles("dean") == ["History exam"]
    finally:
        for api in apis.values():
            await api.client.close()  # type: ignore[attr-defined]
        await client.close()


async def test_no_list_or_page_names_an_exam_of_another_assignment(services):
    """Probe: every list route and every page without an id, as each person of one side, while a history
    student is writing — nothing of the other side's exam appears (its title, group, discipline, student)."""
    ids = await _two_exams(services)
    client = await open_client(services)
    writer = await new_api(client)
    apis: dict[str, Api] = {}
    try:
        await start_exam(writer, "hist1", ids["history"])
        for login in (*LAW_SIDE, *HISTORY_SIDE, "student1", "hist1"):  # and a student of each side
            apis[login] = await new_api(client)
            await apis[login].login(login)
        routes, pages = _list_routes(), _list_pages(client.server.app)
        assert "/api/v1/exams" in routes and "/api/v1/journals" in routes and "/api/v1/proctor/live" in routes
        assert "/proctor" in pages and "/journals" in pages and "/admin/audit" in pages
        leaks, seen_own = [], set()
        for login, api in apis.items():
            law_side = login in LAW_SIDE or login == "student1"
            own, other = (LAW_MARKS, HISTORY_MARKS) if law_side else (("History exam",), LAW_MARKS)
            for path in sorted(set(routes + pages)):
                resp = await api.client.request("GET", path, allow_redirects=False)
                if resp.status >= 500:
                    leaks.append((login, path, resp.status))
                    continue
                body = (await resp.read()).decode("utf-8", "replace")
                # A whole word: a random token of the page (its CSRF token) may hold "G2" inside it.
                found = [mark for mark in other if re.search(rf"(?<![\w-]){re.escape(mark)}(?![\w-])", body)]
                if found:
                    leaks.append((login, path, resp.status, found))
                if any(mark in body for mark in own):
                    seen_own.add(login)
        assert not leaks, leaks
        assert seen_own == set(apis)  # the probe reads lists that do list each person's own exam
    finally:
        for api in apis.values():
            await api.client.close()  # type: ignore[attr-defined]
        await writer.client.close()  # type: ignore[attr-defined]
        await client.close()
