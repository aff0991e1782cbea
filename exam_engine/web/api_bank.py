"""Question-bank routes under /api/v1/bank: upload, report, versions, diff, publish, export, analysis.

Only the quality department and the academic admin reach any of them (Q5): every
route starts with a permission check in its service, so a teacher, student, proctor
or sysadmin gets 403 before anything is read.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from .. import bounds as b
from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..errors import DomainError, InvalidInput
from ..i18n import N_, Word, translate
from ..services import bank_analysis, bank_views, banks
from . import schemas as s
from .http import PAYLOAD, BodyFramingError, endpoint, json_response, path_int, services_of

_TRUE = frozenset({"1", "true", "yes", "on"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CHUNK = 256 * 1024
MAX_FORM_PARTS = 64
"""Parts of a multipart upload (the file and its options: a dozen are used)."""
MAX_FORM_BYTES = 64 * 1024
"""Bytes of a multipart upload's fields besides the file, all together."""


class FormTooLarge(DomainError):
    status = 413


VERSION = s.obj(
    ["id", "discipline", "language", "version", "status", "item_count"],
    id=s.INT,
    discipline=s.STR,
    language=s.LANG,
    version=s.INT,
    status={"type": "string", "enum": ["draft", "published"]},
    item_count=s.INT,
    source_name={"type": ["string", "null"]},
    created_at=s.TS,
    created_by=s.STR,
    published_at={"type": ["string", "null"], "format": "date-time"},
)
PROBLEM = s.obj(
    ["code", "severity", "message"],
    code=s.STR,
    severity={"type": "string", "enum": ["error", "warning"]},
    line=s.NULL_INT,
    question=s.NULL_INT,
    message=s.STR,
    params={"type": "object"},
)
REPORT = s.obj(
    ["accepted", "counts", "errors", "warnings"],
    format={"type": ["string", "null"]},
    encoding={"type": ["string", "null"]},
    language=s.LANG,
    accepted=s.BOOL,
    counts=s.obj(
        ["questions", "valid", "errors", "warnings"], questions=s.INT, valid=s.INT, errors=s.INT, warnings=s.INT
    ),
    errors={"type": "array", "items": PROBLEM},
    warnings={"type": "array", "items": PROBLEM},
)
DIFF = s.obj(
    ["counts", "added", "removed", "changed"],
    counts=s.obj(None, added=s.INT, removed=s.INT, changed=s.INT, unchanged=s.INT),
    added={"type": "array"},
    removed={"type": "array"},
    changed={"type": "array"},
)
UPLOAD_RESULT = s.obj(
    ["accepted", "stored", "dry_run", "report"],
    accepted=s.BOOL,
    stored=s.BOOL,
    dry_run=s.BOOL,
    report=REPORT,
    version={"oneOf": [VERSION, {"type": "null"}]},
    previous_version={"oneOf": [VERSION, {"type": "null"}]},
    diff={"oneOf": [DIFF, {"type": "null"}]},
    losses={
        "type": "array",
        "items": s.obj(
            ["kind", "item_id", "number", "message"],
            kind={"type": "string", "enum": ["removed", "broken_twin"]},
            item_id=s.INT,
            number=s.INT,
            message={"type": "string"},
        ),
    },
)
VERSION_CONTENT = s.obj(
    ["version", "items"],
    version=VERSION,
    items={
        "type": "array",
        "items": s.obj(
            ["id", "number", "text", "options", "correct"],
            id=s.INT,
            number=s.INT,
            text=s.STR,
            options={"type": "array", "items": s.STR},
            correct=s.INT,
            topic={"type": ["string", "null"]},
            difficulty=s.NULL_INT,
            twin_key={"type": ["string", "null"]},
        ),
    },
)
VERSION_DIFF = s.obj(["version", "diff"], version=VERSION, against={"oneOf": [VERSION, {"type": "null"}]}, diff=DIFF)
ANALYSIS = s.obj(
    ["exam_id", "attempts", "items"],
    exam_id=s.INT,
    title=s.STR,
    attempts=s.INT,
    items_count=s.INT,
    mean_score={"type": ["number", "null"]},
    score_sd={"type": ["number", "null"]},
    kr20={"type": ["number", "null"]},
    items={"type": "array", "items": {"type": "object"}},
)
FILE = {"type": "string", "format": "binary"}
# For POST /admin/exams: {"blueprint": [{"topic": "…", "difficulty": 1, "count": 3}, …]} (see blueprint_field).
BLUEPRINT = s.BLUEPRINT


