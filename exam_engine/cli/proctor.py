"""Operator commands of proctoring analysis: ``proctor analyze|eval``, ``proctor-worker``.

Registered into ``exam-engine`` by :func:`register`; the evidence commands are in :mod:`.evidence`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
from datetime import timedelta

from ..bootstrap import Services
from . import common

log = logging.getLogger("exam_engine.proctor")


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

    from ..services.proctoring import runtime_of

    async def run(services: Services) -> int:
        if not services.settings.redis_url:
            print("proctor-worker needs EXAM_REDIS_URL (the embedded server analyses in its own pool)", file=sys.stderr)
            return 2
        runtime = runtime_of(services)
        config = runtime.config
        client = aioredis.Redis.from_url(services.settings.redis_url, socket_timeout=30)
        worker = StreamWorker(
            client,
            runtime.analyser,
            stream=config.stream,
            group=config.group,
            consumer=args.name or f"{socket.gethostname()}-{os.getpid()}",
            claim_idle_ms=args.claim_idle_ms or config.claim_idle_ms,
            batch=args.batch,
            concurrency=args.concurrency,
            rescue_after_s=config.rescue_after_s,
        )
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
    return common.run(args, run)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    proctor = sub.add_parser("proctor", help="proctoring analysis").add_subparsers(
        dest="proctor_command", required=True
    )
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
