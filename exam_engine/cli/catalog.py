"""``exam-engine discipline add`` and ``exam-engine session add``: the catalogue the exams hang on.

Exit codes as everywhere in the CLI (:mod:`exam_engine.cli.dispatch`): 0 done, 1 refused, 2 usage.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from ..bootstrap import Services
from . import common


def cmd_discipline_add(args: argparse.Namespace) -> int:
    from ..services.catalog import add_discipline

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            new_id = await add_discipline(
                conn, common.actor(), code=args.code, name=args.name, credits=args.credits, now=services.clock.now()
            )
        print(f"discipline {args.code} added (id {new_id})")
        return 0

    return common.run(args, run)


def cmd_session_add(args: argparse.Namespace) -> int:
    from ..services.catalog import add_exam_session

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            new_id = await add_exam_session(
                conn,
                common.actor(),
                code=args.code,
                name=args.name or args.code,
                starts_on=args.starts_on,
                ends_on=args.ends_on,
                now=services.clock.now(),
            )
        print(f"exam session {args.code} added (id {new_id})")
        return 0

    return common.run(args, run)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-06-01") from None


def register(sub: Any) -> None:
    """Add ``discipline add`` and ``session add`` to the main parser's sub-commands."""
    disc = sub.add_parser("discipline", help="disciplines").add_subparsers(dest="discipline_command", required=True)
    p = disc.add_parser("add", help="add a discipline")
    p.add_argument("code")
    p.add_argument("--name", required=True)
    p.add_argument("--credits", type=int)
    p.set_defaults(func=cmd_discipline_add)

    sess = sub.add_parser("session", help="exam sessions").add_subparsers(dest="session_command", required=True)
    p = sess.add_parser("add", help="add an exam session (date range)")
    p.add_argument("code")
    p.add_argument("--name")
    p.add_argument("--from", dest="starts_on", type=_date, required=True)
    p.add_argument("--to", dest="ends_on", type=_date, required=True)
    p.set_defaults(func=cmd_session_add)
