"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web
from sqlalchemy import text

from .. import observability, sweeper
from ..bootstrap import Services
from ..services import audit_seal  # the audit sealer task (issue 7)
from ..services.session_bus import SessionBus
from . import api_admin, api_student  # noqa: F401 - importing registers the routes
from . import api_journal  # the journal's routes, and the outbox relay task
from . import api_bank  # noqa: F401 - the question-bank routes
from . import api_proctor  # noqa: F401 - proctoring capture and review routes
from . import api_recording  # noqa: F401 - the video recording: segments, chunks, playback by range
from . import api_assignments  # noqa: F401 - proctors of exams, heads of faculties and departments
from . import api_live  # exam day: lobby, live control, accommodations; the uptime/preparation task
from . import api_holds  # noqa: F401 - the gate before the journal: holds, key decisions (issue 25)
from .connections import CappedApplication, connection_cap
from .http import (
    BODY_LIMIT,
    ROUTES,
    SERVICES,
    expect_handler,
    errors_middleware,
    form_deadline_middleware,
    headers_middleware,
    json_response,
)
from .openapi import served_document

log = logging.getLogger(__name__)

SWEEPER_TASK = web.AppKey("sweeper_task", asyncio.Task)
MAX_REQUEST_BYTES = 12 * 1024 * 1024
# aiohttp's own bounds on what arrives before a handler runs: header lines and their count (a
# socket that never finishes its headers costs its buffer, at most these bounds, and no task of
# ours: aiohttp runs no handler until the headers are complete), and how long an idle kept-alive
# connection stays open. The body's deadline is ours (http.read_body, EXAM_BODY_TIMEOUT_S).
HANDLER_ARGS = {"max_line_size": 8190, "max_field_size": 8190, "keepalive_timeout": 75.0, "lingering_time": 2.0}

INDEX_HTML = """<!doctype html>
<html lang="kk"><head><meta charset="utf-8"><title>exam-engine</title></head>
<body><main><h1>exam-engine</h1>
<p>API: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> · <a href="/healthz">/healthz</a></p>
</main></body></html>"""


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """First in, last out: the database pools and the shared store close after every task has stopped."""
    services = app[SERVICES]
    if services.fast_saves is not None:
        await services.fast_saves.open()  # connects in the background, ready before the first save
    bus = None
    if services.settings.redis_url:
        # Session revocations from every process: the session cache may then keep a session longer.
        bus = SessionBus(services.settings.redis_url, services.settings.redis_prefix, services.sessions)
        bus.start()
    yield
    if bus is not None:
        await bus.close()
    await services.close()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    # Attempts that expired while the server was down are finalised before the first request.
    done = await sweeper.sweep_once(services)
    if done:
        log.info("start-up sweep finalised %d attempts that expired while the server was down", done)
    app[SWEEPER_TASK] = asyncio.create_task(sweeper.run_forever(services), name="deadline-sweeper")
    lag = asyncio.create_task(observability.watch_loop_lag(), name="loop-lag")
    yield
    for task in (app[SWEEPER_TASK], lag):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "pid": os.getpid()})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    checks = {"database": False, "shared_store": await services.kv.ping()}
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:  # noqa: BLE001 - readiness reports, it does not raise
        log.exception("readiness: database unreachable")
    ready = all(checks.values())
    return json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


