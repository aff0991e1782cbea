"""The journal's commands: ``exam-engine grade calc`` and ``exam-engine journal …``.

Registered on the main parser by :func:`register` (one call in :mod:`exam_engine.cli.dispatch`); the
arithmetic lives in ``journal_bridge.calc``, the storage in ``journal_bridge.api``.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from journal_bridge import api as journal
from journal_bridge import calc

from ..bootstrap import Services
from ..i18n import translate
from . import common


def _run_journal(args: argparse.Namespace, fn: Any) -> int:
    """Run ``fn(services)`` like the other commands, with the journal's errors translated."""
    from ..web.api_journal import as_domain_error

    async def guarded(services: Services) -> int:
        try:
            return await fn(services)
        except journal.JournalError as error:
            raise as_domain_error(error) from None

    return common.run(args, guarded)


def _sink(conn: Any, services: Services) -> journal.AuditSink:
    from ..web.api_journal import audit_sink

    return audit_sink(conn, services.clock.now(), common.actor())


def cmd_create(args: argparse.Namespace) -> int:
    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            new_id = await journal.create_journal(
                conn,
                group_code=args.group,
                discipline_code=args.discipline,
                period_code=args.period,
                period_closes_at=args.closes,
                institution=args.institution,
                by=common.actor().label,
                now=services.clock.now(),
                audit=_sink(conn, services),
            )
        print(f"journal {new_id} created for {args.group} / {args.discipline} / {args.period}")
        return 0

    return _run_journal(args, run)


def cmd_assign(args: argparse.Namespace) -> int:
    from ..services.catalog import user_id_by_login

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            teacher = await user_id_by_login(conn, args.teacher)
            await journal.assign_teacher(
                conn,
                args.journal_id,
                str(teacher),
                by=common.actor().label,
                now=services.clock.now(),
                audit=_sink(conn, services),
            )
        print(f"{args.teacher} keeps journal {args.journal_id}")
        return 0

    return _run_journal(args, run)


def cmd_list(args: argparse.Namespace) -> int:
    async def run(services: Services) -> int:
        async with services.engine.connect() as conn:
            rows = [j.summary() for j in await journal.load_journals(conn)]
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        for r in rows if not args.json else []:
            print(
                f"{r['id']}\t{r['group']}\t{r['discipline']}\t{r['period']}\tcloses {r['closes_at']}"
                f"{' (locked)' if r['locked'] else ''}"
            )
        return 0

    return _run_journal(args, run)


def cmd_relay(args: argparse.Namespace) -> int:
    from ..services import holds, relay

    async def run(services: Services) -> int:
        report = await relay.relay_once(
            services.engine,
            relay.bridge_keys(services.settings),
            services.clock,
            hold=holds.policy_of(services.settings),
        )
        print(f"{report.delivered} delivered, {report.refused} refused, {report.failed} failed")
        return 0

    return _run_journal(args, run)


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date and time with a zone, like 2026-07-01T00:00+05:00")
    return moment


def register(sub: Any) -> None:
    """Add ``grade`` and ``journal`` to the main parser's sub-commands."""
    calc.add_parser(sub, translate, common.language)
    j = sub.add_parser("journal", help="the electronic journal").add_subparsers(dest="journal_command", required=True)
    p = j.add_parser("create", help="create a journal for a group, discipline and academic period")
    p.add_argument("--group", required=True)
    p.add_argument("--discipline", required=True)
    p.add_argument("--period", required=True, help="academic period code, e.g. 2025-2026-2")
    p.add_argument("--closes", type=_moment, required=True, help="when the period ends (J5), with its zone")
    p.add_argument("--institution", default="—", help="the institution's name, for statements")
    p.set_defaults(func=cmd_create)
    p = j.add_parser("assign", help="assign a teacher (by login) to a journal")
    p.add_argument("journal_id", type=int)
    p.add_argument("teacher")
    p.set_defaults(func=cmd_assign)
    p = j.add_parser("list", help="list journals")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = j.add_parser("relay", help="deliver pending exam results to the journal now")
    p.set_defaults(func=cmd_relay)
