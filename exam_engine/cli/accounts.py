"""``exam-engine user …`` and ``exam-engine contingent import``: accounts, by the administering unit (R1).

Exit codes as everywhere in the CLI (:mod:`exam_engine.cli.dispatch`): 0 done, 1 refused, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..bootstrap import Services
from . import common


def cmd_user_add(args: argparse.Namespace) -> int:
    from ..services.users import add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            new = await add_user(
                conn,
                common.actor(),
                login=args.login,
                full_name=args.name,
                role=args.role,
                language=args.language,
                password=password,
                now=services.clock.now(),
            )
        print(f"created {new.role} {new.login} (id {new.id})")
        if new.one_time_password:
            print(f"one-time password: {new.one_time_password}")
        return 0

    return common.run(args, run)


async def _announce_eviction(services: Services, message: str) -> None:
    """Tell running servers (over Redis) that sessions ended, so none keeps them cached."""
    if not services.settings.redis_url:
        return  # no bus: a server sees it within EXAM_SESSION_CACHE_UNSYNCED_S
    from ..services.session_bus import SessionBus

    bus = SessionBus(services.settings.redis_url, services.settings.redis_prefix, services.sessions)
    try:
        if not await bus.publish(message, attempts=3):
            print(
                "warning: Redis did not take the news; running servers may honour the old sessions for "
                f"{services.settings.session_cache_s:g} s more",
                file=sys.stderr,
            )
    finally:
        await bus.close()


def cmd_user_reset(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from ..services.users import reset_password
    from ..tables import users

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            otp = await reset_password(conn, common.actor(), args.login, now=services.clock.now())
            user_id = (await conn.execute(select(users.c.id).where(users.c.login == args.login))).scalar_one()
        await _announce_eviction(services, f"u:{user_id}")
        await services.throttle.forgive(args.login)  # the account's failures hold the new password no more
        print(f"one-time password for {args.login}: {otp}")
        return 0

    return common.run(args, run)


def cmd_user_access(args: argparse.Namespace) -> int:
    """``user disable|enable LOGIN --reason …``: as on the page /admin/access (audited, the sessions end at once)."""
    from ..services.users import set_active

    active = args.user_command == "enable"

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            changed = await set_active(
                conn, common.actor(), args.login, active=active, reason=args.reason, now=services.clock.now()
            )
        if not active:
            await _announce_eviction(services, f"u:{changed.user_id}")
            print(f"disabled {changed.login}; sessions ended: {changed.sessions_ended}")
            for a in changed.open_attempts:
                print(
                    f"  exam «{a['title']}» stays open until {a['deadline_at'].isoformat()}: its answers are kept "
                    "and it closes at its deadline"
                )
        else:
            print(f"enabled {changed.login}")
        return 0

    return common.run(args, run)


def cmd_contingent_import(args: argparse.Namespace) -> int:
    from ..services import contingent

    data = Path(args.file).read_bytes()

    async def run(services: Services) -> int:
        rows = contingent.parse(data, args.file)
        async with services.engine.begin() as conn:
            report = await contingent.apply(conn, common.actor(), rows, now=services.clock.now())
        out: dict[str, Any] = {
            "faculties": report.faculties,
            "groups": report.groups,
            "existing_users": report.existing_users,
            "created_users": report.created_users,
        }
        if args.json:
            print(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            print(
                f"{len(report.created_users)} accounts created, {report.existing_users} already existed, "
                f"{report.groups} groups, {report.faculties} faculties"
            )
            for u in report.created_users:
                print(f"  {u['login']}\t{u['role']}\t{u['one_time_password']}\t{u['full_name']}")
        return 0

    return common.run(args, run)


def register(sub: Any) -> None:
    """Add ``user add|reset-password|disable|enable`` and ``contingent import`` to the main parser's sub-commands."""
    user = sub.add_parser("user", help="accounts").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", help="create an account (prints a one-time password)")
    p.add_argument("login")
    p.add_argument("--role", required=True)
    p.add_argument("--name", required=True, help="full name")
    p.add_argument("--language", default="kk", choices=["kk", "ru"])
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user_add)
    p = user.add_parser("reset-password", help="issue a new one-time password")
    p.add_argument("login")
    p.set_defaults(func=cmd_user_reset)
    for name, what in (("disable", "disable a sign-in (every session ends at once)"), ("enable", "enable it again")):
        p = user.add_parser(name, help=what)
        p.add_argument("login")
        p.add_argument("--reason", required=True, help="kept in the audit log")
        p.set_defaults(func=cmd_user_access)

    cont = sub.add_parser("contingent", help="groups, students, teachers").add_subparsers(
        dest="contingent_command", required=True
    )
    p = cont.add_parser("import", help="import the semester's contingent from CSV or XLSX")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_contingent_import)