def metrics_allowed(request: web.Request) -> bool:
    """``EXAM_METRICS_TOKEN`` set: the bearer token, from anywhere. Not set: only a loopback peer whose
    request came through no proxy (behind nginx on the same host every client's peer is 127.0.0.1)."""
    token = request.app[SERVICES].settings.metrics_token
    if token is not None:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token.reveal()}".encode())
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers or request.remote is None:
        return False
    try:
        return ipaddress.ip_address(request.remote).is_loopback
    except ValueError:
        return False


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text, for the scraper only (see docs/deploy.md, Metrics)."""
    services = request.app[SERVICES]
    if not metrics_allowed(request):
        return json_response(
            {"error": {"code": "metrics_forbidden", "message": "metrics need the bearer token (EXAM_METRICS_TOKEN)"}},
            status=401 if services.settings.metrics_token is not None else 403,
        )
    queue_length = None
    if services.proctor is not None:
        queue_length = services.proctor.queue.length
    try:
        await observability.sample_gauges(services.engine, queue_length)
    except Exception:  # noqa: BLE001 - a scrape must answer even when the database does not
        log.exception("metrics: could not sample gauges")
    body, content_type = observability.metrics_text()
    return web.Response(body=body, headers={"Content-Type": content_type})


async def openapi(request: web.Request) -> web.Response:
    # Built once per process, off the event loop: reading the handlers' sources takes seconds,
    # and a worker serving an exam must not stall for them.
    return json_response(await asyncio.to_thread(served_document))


async def index(request: web.Request) -> web.Response:
    return web.Response(text=INDEX_HTML, content_type="text/html")


Extension = Callable[[web.Application], None]
Lifecycle = Callable[[web.Application], AsyncIterator[None]]


def _in_order(*steps: Lifecycle) -> Lifecycle:
    """One ``cleanup_ctx`` entry running ``steps`` in order, undone in reverse.

    aiohttp's ``run_app`` does not undo the entries that started when a later one fails (its
    runner is set up outside the ``try`` that cleans up): the pools stayed open, their tasks
    ignored the final cancellation, and the process hung instead of exiting with the error
    (an empty signing-key file, a database that refuses). Here a failing step first undoes the
    steps before it, so the error reaches ``exam-engine serve`` and the process exits.
    """

    async def undo(started: list[AsyncIterator[None]]) -> BaseException | None:
        failed = None
        for step in reversed(started):
            try:
                await step.__anext__()  # the code after its ``yield``, as aiohttp would run it
            except StopAsyncIteration:
                pass
            except Exception as exc:  # noqa: BLE001 - the other steps are still undone
                log.exception("stopping a start-up step failed")
                failed = failed or exc
        return failed

    async def run(app: web.Application) -> AsyncIterator[None]:
        started: list[AsyncIterator[None]] = []
        try:
            for step in steps:
                it = step(app).__aiter__()
                await it.__anext__()
                started.append(it)
        except BaseException:
            await undo(started)
            raise
        yield
        failed = await undo(started)
        if failed is not None:
            raise failed

    return run


def create_app(
    services: Services, *, run_sweeper: bool = True, extensions: Sequence[Extension] = ()
) -> web.Application:
    """The JSON API, health checks and background tasks; ``extensions`` add pages (see exam_engine.app.build_app)."""
    app = CappedApplication(
        middlewares=[observability.observe_middleware, headers_middleware, errors_middleware, form_deadline_middleware],
        client_max_size=MAX_REQUEST_BYTES,
        handler_args=HANDLER_ARGS,
    )
    app.max_connections = connection_cap(services.settings.max_connections)  # a flood gets 503, not our files
    app.header_timeout_s = services.settings.header_timeout_s  # a head trickled in holds its slot no longer
    app.write_timeout_s = services.settings.body_timeout_s  # an answer nobody reads holds it no longer either
    app[SERVICES] = services
    if run_sweeper:
        # Start-up order after a crash past a mass deadline: seal what was written before the crash
        # (little), grade every overdue attempt, then deliver the grades (the relay starts first but
        # waits for the sweeper: sweeper.idle); the sealer's next round comes an interval later,
        # when the burst of audit rows is over, instead of taking turns with the relay.
        app.cleanup_ctx.append(
            _in_order(
                _resources,
                api_journal.relay_lifecycle,
                audit_seal.lifecycle(services),  # seals the audit log into the signed chain
                _lifecycle,
                api_live.exam_day_lifecycle,  # uptime beats (downtime credit), forms prepared early
            )
        )
    else:

        async def _close(app: web.Application) -> None:
            await services.close()

        app.on_cleanup.append(_close)
    for doc, handler in ROUTES:
        limit = getattr(handler, BODY_LIMIT, MAX_REQUEST_BYTES)  # an upload's own bound is within the request's
        app.router.add_route(doc.method, doc.path, handler, expect_handler=expect_handler(limit))
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/readyz", readyz)
    for extend in extensions:
        extend(app)
    if not any(r.resource and r.resource.canonical == "/" for r in app.router.routes()):
        app.router.add_get("/", index)
    return app
