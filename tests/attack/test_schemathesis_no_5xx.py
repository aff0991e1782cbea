"""Schemathesis against the served OpenAPI document: no 5xx, and every answer is documented.

A real server on 127.0.0.1 (PostgreSQL, Redis, background tasks running), a student
with an exam in progress and an academic admin, both signed in. Every operation is
called with schema-valid and schema-violating requests as each of them; known ids
(the attempt, the exam) are mixed in so the generated requests reach past the 404s.
Each answer is checked as a generated client would rely on it: not a server error, a
status the document lists for the operation, its content type, and a body that matches
the documented schema — for a refusal, an error code the operation lists under that status.
Examples are bounded and not shrunk, so the run stays around two minutes. Sign-out is
left out: it would end the session the rest of the run needs (tests/integration covers it).
"""

from __future__ import annotations

import time

import hypothesis.strategies as st
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exam_engine.domain.roles import Permission, Role, allows

EXAMPLES = 30  # per operation, as a role that may call it
REFUSED_EXAMPLES = 5  # as a role the operation's permission refuses: every answer is the same 403
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

EXCLUDED = {("POST", "/auth/logout")}


def _strategies(operation, known: dict[str, object]):  # type: ignore[no-untyped-def]
    names = {p.name for p in operation.path_parameters}
    fixed = {k: v for k, v in known.items() if k in names}
    options = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        options.append(operation.as_strategy(generation_mode=mode))
        if fixed:
            options.append(operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    return st.one_of(options)


def test_every_operation_answers_a_student_and_an_admin_as_documented(scene):
    schema = schemathesis.openapi.from_url(f"{scene.server.url}/api/v1/openapi.json")
    base = f"{scene.server.url}/api/v1"
    known = {"attempt_id": scene.attempt_id, "exam_id": scene.world.exam_id, "position": 1}
    failures: list[str] = []
    calls = 0
    took: dict[str, float] = {}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    roles = (("student", Role.STUDENT, scene.student), ("admin", Role.ACADEMIC_ADMIN, scene.admin))
    for who, role, signed in roles:
        http = requests.Session()
        for operation in operations:
            if (operation.method.upper(), operation.path) in EXCLUDED:
                continue
            permission = operation.definition.raw.get("x-permission")
            allowed = permission is None or allows(role, Permission(permission))

            @settings(
                max_examples=EXAMPLES if allowed else REFUSED_EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=_strategies(operation, known))
            def call(case) -> None:  # type: ignore[no-untyped-def]
                nonlocal calls
                calls += 1
                response = case.call(
                    base_url=base, session=http, headers=dict(signed.headers), cookies=dict(signed.cookies), timeout=30
                )
                try:
                    case.validate_response(response, checks=CHECKS)
                except FailureGroup as group:
                    found = "; ".join(" ".join(f"{type(f).__name__}: {f.title}".split()) for f in group.exceptions)
                    raise AssertionError(
                        f"{who}: {case.method} {case.formatted_path} -> {response.status_code} "
                        f"{response.content[:200]!r} | {found[:300]}"
                    ) from None

            began = time.monotonic()
            try:
                call()
            except AssertionError as error:
                failures.append(str(error).splitlines()[0])
            took[f"{who} {operation.method.upper()} {operation.path}"] = time.monotonic() - began
    assert not failures, "\n".join(sorted(set(failures)))
    assert calls > 2 * len(operations) * 2, calls
    # The session survived the run: it was really signed in throughout.
    me = requests.get(f"{base}/me", cookies=scene.student.cookies, timeout=30)
    assert me.status_code == 200
    print(
        f"schemathesis: {calls} requests over {len(operations)} operations in {time.monotonic() - started:.0f} s;"
        " slowest: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(took.items(), key=lambda kv: -kv[1])[:6])
    )
