"""The OpenAPI document describes every route, and docs/openapi.json is up to date."""

from __future__ import annotations

import json
from pathlib import Path

from exam_engine.web import app  # noqa: F401 - registers the routes
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


def test_every_protected_route_declares_401_and_403():
    for path, ops in document()["paths"].items():
        for method, op in ops.items():
            if op.get("security"):
                assert {"401", "403"} <= set(op["responses"]), (method, path)
