"""Operator commands of proctoring evidence: ``evidence verify|purge|rotate-key``.

Exit codes as everywhere in the CLI: 0 done (a chain intact), 1 refused or a broken chain (the
first broken item named), 2 usage or configuration error (e.g. no evidence key file).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from ..bootstrap import Services
from ..errors import InvalidInput
from ..i18n import N_, translate
from . import common


def _attempt_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput("invalid_id", N_("«{value}» is not a valid identifier."), value=raw[:64]) from None


def cmd_verify(args: argparse.Namespace) -> int:
    from ..services.proctor_admin import verify
    from ..services.proctoring import runtime_of

    lang = common.language(args)

    async def run(services: Services) -> int:
        attempt_id = _attempt_id(args.attempt)
        async with services.engine.begin() as conn:
            verdict = await verify(conn, runtime_of(services), attempt_id, common.actor(), now=services.clock.now())
        message = translate(lang, verdict.msgid, **verdict.params)
        if args.json:
            print(
                json.dumps(
                    {
                        "attempt_id": str(attempt_id),
                        "ok": verdict.ok,
                        "code": verdict.code,
                        "seq": verdict.seq,
                        "checked": verdict.checked,
                        "message": message,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            print(message, file=sys.stdout if verdict.ok else sys.stderr)
        return 0 if verdict.ok else 1

    return common.run(args, run)


def cmd_purge(args: argparse.Namespace) -> int:
    from ..services.proctor_admin import purge_expired
    from ..services.proctoring import runtime_of

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            done = await purge_expired(
                conn, runtime_of(services), common.actor(), now=services.clock.now(), retention_days=args.days
            )
        if args.json:
            print(json.dumps([{"attempt_id": str(p.attempt_id), "items": p.items} for p in done]))
        else:
            print(f"evidence of {len(done)} attempts deleted ({sum(p.items for p in done)} items)")
        return 0

    return common.run(args, run)


def cmd_rotate(args: argparse.Namespace) -> int:
    from ..services.proctor_admin import rotate_master_key
    from ..services.proctoring import runtime_of

    async def run(services: Services) -> int:
        current, changed = await rotate_master_key(
            services.engine, runtime_of(services), common.actor(), now=services.clock.now(), retire=args.retire
        )
        print(
            f"master key {current} is current; {changed} keys re-wrapped"
            + ("; old keys removed" if args.retire else "; old keys kept (use --retire to drop them)")
        )
        return 0

    return common.run(args, run)


def register(sub: Any) -> None:
    """Add ``evidence verify|purge|rotate-key`` to the main parser's sub-commands."""
    evidence = sub.add_parser("evidence", help="proctoring evidence").add_subparsers(
        dest="evidence_command", required=True
    )
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
