"""The OpenAPI document, generated from the routes' own registrations.

``docs/openapi.json`` is this document written out; a test keeps the two equal.

Each operation lists the statuses it really answers: the codes its ``@endpoint`` declares and
those its handler's source raises (followed into the functions it calls), plus the refusals
every route of its kind shares (signed in, CSRF, permission, a JSON body,
ids in the path: ``http.*_ERRORS``), each filed under the status of the error class that
raises it (:mod:`.error_catalog`, the same class the error middleware answers with). Each
refusal's schema names its possible codes in an ``enum``, so a client (and the schemathesis
run in tests/attack) can tell an undocumented refusal from a documented one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from . import schemas
from .error_catalog import handler_codes, status_of
from .http import (
    BODY_ERRORS,
    CSRF_ERRORS,
    PATH_ERRORS,
    PERMISSION_ERRORS,
    ROUTES,
    SIGNED_IN_ERRORS,
    UNSAFE_ERRORS,
    UNSAFE_METHODS,
    WAIT_ERRORS,
    RouteDoc,
)

_PARAM = re.compile(r"{(\w+)}")


def route_errors(doc: RouteDoc, handler: Callable[..., Any] | None = None) -> tuple[str, ...]:
    """Every error code the route can answer: declared, raised by its handler (as far as the source
    shows, :func:`.error_catalog.handler_codes`), then shared by its kind; without repeats."""
    codes = list(doc.errors)
    if handler is not None:
        codes += sorted(handler_codes(handler))
    if doc.auth:
        codes += SIGNED_IN_ERRORS
        if doc.method in UNSAFE_METHODS:
            codes += CSRF_ERRORS
        if doc.permission is not None:
            codes += PERMISSION_ERRORS
    if doc.request_schema is not None:
        codes += BODY_ERRORS
    if _PARAM.search(doc.path):
        codes += PATH_ERRORS
    if doc.method in UNSAFE_METHODS:
        codes += UNSAFE_ERRORS
    codes += WAIT_ERRORS
    return tuple(dict.fromkeys(codes))


def refusals(doc: RouteDoc, handler: Callable[..., Any] | None = None) -> dict[int, list[str]]:
    """The route's error codes grouped by the HTTP status each is answered with."""
    by_status: dict[int, list[str]] = {}
    for code in route_errors(doc, handler):
        for status in sorted(status_of(code)):
            by_status.setdefault(status, []).append(code)
    return dict(sorted(by_status.items()))


# Invalid input (422) is described, not enumerated: every field check of every service raises its own
# precise code (``invalid_duration``, ``cell_out_of_range`` …) and the message names the field; the
# listed codes are the ones a client most likely handles. Every other status enumerates its codes.
OPEN_STATUSES = frozenset({422})


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}


def _error_schema(status: int, codes: list[str]) -> dict[str, Any]:
    code: dict[str, Any] = {"type": "string", "enum": sorted(codes)}
    if status in OPEN_STATUSES:
        code = {"type": "string", "description": "e.g. " + ", ".join(sorted(codes))}
    return schemas.obj(
        ["error"],
        error=schemas.obj(
            ["code", "message"], code=code, message=schemas.STR, details={"type": "array", "items": {"type": "object"}}
        ),
    )


def _success(doc: RouteDoc) -> dict[str, Any]:
    binary = {"type": "string", "format": "binary"}
    return {
        media: {"schema": (doc.response_schema or {}) if media == "application/json" else binary}
        for media in doc.produces
    }


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for doc, handler in sorted(ROUTES, key=lambda r: (r[0].path, r[0].method)):
        op: dict[str, Any] = {"summary": doc.summary, "operationId": f"{doc.method.lower()}_{_slug(doc.path)}"}
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"} if name.endswith("attempt_id") else {"type": "integer"},
            }
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
        responses: dict[str, Any] = {str(doc.status): {"description": "OK", "content": _success(doc)}}
        for status, codes in refusals(doc, handler).items():
            responses[str(status)] = {
                "description": f"{HTTPStatus(status).phrase}: " + ", ".join(codes),
                "content": {"application/json": {"schema": _error_schema(status, codes)}},
            }
            if status in (429, 503):  # a quota or a bounded wait: the client is told when to try again
                responses[str(status)]["headers"] = _RETRY_AFTER
        if doc.auth:
            op["security"] = [{"session": []}]
        op["responses"] = responses
        paths.setdefault(doc.path.removeprefix("/api/v1"), {})[doc.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "exam-engine API",
            "version": "1",
            "description": "Timed, proctored single-answer exams. Errors carry a stable `code` and a "
            "`message` in the user's language (kk or ru); each operation lists the codes "
            "it may answer under the status it answers them with. State-changing requests "
            "need the `X-CSRF-Token` header returned at sign-in.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "exam_session"}}},
        "paths": paths,
    }


@functools.cache
def served_document() -> dict[str, Any]:
    """:func:`document`, computed once (the routes are all registered at import)."""
    return document()


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.removeprefix("/api/v1/").lower()).strip("_")