def blueprint_field(body: dict[str, Any]) -> dict[tuple[str | None, int | None], int] | None:
    """The optional ``blueprint`` of an exam body as ``ExamSpec.blueprint`` cells, or a precise 422."""
    raw = body.get("blueprint")
    if raw is None:
        return None
    bad = InvalidInput(
        "invalid_field", N_("Field «{field}» must be a {expected}."), field="blueprint", expected=Word(N_("list"))
    )
    if not isinstance(raw, list):
        raise bad
    cells: dict[tuple[str | None, int | None], int] = {}
    for cell in raw:
        if not isinstance(cell, dict):
            raise bad
        topic, level, count = cell.get("topic"), cell.get("difficulty"), cell.get("count")
        if (
            not (topic is None or isinstance(topic, str))
            or not (level is None or type(level) is int)
            or type(count) is not int
        ):
            raise bad
        b.BLUEPRINT_COUNT.check(count, "blueprint.count")
        if level is not None:
            b.DIFFICULTY.check(level, "blueprint.difficulty")
        key = ((topic or "").strip() or None, level)
        cells[key] = cells.get(key, 0) + count
    return cells


def _flag(request: web.Request, name: str, fields: dict[str, str]) -> bool:
    return (fields.get(name) or request.query.get(name, "")).strip().lower() in _TRUE


def _optional_int(raw: str | None, name: str, bound: b.Bound) -> int | None:
    if raw is None or not raw.strip():
        return None
    if not raw.strip().isdecimal() or len(raw.strip()) > 16:
        raise InvalidInput(
            "invalid_field", N_("Field «{field}» must be a {expected}."), field=name, expected=Word(N_("integer"))
        )
    return bound.check(int(raw), name)


async def _read_limited(read: Any, size_hint: int | None) -> bytes:
    if size_hint is not None and size_hint > banks.MAX_BANK_BYTES:
        raise banks.too_large(size_hint)
    data = bytearray()
    while chunk := await read(_CHUNK):
        data += chunk
        if len(data) > banks.MAX_BANK_BYTES:
            raise banks.too_large(len(data))
    return bytes(data)


async def _upload_body(request: web.Request) -> tuple[bytes, dict[str, str]]:
    """The file and any form fields: multipart/form-data (field ``file``) or the raw body."""
    if not request.content_type.startswith("multipart/"):
        return await _read_limited(request.content.read, request.content_length), {}
    if request.content_length is not None and request.content_length > banks.MAX_BANK_BYTES + 64 * 1024:
        raise banks.too_large(request.content_length)
    data: bytes | None = None
    fields: dict[str, str] = {}
    parts = form_bytes = 0
    try:
        reader = await request.multipart()
        async for part in reader:
            parts += 1
            if parts > MAX_FORM_PARTS:
                raise InvalidInput(
                    "form_too_many_fields", N_("The upload form has more than {limit} fields."), limit=MAX_FORM_PARTS
                )
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                data = await _read_limited(part.read_chunk, None)
                if part.filename:
                    fields.setdefault("filename", part.filename[:1000])
            elif part.name:
                # Read within the form's budget (a field used to be read whole, however large, then cut).
                value = bytearray()
                while chunk := await part.read_chunk(_CHUNK):
                    form_bytes += len(chunk)
                    if form_bytes > MAX_FORM_BYTES:
                        raise FormTooLarge(
                            "form_too_large",
                            N_("The upload's form fields are too large: at most {limit} bytes besides the file."),
                            limit=MAX_FORM_BYTES,
                        )
                    value += chunk
                # As sent, like the file: no Content-Encoding is undone (a gzip field could unpack to gigabytes).
                fields[part.name[:100]] = bytes(value[:4000]).decode("utf-8", "replace")[:1000]
    except BodyFramingError:
        raise  # the request's own framing: http.within_deadline says so
    except (ValueError, AssertionError, LookupError, RuntimeError, HttpProcessingError):
        # aiohttp's multipart reader: no boundary, a broken boundary or headers, an unknown
        # Content-Transfer-Encoding, a part's header line over its bound. The client's mistake, said
        # precisely, never a 500.
        raise InvalidInput(
            "multipart_invalid",
            N_(
                "The upload is not valid multipart/form-data (a missing or "
                "broken boundary); send the file in the field «file»."
            ),
        ) from None
    if data is None:
        raise InvalidInput("missing_field", N_("Field «{field}» is required."), field="file")
    return data, fields


