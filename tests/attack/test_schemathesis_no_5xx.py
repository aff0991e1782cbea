"""Schemathesis against the served OpenAPI document: no operation answers 5xx.

A real server on 127.0.0.1 (PostgreSQL, Redis, background tasks running), a student
with an exam in progress and an academic admin, both signed in. Every operation is
called with schema-valid and schema-violating requests as each of them; known ids
(the attempt, the exam) are mixed in so the generated requests reach past the 404s.
Examples are bounded and not shrunk, so the run stays around a minute. Sign-out is
left out: it would end the session the rest of the run needs (tests/integration covers it).
"""

from __future__ import annotations

import time

import hypothesis.strategies as st
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

EXAMPLES = 8
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


def test_no_operation_answers_5xx_to_a_student_or_an_admin(scene):
    schema = schemathesis.openapi.from_url(f"{scene.server.url}/api/v1/openapi.json")
    base = f"{scene.server.url}/api/v1"
    known = {"attempt_id": scene.attempt_id, "exam_id": scene.world.exam_id, "position": 1}
    failures: list[str] = []
    calls = 0
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for who, signed in (("student", scene.student), ("admin", scene.admin)):
        http = requests.Session()
        for operation in operations:
            if (operation.method.upper(), operation.path) in EXCLUDED:
                continue

            @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=_strategies(operation, known))
            def call(case) -> None:  # type: ignore[no-untyped-def]
                nonlocal calls
                calls += 1
                response = case.call(base_url=base, session=http, headers=dict(signed.headers),
                                     cookies=dict(signed.cookies), timeout=30)
                assert response.status_code < 500, (
                    f"{who}: {case.method} {case.formatted_path} -> {response.status_code} {response.text[:300]}")

            try:
                call()
            except AssertionError as error:
                failures.append(str(error).splitlines()[0])
    assert not failures, "\n".join(failures)
    assert calls > 2 * len(operations) * 2, calls
    # The session survived the run: it was really signed in throughout.
    me = requests.get(f"{base}/me", cookies=scene.student.cookies, timeout=30)
    assert me.status_code == 200
    print(f"schemathesis: {calls} requests over {len(operations)} operations in {time.monotonic() - started:.0f} s")
