"""Every response a student can get during an open attempt: no answer key, no other student's data.

The student calls every GET operation of the OpenAPI document (path ids filled with
their own attempt, the other student's attempt, the exam, and plain numbers), then the
state-changing operations of an exam (start again, save, proctoring consent, heartbeat,
events, language, submit), including each aimed at the other student's attempt. Every
body is searched for key-bearing field names, for the key's position in a question, and
for anything that identifies the other student or their attempt.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

KEY_FIELDS = {"key_index", "correct", "is_correct", "key", "answer_key", "right", "correct_option", "correct_index"}


def walk(value: Any) -> tuple[set[str], list[Any]]:
    names: set[str] = set()
    questions: list[Any] = []
    if isinstance(value, dict):
        if "options" in value and "text" in value:
            questions.append(value)
        for k, v in value.items():
            names.add(k)
            n, q = walk(v)
            names |= n
            questions += q
    elif isinstance(value, list):
        for v in value:
            n, q = walk(v)
            names |= n
            questions += q
    return names, questions


def fill(path: str, ids: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


def test_no_response_of_an_open_attempt_reveals_the_key_or_another_student(scene):
    base = f"{scene.server.url}/api/v1"
    me, other = scene.world.students
    doc = requests.get(f"{base}/openapi.json", timeout=30).json()
    http = requests.Session()
    http.cookies.update(scene.student.cookies)
    http.headers.update(scene.student.headers)
    seen: list[tuple[str, int, bytes]] = []

    def call(method: str, path: str, body: Any = None) -> requests.Response:
        response = http.request(method, base + path, json=body, timeout=30)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
        seen.append((f"{method} {path}", response.status_code, response.content))
        return response

    own = {"attempt_id": scene.attempt_id, "exam_id": scene.world.exam_id, "position": 1, "seq": 1}
    foreign = {**own, "attempt_id": scene.other_attempt_id}
    for path, operations in doc["paths"].items():
        if "get" in operations:
            call("GET", fill(path, own))
            if "{attempt_id}" in path:
                call("GET", fill(path, foreign))

    view = call("POST", f"/exams/{scene.world.exam_id}/start", {}).json()
    assert view["attempt"]["id"] == scene.attempt_id and view["attempt"]["status"] == "in_progress"
    for seq, question in enumerate(view["questions"], start=1):
        call("PUT", f"/attempts/{scene.attempt_id}/answers/{question['position']}", {"choice": 0, "seq": seq})
    for attempt in (scene.attempt_id, scene.other_attempt_id):
        call("POST", f"/proctor/attempts/{attempt}/consent", {"camera": True, "microphone": True, "screen": True})
        call("POST", f"/proctor/attempts/{attempt}/heartbeat", {"page": "exam"})
        call("POST", f"/proctor/attempts/{attempt}/events", {"events": [{"kind": "tab_hidden", "seq": 1}]})
    refused = call("PUT", f"/attempts/{scene.other_attempt_id}/answers/1", {"choice": 1, "seq": 99})
    assert refused.status_code == 404
    assert call("POST", f"/attempts/{scene.other_attempt_id}/submit").status_code == 404
    call("PUT", "/me/language", {"language": "ru"})
    call("GET", f"/attempts/{scene.attempt_id}")
    submitted = call("POST", f"/attempts/{scene.attempt_id}/submit").json()
    assert submitted["status"] == "submitted" and submitted["receipt"]["attempt_id"] == scene.attempt_id

    other_marks = [other.encode(), f"Student {other}".encode(), scene.other_attempt_id.encode()]
    assert len(seen) > 40
    for label, status, content in seen:
        for mark in other_marks:
            assert mark not in content, f"{label} ({status}) shows the other student's {mark!r}"
        assert b"$argon2" not in content, label
        try:
            body = json.loads(content)
        except ValueError:
            continue
        names, questions = walk(body)
        assert not names & KEY_FIELDS, f"{label} has key-like fields {names & KEY_FIELDS}"
        for question in questions:
            # The served options are shuffled; nothing but the options list itself may name the key option.
            extra = set(question) - {"position", "text", "options", "choice", "seq"}
            assert not extra, f"{label}: a question carries {extra}"
    # The other student's attempt is untouched by all of the above.
    other_view = requests.get(
        f"{base}/attempts/{scene.other_attempt_id}", cookies=scene.other_student.cookies, timeout=30
    ).json()
    assert other_view["attempt"]["status"] == "in_progress"
    assert all(q["choice"] is None for q in other_view["questions"])
