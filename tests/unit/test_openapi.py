"""The OpenAPI document describes every route, and docs/openapi.json is up to date."""

from __future__ import annotations

import json
from pathlib import Path

from exam_engine.web import app  # noqa: F401 - registers the routes
from exam_engine.web.error_catalog import status_of
from exam_engine.web.http import ROUTES
from exam_engine.web.openapi import document

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_every_api_route_is_in_the_document_with_its_method():
    paths = document()["paths"]
    for doc, _ in ROUTES:
        assert doc.method.lower() in paths[doc.path.removeprefix("/api/v1")], doc.path
    assert sum(len(v) for v in paths.values()) == len(ROUTES)


def test_the_committed_document_matches_the_code():
    committed = json.loads(DOC.read_text(encoding="utf-8"))
    assert committed == document(), "run: exam-engine openapi > docs/openapi.json"


def test_every_protected_route_declares_401_429_and_403_where_it_can_refuse():
    for path, ops in document()["paths"].items():
        for method, op in ops.items():
            if op.get("security"):
                assert {"401", "429"} <= set(op["responses"]), (method, path)
                assert _codes(op, "401") == ["not_signed_in"]
                if "x-permission" in op or method != "get":  # a permission, or the CSRF token, can refuse
                    assert "403" in op["responses"], (method, path)


def _codes(op: dict, status: str) -> list[str]:
    schema = op["responses"][status]["content"]["application/json"]["schema"]
    return schema["properties"]["error"]["properties"]["code"]["enum"]


def test_each_refusal_is_documented_under_the_status_its_error_class_answers():
    paths = document()["paths"]
    answer = paths["/attempts/{attempt_id}/answers/{position}"]["put"]["responses"]
    assert "invalid_choice" in answer["422"]["description"] and "invalid_position" in answer["422"]["description"]
    assert _codes({"responses": answer}, "404") == ["attempt_not_found"]
    assert "deadline_passed" in _codes({"responses": answer}, "409")
    start = paths["/exams/{exam_id}/start"]["post"]["responses"]
    assert "exam_not_found" in _codes({"responses": start}, "404")
    assert "retake_forbidden" in _codes({"responses": start}, "409")
    exams = paths["/admin/exams"]["post"]["responses"]
    assert {"invalid_window", "bank_too_small"} <= set(exams["422"]["description"].split(": ", 1)[1].split(", "))
    assert "discipline_not_found" in _codes({"responses": exams}, "404")
    assert "409" not in paths["/me/language"]["put"]["responses"]  # nothing there answers 409 (it said so before)


def test_every_declared_code_is_raised_somewhere_with_one_known_status():
    for doc, _ in ROUTES:
        for code in doc.errors:
            assert status_of(code), (doc.path, code)  # KeyError names a code nobody raises
    assert status_of("attempt_not_found") == {404} and status_of("invalid_choice") == {422}
    assert status_of("period_closed") == {409} and status_of("not_assigned") == {403}  # journal rules' refusals


def test_the_lobby_says_its_attempt_may_be_null():
    lobby = document()["paths"]["/exams/{exam_id}/lobby"]["post"]["responses"]["200"]["content"]
    attempt = lobby["application/json"]["schema"]["properties"]["attempt"]
    assert attempt["type"] == ["object", "null"]


def test_downloads_document_their_media_types():
    statement = document()["paths"]["/journals/{journal_id}/statement"]["get"]["responses"]["200"]["content"]
    assert {"application/pdf", "text/csv", "application/json"} <= set(statement)


def test_refusals_raised_by_a_handler_or_its_helpers_are_documented_without_being_declared():
    paths = document()["paths"]
    decide = paths["/proctor/attempts/{attempt_id}/decisions"]["post"]
    assert "errors" not in decide  # (sanity: the document is an OpenAPI operation)
    assert "illegal_transition" in _codes(decide, "409") and "proctoring_not_found" in _codes(decide, "404")
    submit = paths["/attempts/{attempt_id}/submit"]["post"]
    assert "deadline_passed" in _codes(submit, "409") or "attempt_finished" in _codes(submit, "409")
    me = paths["/me"]["get"]
    assert "403" not in me["responses"]  # a signed-in GET without a permission: nothing there answers 403
