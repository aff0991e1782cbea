"""Operator commands of proctoring: ``evidence verify|purge|rotate-key``, ``proctor analyze``,
``proctor-worker``. Registered into ``exam-engine`` by :func:`register`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
import uuid
from datetime import timedelta

from .bootstrap import Services
from .cli import _actor, _run
from .errors import InvalidInput
from .i18n import N_, normalise_language, translate

log = logging.getLogger("exam_engine.proctor")


def _attempt_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput("invalid_id", N_("«{value}» is not a valid identifier."), value=raw[:64]) from None


def cmd_verify(args: argparse.Namespace) -> int:
    from .services.proctor_admin import verify
    from .services.proctoring import runtime_of

    lang = normalise_language(args.lang or os.environ.get("EXAM_LANG"))

    async def run(services: Services) -> int:
        attempt_id = _attempt_id(args.attempt)
        async with services.engine.begin() as conn:
            verdict = await verify(conn, runtime_of(services), attempt_id, _actor(), now=services.clock.now())
        message = translate(lang, verdict.msgid, **verdict.params)
        if args.json:
            print(json.dumps({"attempt_id": str(attempt_id), "ok": verdict.ok, "code": verdict.code,
                              "seq": verdict.seq, "checked": verdict.checked, "message": message},
                             ensure_ascii=False))
        else:
            print(message, file=sys.stdout if verdict.ok else sys.stderr)
        return 0 if verdict.ok else 1

    return _run(args, run)


def cmd_purge(args: argparse.Namespace) -> int:
    from .services.proctor_admin import purge_expired
    from .services.proctoring import runtime_of

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            done = await purge_expired(conn, runtime_of(services), _actor(), now=services.clock.now(),
                                       retention_days=args.days)
        if args.json:
            print(json.dumps([{"attempt_id": str(p.attempt_id), "items": p.items} for p in done]))
        else:
            print(f"evidence of {len(done)} attempts deleted ({sum(p.items for p in done)} items)")
        return 0

    return _run(args, run)


def cmd_rotate(args: argparse.Namespace) -> int:
    from .services.proctor_admin import rotate_master_key
    from .services.proctoring import runtime_of

    async def run(services: Services) -> int:
        current, changed = await rotate_master_key(services.engine, runtime_of(services), _actor(),
                                                   now=services.clock.now(), retire=args.retire)
        print(f"master key {current} is current; {changed} keys re-wrapped"
              + ("; old keys removed" if args.retire else "; old keys kept (use --retire to drop them)"))
        return 0

    return _run(args, run)


def cmd_analyze(args: argparse.Namespace) -> int:
    from proctor.analysis import analyze_images, format_result

    results = analyze_images(args.images, args.enrol)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for entry in results:
            print(format_result(entry))
    return 1 if any("error" in entry for entry in results) else 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Recall and false alarms of the analysis over a labelled folder; 2 when it is not one."""
    from pathlib import Path

    from proctor.analysis import pin_threads
    from proctor.analysis.evaluate import EvalSetError, evaluate, format_eval

    pin_threads()  # ms per frame on one core, as a worker process runs
    try:
        result = evaluate(Path(args.dir))
    except EvalSetError as exc:
        print(f"proctor eval: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print("\n".join(format_eval(result)))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import redis.asyncio as aioredis

    from proctor.queue import pending_jobs
    from proctor.worker import StreamWorker

    from .services.proctoring import runtime_of

    async def run(services: Services) -> int:
        if not services.settings.redis_url:
            print("proctor-worker needs EXAM_REDIS_URL (the embedded server analyses in its own pool)",
                  file=sys.stderr)
            return 2
        runtime = runtime_of(services)
        config = runtime.config
        client = aioredis.Redis.from_url(services.settings.redis_url, socket_timeout=30)
        worker = StreamWorker(client, runtime.analyser, stream=config.stream, group=config.group,
                              consumer=args.name or f"{socket.gethostname()}-{os.getpid()}",
                              claim_idle_ms=args.claim_idle_ms or config.claim_idle_ms, batch=args.batch,
                              concurrency=args.concurrency)
        await worker.ensure_group()
        # Items stored while Redis was unreachable were never queued: queue them now.
        stale = await pending_jobs(services.engine, received_before=services.clock.now() - timedelta(minutes=2))
        for job in stale:
            await client.xadd(config.stream, job.encode())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await worker.run_forever(stop)
        finally:
            await client.aclose()
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from proctor.jobs import initialise_worker

    initialise_worker()  # one OpenMP thread per process, models loaded before the first job
    return _run(args, run)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    evidence = sub.add_parser("evidence", help="proctoring evidence").add_subparsers(
        dest="evidence_command", required=True)
    p = evidence.add_parser("verify", help="check an attempt's evidence chain (exit 1 names the first broken item)")
    p.add_argument("attempt")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)
    p = evidence.add_parser("purge", help="delete evidence past its retention (kept while under review or appeal)")
    p.add_argument("--days", type=int, help="retention in days (default EXAM_EVIDENCE_RETENTION_DAYS or 365)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_purge)
    p = evidence.add_parser("rotate-key", help="new master key; re-wrap every data key under it")
    p.add_argument("--retire", action="store_true", help="then remove the old master keys from the key file")
    p.set_defaults(func=cmd_rotate)

    proctor = sub.add_parser("proctor", help="proctoring analysis").add_subparsers(
        dest="proctor_command", required=True)
    p = proctor.add_parser("analyze", help="analyse image files as webcam frames (face count, identity, head turn)")
    p.add_argument("images", nargs="+")
    p.add_argument("--enrol", help="enrolment photo to compare identity with")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_analyze)
    p = proctor.add_parser("eval", help="recall and false alarms of the analysis over a labelled folder (labels.json)")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("proctor-worker", help="analyse frames from the Redis Stream (one consumer-group member)")
    p.add_argument("--name", help="consumer name (default host-pid)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=2, help="jobs in flight at once (default 2)")
    p.add_argument("--claim-idle-ms", type=int, help="take over jobs idle this long (default 60000)")
    p.set_defaults(func=cmd_worker)
