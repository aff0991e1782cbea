"""Running the server: configuration, schema check, the aiohttp runner."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from .bootstrap import Services, build_services
from .config import Settings, load_settings
from .errors import ConfigError
from .migrate import HEAD, current_revision

log = logging.getLogger(__name__)


async def check_schema(services: Services) -> None:
    current = await current_revision(services.engine)
    if current != HEAD:
        raise ConfigError(
            f"the database schema is at {current or 'nothing'}, the code needs {HEAD}: run `exam-engine migrate`"
        )


async def make_app(settings: Settings) -> web.Application:
    from .app import build_app

    services = build_services(settings)
    try:
        await check_schema(services)
    except Exception:
        await services.close()
        raise
    return build_app(services)


def serve(
    *,
    host: str | None = None,
    port: int | None = None,
    settings: Settings | None = None,
    workers: int = 1,
    reuse_port: bool = False,
) -> int:
    settings = settings or load_settings()
    if settings.secret_generated:
        log.warning("no EXAM_SECRET_KEY given: generated one into %s (keep it safe)", settings.data_dir)
    host = host or settings.host
    port = port or settings.port
    check_workers(settings, workers)
    if workers > 1:
        return supervise(settings, host=host, port=port, workers=workers)
    from .web.connections import raise_file_limit

    raise_file_limit()  # every connection is an open file; systemd starts services at 1,024

    def serving(_banner: str) -> None:  # aiohttp calls this once its start-up steps ran and the port is bound
        settle_heap()
        log.info(
            "exam-engine serving on http://%s:%d (database %s, pid %d)",
            host,
            port,
            settings.database_url.split("@")[-1],
            os.getpid(),
        )

    web.run_app(
        make_app(settings),
        host=host,
        port=port,
        print=serving,
        access_log=None,
        shutdown_timeout=5,
        reuse_port=reuse_port,
    )
    return 0


YOUNG_GC_THRESHOLD = 10_000
"""Net allocations between two collections of the youngest generation (CPython's default: 700)."""


def settle_heap() -> int:
    """Once started: collect the start-up's garbage, then move everything alive — the modules, the
    app, its caches, ~140,000 objects that live as long as the process — out of the cyclic
    collector's reach (``gc.freeze``): a full collection then walks only what was made since. Under
    autosave load one took ~80 ms over the whole heap (every request waiting behind it), ~11 ms after.

    And the youngest generation is collected after :data:`YOUNG_GC_THRESHOLD` net allocations rather
    than 700: the requests in flight (64 at once, each a few hundred objects alive until it is
    answered) crossed 700 all the time, so it was walked 642 times in a 30 s run, ~0.75 ms each, and
    found little garbage (0.48 s of collector time in a 30 s run, 0.004 s after). Garbage cycles are
    still collected, a little later: at most ~10,000 objects' worth waits (issue 24).

    Nothing alive is freed and nothing dead is kept: what is frozen was alive after a full collection.
    Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, older, oldest)
    return gc.get_freeze_count()


def check_workers(settings: Settings, workers: int) -> None:
    """Several processes need shared state: PostgreSQL for data, Redis for what is in memory otherwise."""
    if workers < 1 or workers > 64:
        raise ConfigError(f"--workers {workers}: expected 1 to 64")
    if workers == 1:
        return
    if not settings.is_postgres:
        raise ConfigError("--workers > 1 needs PostgreSQL (EXAM_DATABASE_URL): SQLite serves one process")
    if not settings.redis_url:
        raise ConfigError("--workers > 1 needs Redis (EXAM_REDIS_URL) for throttles and the frame queue")


RESTART_DELAY_MAX_S = 60.0
"""A worker that keeps dying soon after its start is restarted after 1, 2, 4 … up to this many seconds."""


def supervise(settings: Settings, *, host: str, port: int, workers: int) -> int:
    """Run ``workers`` server processes sharing the port (SO_REUSEPORT); restart any that dies.

    Every process runs the deadline sweeper, the outbox relay and the audit sealer: each is
    safe to run concurrently (row locks with SKIP LOCKED, advisory locks).

    A worker that exits with a configuration error (exit code 2) before the server has ever
    answered cannot start and restarting it will not help: the other workers are stopped and
    the error is raised, so the operator sees it at once. Once the server has answered, a dying
    worker is restarted while the others go on serving; one that dies again within a minute
    of its start waits twice as long as the last time (1 s up to ``RESTART_DELAY_MAX_S``), so
    a worker that can no longer start fills neither the log nor the machine.
    """
    check_workers(settings, workers)
    metrics_dir = Path(tempfile.mkdtemp(prefix="exam-metrics-"))
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    command = [sys.executable, "-m", "exam_engine.cli", "serve", "--host", host, "--port", str(port), "--reuse-port"]
    children: dict[int, subprocess.Popen[bytes]] = {}
    started: dict[int, float] = {}
    restart_at: dict[int, float] = {}
    delay: dict[int, float] = {}
    stopping = False
    answered = False
    failure: str | None = None

    def spawn(slot: int) -> None:
        children[slot] = subprocess.Popen(command, env=env)
        started[slot] = time.monotonic()
        log.info("worker %d started (pid %d)", slot, children[slot].pid)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("exam-engine starting on http://%s:%d with %d worker processes", host, port, workers)
    for slot in range(workers):
        spawn(slot)
    try:
        while not stopping:
            time.sleep(0.5)
            now = time.monotonic()
            answered = answered or _answers(host, port)
            for slot, child in list(children.items()):
                if stopping:
                    break
                if slot in restart_at:
                    if now >= restart_at[slot]:
                        del restart_at[slot]
                        spawn(slot)
                    continue
                code = child.poll()
                if code is None:
                    continue
                if code == 2 and not answered:
                    failure = f"server worker {slot} could not start (exit code 2; its message is above)"
                    log.error("worker %d (pid %d) could not start: configuration error; stopping", slot, child.pid)
                    stop(signal.SIGTERM, None)
                    break
                lived = now - started[slot]
                previous = delay.get(slot, 0.5) if lived < 60 else 0.5
                delay[slot] = min(RESTART_DELAY_MAX_S, previous * 2)
                restart_at[slot] = now + delay[slot]
                log.error(
                    "worker %d (pid %d) exited with %s after %.0f s; restarting it in %.0f s",
                    slot,
                    child.pid,
                    code,
                    lived,
                    delay[slot],
                )
    finally:
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if failure:
        raise ConfigError(failure)
    return 0


def _answers(host: str, port: int) -> bool:
    """Whether the server answers its liveness check on this machine (any worker may answer)."""
    import http.client

    target = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    connection = http.client.HTTPConnection(target, port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