@endpoint(
    "POST",
    "/api/v1/bank/uploads",
    status=201,
    response_schema=UPLOAD_RESULT,
    summary="Upload a bank file (raw body or multipart field 'file'; options as query or form fields: "
    "discipline, lang, filename, format, topic, difficulty, dry_run, publish, append, twins, confirm). "
    "201 stored, 200 dry run (with the losses a replace would cause), 422 refused with the report, "
    "413 too large, 409 bank_replace_unconfirmed: the new version removes questions or breaks "
    "kk/ru twins (listed in details) and confirm was not set",
    errors=(
        "discipline_not_found",
        "unknown_format",
        "bank_too_large",
        "multipart_invalid",
        "form_too_large",
        "form_too_many_fields",
        "bank_parser_busy",
        "bank_changed",
        "bank_replace_unconfirmed",
    ),
    permission=Permission.MANAGE_BANKS,
    hot=True,
    reader=_upload_body,
)
async def upload(request: web.Request, conn: None, actor: Actor) -> web.Response:
    # The file was read within the body deadline after the permission check (nobody who may not upload
    # sends 10 MiB), and hot=True holds no transaction while the file is parsed (up to a minute):
    # banks.upload_unlocked opens its own two short ones.
    data, form = request[PAYLOAD]

    def value(name: str) -> str | None:
        return form.get(name) or request.query.get(name) or None

    req = banks.UploadRequest(
        discipline_code=(value("discipline") or "").strip(),
        language=value("lang") or "",
        filename=value("filename"),
        format=value("format"),
        topic=value("topic"),
        difficulty=_optional_int(value("difficulty"), "difficulty", b.DIFFICULTY),
        dry_run=_flag(request, "dry_run", form),
        publish=_flag(request, "publish", form),
        append=_flag(request, "append", form),
        twins_by_position=(value("twins") or "") == "position",
        confirm=_flag(request, "confirm", form),
    )
    services = services_of(request)
    outcome = await banks.upload_unlocked(
        services.engine, actor, data, req, now=services.clock.now(), limits=services.settings.bank_limits
    )
    body = bank_views.outcome_view(outcome, actor.language, dry_run=req.dry_run)
    if not outcome.accepted:
        errors = body["report"]["errors"]
        message = translate(
            actor.language,
            N_("The bank was not stored: {count} errors. Fix every one and upload the file again."),
            count=len(errors),
        )
        body["error"] = {"code": "bank_invalid", "message": message, "details": errors}
        return json_response(body, status=422)
    return json_response(body, status=200 if req.dry_run else 201)


@endpoint(
    "GET",
    "/api/v1/bank/versions",
    summary="Bank versions (optionally ?discipline=CODE)",
    response_schema=s.obj(["items"], items={"type": "array", "items": VERSION}),
    permission=Permission.READ_BANK_CONTENT,
)
async def list_versions(request: web.Request, conn: Any, actor: Actor) -> dict:
    found = await banks.versions(conn, actor, request.query.get("discipline") or None)
    return {"items": [v.as_dict() for v in found]}


@endpoint(
    "GET",
    "/api/v1/bank/versions/{version_id}",
    summary="A bank version with its questions and keys",
    response_schema=VERSION_CONTENT,
    errors=("bank_version_not_found",),
    permission=Permission.READ_BANK_CONTENT,
)
async def version_content(request: web.Request, conn: Any, actor: Actor) -> dict:
    info, items = await banks.content(conn, actor, path_int(request, "version_id"))
    return {"version": info.as_dict(), "items": [bank_views.item_view(it) for it in items]}


