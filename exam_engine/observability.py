"""Logs, request ids and Prometheus metrics.

* Logs are one JSON object per line on stderr (``EXAM_LOG_FORMAT=text`` for people at a
  terminal), Cyrillic kept readable, each carrying the request id of the request that
  caused it.
* Every response carries ``X-Request-ID`` (the client's, if it sent a sane one).
* ``/metrics`` serves Prometheus text. With several worker processes the parent sets
  ``PROMETHEUS_MULTIPROC_DIR`` so every worker's samples are summed, whichever one answers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import func, select

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

REQUEST_SECONDS = Histogram(
    "exam_http_request_seconds",
    "Request latency by route and method.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SWEEPER_LAG = Histogram(
    "exam_sweeper_lag_seconds",
    "How long after its deadline (plus grace) an attempt was finalised.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
AUTOSAVES = Counter(
    "exam_autosaves_total", "Answer saves acknowledged, by path (fast: one statement on PostgreSQL).", ["path"]
)
AUTOSAVE_GROUP_SIZE = Histogram(
    "exam_autosave_group_size",
    "Saves written by one group commit (one statement, one transaction).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
FINALISED = Counter("exam_attempts_finalised_total", "Attempts finalised, by how.", ["status"])
ATTEMPTS = Gauge("exam_attempts", "Attempts by state (sampled at scrape).", ["status"], multiprocess_mode="max")
OUTBOX_BACKLOG = Gauge(
    "exam_outbox_backlog", "Result events not yet delivered to the journal (at scrape).", multiprocess_mode="max"
)
FRAME_QUEUE = Gauge("exam_frame_queue_length", "Frames waiting for analysis (at scrape).", multiprocess_mode="max")
ANALYSIS_SECONDS = Histogram(
    "exam_frame_analysis_seconds",
    "From a frame's arrival to its findings being stored.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


LOOP_LAG = Histogram(
    "exam_event_loop_lag_seconds",
    "How late the event loop woke a 100 ms timer (CPU work on the loop shows here).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


async def watch_loop_lag(interval_s: float = 0.1) -> None:
    """Runs for the life of the server: a stalled loop delays every student's answer."""
    import asyncio

    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(interval_s)
        LOOP_LAG.observe(max(0.0, loop.time() - before - interval_s))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        for key in ("method", "path", "route", "status", "duration_ms", "user", "pid"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    level = (level or os.environ.get("EXAM_LOG_LEVEL") or "INFO").upper()
    fmt = (fmt or os.environ.get("EXAM_LOG_FORMAT") or "json").lower()
    handler = logging.StreamHandler()
    if fmt == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


access_log = logging.getLogger("exam_engine.access")


def _route_of(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info is not None and info.route is not None else None
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Request id, latency histogram and one access-log line per request (metrics scrapes excluded)."""
    sent = request.headers.get("X-Request-ID", "")
    rid = sent if _SANE_ID.match(sent) else os.urandom(16).hex()  # what uuid4().hex is, less the version bits
    token = REQUEST_ID.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers["X-Request-ID"] = rid
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = _route_of(request)
        if route != "/metrics":
            _request_seconds(request.method, route, status).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):  # the line's fields are built only when it is written
                access_log.info(
                    "%s %s %d",
                    request.method,
                    request.path,
                    status,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
        REQUEST_ID.reset(token)


_REQUEST_SECONDS_CHILDREN: dict[tuple[str, str, int], Any] = {}


def _request_seconds(method: str, route: str, status: int) -> Any:
    """The histogram's child for these labels, looked up once (``labels()`` takes a lock and builds a
    key on every call). Bounded: methods × routes × statuses are few; anything odd only evicts."""
    key = (method, route, status)
    child = _REQUEST_SECONDS_CHILDREN.get(key)
    if child is None:
        if len(_REQUEST_SECONDS_CHILDREN) >= 4096:
            _REQUEST_SECONDS_CHILDREN.clear()
        child = _REQUEST_SECONDS_CHILDREN[key] = REQUEST_SECONDS.labels(method, route, str(status))
    return child


_AUTOSAVES_CHILDREN: dict[str, Any] = {}


def count_autosave(path: str) -> None:
    """``exam_autosaves_total{path=…}`` + 1; the child is looked up once per process (lazily: a child
    made before a fork would count into the parent's file in multiprocess mode)."""
    child = _AUTOSAVES_CHILDREN.get(path)
    if child is None:
        child = _AUTOSAVES_CHILDREN[path] = AUTOSAVES.labels(path=path)
    child.inc()


def registry() -> CollectorRegistry | None:
    """The registry to expose: every worker's samples when several processes serve."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    return None


async def sample_gauges(engine, frame_queue_length: Callable[[], Awaitable[int | None]] | None = None) -> None:  # type: ignore[no-untyped-def]
    """Gauges read from the database at scrape time (cheap, indexed counts)."""
    from .tables import attempts, outbox

    async with engine.connect() as conn:
        counts = dict((await conn.execute(select(attempts.c.status, func.count()).group_by(attempts.c.status))).all())
        backlog = (
            await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None)))
        ).scalar_one()
    for status in ("checks", "in_progress", "submitted", "timed_out", "annulled"):
        ATTEMPTS.labels(status).set(counts.get(status, 0))
    OUTBOX_BACKLOG.set(backlog)
    if frame_queue_length is not None:
        length = await frame_queue_length()
        if length is not None:
            FRAME_QUEUE.set(length)


def metrics_text() -> tuple[bytes, str]:
    reg = registry()
    return (generate_latest(reg) if reg is not None else generate_latest()), CONTENT_TYPE_LATEST
