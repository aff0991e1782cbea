"""The video recording's routes under /api/v1/proctor (issue 21; protocol in docs/proctoring.md §7).

The page: ``POST /attempts/{id}/recording`` opens a segment, ``POST /attempts/{id}/recording/{segment}
?seq=N&offset_ms=…&duration_ms=…`` uploads a chunk (WebM body, read within its bound before any
connection is taken, counted against the attempt's evidence quota like a frame). Reviewers:
``GET /attempts/{id}/recording`` lists the segments, ``GET /attempts/{id}/recording/{segment}``
plays one with byte ranges (206, 416), streamed after the short transaction that checked the
reviewer and wrote the audit row.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from proctor.runtime import ProctorRuntime

from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..services import proctoring as capture
from ..services import recording
from . import schemas as s
from .api_proctor import BASE, UPLOAD_ERRORS, upload
from .http import endpoint, error_response, path_int, path_uuid, read_json, services_of

SEGMENT = s.obj(
    ["segment", "started_at"],
    segment=s.INT,
    started_at=s.TS,
    enabled=s.BOOL,
    kbps=s.INT,
    chunk_s={"type": "number"},
    max_chunk_bytes=s.INT,
    queue_bytes=s.INT,
    video={"type": "object"},
)
CHUNK_RECEIPT = s.obj(
    ["kind", "segment", "seq", "evidence_seq", "received_at", "stored"],
    kind=s.STR,
    segment=s.INT,
    seq=s.INT,
    evidence_seq=s.INT,
    received_at=s.TS,
    stored=s.BOOL,
)
SEGMENTS = s.obj(
    ["segments"],
    segments={
        "type": "array",
        "items": s.obj(
            ["segment", "started_at", "t_start", "duration_s", "chunks", "bytes", "url"],
            segment=s.INT,
            started_at=s.TS,
            t_start={"type": "number"},
            duration_s={"type": "number"},
            chunks=s.INT,
            bytes=s.INT,
            media_type=s.STR,
            missing={"type": "array", "items": s.INT},
            url=s.STR,
        ),
    },
)
CHUNK_ERRORS = (
    *UPLOAD_ERRORS,
    "recording_segment_not_found",
    "recording_chunk_conflict",
    "recording_invalid",
    "recording_disabled",
    "recording_after_end",
    "out_of_range",
)


@endpoint(
    "POST",
    BASE + "/attempts/{attempt_id}/recording",
    summary="Start a recording segment (one per page load): {started_at, media_type} → its number",
    request_schema=s.obj(started_at=s.TS, media_type=s.STR),
    response_schema=SEGMENT,
    errors=(
        "attempt_not_found",
        "attempt_finished",
        "deadline_passed",
        "consent_required",
        "exam_not_proctored",
        "recording_disabled",
        "recording_type_invalid",
        "recording_segments_exceeded",
        "recording_after_end",
    ),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_segment(request: web.Request, conn: Any, actor: Actor) -> dict:
    services = services_of(request)
    return await recording.open_segment(
        conn,
        capture.runtime_of(services),
        actor,
        path_uuid(request, "attempt_id"),
        await read_json(request),
        now=services.clock.now(),
        grace_s=services.settings.network_grace_s,
    )


@upload(
    "POST",
    BASE + "/attempts/{attempt_id}/recording/{segment}",
    body="webm",
    summary="A recording chunk (WebM body, ?seq=N&offset_ms=&duration_ms=); idempotent on (segment, seq)",
    errors=CHUNK_ERRORS,
    response_schema=s.obj(["items"], items={"type": "array", "items": CHUNK_RECEIPT}),
    permission=Permission.SIT_EXAM,
    resource=Kind.ATTEMPT,
)
async def post_chunk(request: web.Request, _: None, actor: Actor, runtime: ProctorRuntime, data: bytes) -> Any:
    services = services_of(request)
    place = recording.ChunkPlace.parse(path_int(request, "segment"), request.query)
    receipt = await recording.store_chunk(
        services,
        runtime,
        actor,
        path_uuid(request, "attempt_id"),
        place,
        data,
        now=services.clock.now(),
        grace_s=services.settings.network_grace_s,
    )
    return {"items": [receipt]}


@endpoint(
    "GET",
    BASE + "/attempts/{attempt_id}/recording",
    summary="An attempt's recording segments on its time line (seconds since it started)",
    response_schema=SEGMENTS,
    errors=("proctoring_not_found",),
    permission=Permission.PROCTOR_REVIEW,
    resource=Kind.ATTEMPT,
)
async def get_segments(request: web.Request, conn: Any, actor: Actor) -> dict:
    return {"segments": await recording.segments(conn, actor, path_uuid(request, "attempt_id"))}


class _Streamed(web.StreamResponse):
    """A response whose body is written after its headers, piece by piece, once the handler (and its
    transaction) has returned: the security headers are set on it like on any other answer."""

    def __init__(self, pieces: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pieces: AsyncIterator[bytes] | None = pieces

    async def write_eof(self, data: bytes = b"") -> None:
        pieces, self._pieces = self._pieces, None
        try:
            if pieces is not None:
                async for piece in pieces:
                    await self.write(piece)
            await super().write_eof(data)
        except ConnectionResetError:  # the player moved on (a seek cancels the request it no longer needs)
            return


@endpoint(
    "GET",
    BASE + "/attempts/{attempt_id}/recording/{segment}",
    summary="Play a recording segment (video/webm, decrypted); byte ranges answer 206, a bad range 416; "
    "every viewing is audited (one row per reviewer and segment per window)",
    response_schema={"type": "string", "format": "binary"},
    errors=("proctoring_not_found", "recording_segment_not_found", "range_not_satisfiable"),
    permission=Permission.PROCTOR_REVIEW,
    resource=Kind.ATTEMPT,
    hot=True,
    produces=("video/webm",),
)
async def get_segment(request: web.Request, _: None, actor: Actor) -> web.StreamResponse:
    services = services_of(request)
    runtime = capture.runtime_of(services)
    attempt_id: uuid.UUID = path_uuid(request, "attempt_id")
    segment = path_int(request, "segment")
    try:
        async with services.engine.begin() as conn:
            playback = await recording.open_playback(
                conn, runtime, actor, attempt_id, segment, request.headers.get("Range"), now=services.clock.now()
            )
    except recording.RangeNotSatisfiable as refused:
        response = error_response(refused, actor.language)
        response.headers["Content-Range"] = f"bytes */{refused.total}"
        response.headers["Accept-Ranges"] = "bytes"
        return response
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store, private", "Content-Type": playback.media_type}
    if playback.status == 206:
        headers["Content-Range"] = f"bytes {playback.start}-{playback.end}/{playback.total}"
    response = _Streamed(
        recording.playback_bytes(runtime, attempt_id, segment, playback), status=playback.status, headers=headers
    )
    response.content_length = playback.length
    return response