@endpoint(
    "GET",
    "/api/v1/bank/versions/{version_id}/diff",
    summary="What a version changed (added / removed / changed) against ?against=ID or the version before",
    response_schema=VERSION_DIFF,
    errors=("bank_version_not_found",),
    permission=Permission.READ_BANK_CONTENT,
)
async def version_diff(request: web.Request, conn: Any, actor: Actor) -> dict:
    against = _optional_int(request.query.get("against"), "against", b.BANK_VERSION_ID)
    old, new, diff = await banks.version_diff(conn, actor, path_int(request, "version_id"), against)
    return {"version": new.as_dict(), "against": old.as_dict() if old else None, "diff": bank_views.diff_view(diff)}


@endpoint(
    "POST",
    "/api/v1/bank/versions/{version_id}/publish",
    summary="Publish a draft version (from then on immutable); 409 bank_publish_unconfirmed lists the questions "
    "it removes from the published version and the kk/ru twins it breaks, unless ?confirm=1",
    response_schema=VERSION,
    errors=("bank_version_published", "bank_version_not_found", "bank_publish_unconfirmed"),
    permission=Permission.MANAGE_BANKS,
)
async def publish(request: web.Request, conn: Any, actor: Actor) -> dict:
    info = await banks.publish(
        conn,
        actor,
        path_int(request, "version_id"),
        now=services_of(request).clock.now(),
        confirm=(request.query.get("confirm") or "").lower() in ("1", "true", "yes", "on"),
    )
    return info.as_dict()


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8" if content_type.startswith("text/") else None,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@endpoint(
    "GET",
    "/api/v1/bank/versions/{version_id}/export",
    summary="Export a version as ?format=gift, ?format=platonus or ?format=qti (a QTI 3.0 zip package); "
    "each reads back to the same questions",
    response_schema=FILE,
    errors=("unknown_export_format", "unexportable_text", "bank_version_not_found"),
    permission=Permission.READ_BANK_CONTENT,
    produces=("text/plain", "application/zip"),
)
async def export(request: web.Request, conn: Any, actor: Actor) -> web.Response:
    fmt = request.query.get("format", "platonus")
    info, text = await banks.export(
        conn, actor, path_int(request, "version_id"), fmt, now=services_of(request).clock.now()
    )
    name = _SAFE_NAME.sub("_", f"{info.discipline_code}-{info.language}-v{info.version}")
    if isinstance(text, bytes):  # a QTI 3.0 content package
        return _download(text, "application/zip", f"{name}-qti3.zip")
    return _download(text.encode("utf-8"), "text/plain", f"{name}.{'gift' if fmt == 'gift' else 'txt'}")


@endpoint(
    "GET",
    "/api/v1/bank/template",
    summary="The blank XLSX bank template (instructions in your language)",
    response_schema=FILE,
    permission=Permission.MANAGE_BANKS,
    produces=(_XLSX,),
)
async def template(request: web.Request, conn: Any, actor: Actor) -> web.Response:
    return _download(banks.template(actor, actor.language), _XLSX, "bank-template.xlsx")


@endpoint(
    "GET",
    "/api/v1/bank/exams/{exam_id}/analysis",
    summary="Item analysis of an exam: difficulty, discrimination, option use, KR-20, flags",
    response_schema=ANALYSIS,
    errors=("exam_not_found",),
    permission=Permission.READ_BANK_CONTENT,
    resource=Kind.EXAM,
)
async def analysis(request: web.Request, conn: Any, actor: Actor) -> dict:
    result = await bank_analysis.analyse_exam(conn, actor, path_int(request, "exam_id"), language=actor.language)
    return bank_analysis.analysis_view(result, actor.language)


@endpoint(
    "GET",
    "/api/v1/bank/exams/{exam_id}/analysis.xlsx",
    summary="Item analysis of an exam as XLSX",
    response_schema=FILE,
    errors=("exam_not_found",),
    permission=Permission.READ_BANK_CONTENT,
    produces=(_XLSX,),
    resource=Kind.EXAM,
)
async def analysis_xlsx(request: web.Request, conn: Any, actor: Actor) -> web.Response:
    result = await bank_analysis.analyse_exam(conn, actor, path_int(request, "exam_id"), language=actor.language)
    return _download(
        bank_analysis.analysis_workbook(result, actor.language), _XLSX, f"item-analysis-exam-{result.exam_id}.xlsx"
    )
