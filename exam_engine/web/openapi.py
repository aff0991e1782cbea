"""The OpenAPI document, generated from the routes' own registrations.

``docs/openapi.json`` is this document written out; a test keeps the two equal.
"""

from __future__ import annotations

import re
from typing import Any

from . import schemas
from .http import ROUTES

_PARAM = re.compile(r"{(\w+)}")


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for doc, _ in sorted(ROUTES, key=lambda r: (r[0].path, r[0].method)):
        op: dict[str, Any] = {"summary": doc.summary, "operationId": f"{doc.method.lower()}_{_slug(doc.path)}"}
        params = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "format": "uuid"} if name.endswith("attempt_id") else {"type": "integer"}}
            for name in _PARAM.findall(doc.path)
        ]
        if params:
            op["parameters"] = params
        if doc.permission is not None:
            op["x-permission"] = str(doc.permission)
        if doc.resource is not None:
            op["x-resource"] = str(doc.resource)
        if doc.request_schema is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": doc.request_schema}}}
        ok = str(doc.status)
        responses: dict[str, Any] = {
            ok: {"description": "OK", "content": {"application/json": {"schema": doc.response_schema or {}}}},
            "422": {"description": "Invalid input", "content": {"application/json": {"schema": schemas.ERROR}}},
        }
        if doc.auth:
            responses["401"] = {"description": "Not signed in",
                                "content": {"application/json": {"schema": schemas.ERROR}}}
            responses["403"] = {"description": "Forbidden or CSRF token missing",
                                "content": {"application/json": {"schema": schemas.ERROR}}}
            op["security"] = [{"session": []}]
        if doc.errors:
            responses["409"] = {"description": "Refused: " + ", ".join(doc.errors),
                                "content": {"application/json": {"schema": schemas.ERROR}}}
        op["responses"] = responses
        paths.setdefault(doc.path.removeprefix("/api/v1"), {})[doc.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "exam-engine API", "version": "1",
                 "description": "Timed, proctored single-answer exams. Errors carry a stable `code` and a "
                                "`message` in the user's language (kk or ru). State-changing requests need the "
                                "`X-CSRF-Token` header returned at sign-in."},
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "exam_session"}}},
        "paths": paths,
    }


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.removeprefix("/api/v1/").lower()).strip("_")
