"""``exam-engine``: the operator's command line.

Exit codes: 0 done, 1 refused (bad data, a rule said no), 2 usage or configuration error.
Messages for people come in their language (``--lang`` or ``EXAM_LANG``, kk by default).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, Awaitable, Callable

from .bootstrap import Services, build_services
from .config import load_settings
from .domain.actors import Actor, cli_actor
from .errors import ConfigError, DomainError, Refusal
from .i18n import N_, normalise_language, translate

log = logging.getLogger("exam_engine")


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = str(os.getuid())
    return cli_actor(user)


def _print_error(error: DomainError, lang: str, as_json: bool) -> None:
    if as_json:
        from .web.http import error_body

        print(json.dumps(error_body(error, lang), ensure_ascii=False, indent=2))
        return
    from .web.http import render_detail

    print(translate(lang, error.msgid, **error.params), file=sys.stderr)
    for d in error.details:
        print("  - " + render_detail(lang, d), file=sys.stderr)


async def _with_services(fn: Callable[[Services], Awaitable[int]], *, migrate: bool = False) -> int:
    from .migrate import upgrade

    services = build_services(load_settings())
    try:
        if migrate:
            await upgrade(services.engine)
        return await fn(services)
    finally:
        await services.close()


def _run(args: argparse.Namespace, fn: Callable[[Services], Awaitable[int]], *, migrate: bool = False) -> int:
    lang = normalise_language(getattr(args, "lang", None) or os.environ.get("EXAM_LANG"))
    try:
        return asyncio.run(_with_services(fn, migrate=migrate))
    except DomainError as error:
        _print_error(error, lang, getattr(args, "json", False))
        return 1


# ------------------------------------------------------------------------------------------- commands


def cmd_migrate(args: argparse.Namespace) -> int:
    from .migrate import current_revision

    async def run(services: Services) -> int:
        print(f"database schema at revision {await current_revision(services.engine)}")
        return 0

    return _run(args, run, migrate=True)


def cmd_user_add(args: argparse.Namespace) -> int:
    from .services.users import add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            new = await add_user(conn, _actor(), login=args.login, full_name=args.name, role=args.role,
                                 language=args.language, password=password, now=services.clock.now())
        print(f"created {new.role} {new.login} (id {new.id})")
        if new.one_time_password:
            print(f"one-time password: {new.one_time_password}")
        return 0

    return _run(args, run)


async def _announce_eviction(services: Services, message: str) -> None:
    """Tell running servers (over Redis) that sessions ended, so none keeps them cached."""
    if not services.settings.redis_url:
        return  # no bus: a server sees it within EXAM_SESSION_CACHE_UNSYNCED_S
    from .services.session_bus import SessionBus

    bus = SessionBus(services.settings.redis_url, services.settings.redis_prefix, services.sessions)
    try:
        if not await bus.publish(message, attempts=3):
            print("warning: Redis did not take the news; running servers may honour the old sessions for "
                  f"{services.settings.session_cache_s:g} s more", file=sys.stderr)
    finally:
        await bus.close()


def cmd_user_reset(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from .services.users import reset_password
    from .tables import users

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            otp = await reset_password(conn, _actor(), args.login, now=services.clock.now())
            user_id = (await conn.execute(select(users.c.id).where(users.c.login == args.login))).scalar_one()
        await _announce_eviction(services, f"u:{user_id}")
        await services.throttle.forgive(args.login)  # the account's failures hold the new password no more
        print(f"one-time password for {args.login}: {otp}")
        return 0

    return _run(args, run)


def cmd_discipline_add(args: argparse.Namespace) -> int:
    from .services.catalog import add_discipline

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            new_id = await add_discipline(conn, _actor(), code=args.code, name=args.name, credits=args.credits,
                                          now=services.clock.now())
        print(f"discipline {args.code} added (id {new_id})")
        return 0

    return _run(args, run)


def cmd_session_add(args: argparse.Namespace) -> int:
    from .services.catalog import add_exam_session

    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            new_id = await add_exam_session(conn, _actor(), code=args.code, name=args.name or args.code,
                                            starts_on=args.starts_on, ends_on=args.ends_on, now=services.clock.now())
        print(f"exam session {args.code} added (id {new_id})")
        return 0

    return _run(args, run)


def cmd_contingent_import(args: argparse.Namespace) -> int:
    from .services import contingent

    data = Path(args.file).read_bytes()

    async def run(services: Services) -> int:
        rows = contingent.parse(data, args.file)
        async with services.engine.begin() as conn:
            report = await contingent.apply(conn, _actor(), rows, now=services.clock.now())
        out: dict[str, Any] = {"faculties": report.faculties, "groups": report.groups,
                               "existing_users": report.existing_users, "created_users": report.created_users}
        if args.json:
            print(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            print(f"{len(report.created_users)} accounts created, {report.existing_users} already existed, "
                  f"{report.groups} groups, {report.faculties} faculties")
            for u in report.created_users:
                print(f"  {u['login']}\t{u['role']}\t{u['one_time_password']}\t{u['full_name']}")
        return 0

    return _run(args, run)


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    return serve(host=args.host, port=args.port, workers=args.workers, reuse_port=args.reuse_port)


def cmd_openapi(args: argparse.Namespace) -> int:
    from .web import app  # noqa: F401 - registers the routes
    from .web.openapi import document

    print(json.dumps(document(), ensure_ascii=False, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(host=args.host, port=args.port)


# ------------------------------------------------------------------------------------------- parser


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-06-01") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exam-engine", description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=["kk", "ru"], help="language of messages (default: EXAM_LANG or kk)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("openapi", help="print the API's OpenAPI document (docs/openapi.json)")
    p.set_defaults(func=cmd_openapi)

    for name, func, help_text in (("serve", cmd_serve, "run the server"),
                                  ("demo", cmd_demo, "run the demo on the embedded default (SQLite under ./var)")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default=None, help="bind address (default EXAM_HOST or 127.0.0.1)")
        p.add_argument("--port", type=int, default=None, help="port (default EXAM_PORT or 8080)")
        if name == "serve":
            p.add_argument("--workers", type=int, default=1,
                           help="server processes sharing the port (needs PostgreSQL and Redis)")
            p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
        p.set_defaults(func=func)

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

    cont = sub.add_parser("contingent", help="groups, students, teachers").add_subparsers(
        dest="contingent_command", required=True)
    p = cont.add_parser("import", help="import the semester's contingent from CSV or XLSX")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_contingent_import)

    from .bank_cli import add_bank_commands

    add_bank_commands(sub)
    from .cli_journal import register as register_journal_commands  # grade calc, journal …
    register_journal_commands(sub)
    from .proctor_cli import register as register_proctor_commands  # evidence …, proctor analyze, proctor-worker
    register_proctor_commands(sub)
    from .trust_cli import register as register_trust_commands  # audit …, receipt verify, backup, restore
    register_trust_commands(sub)
    from .cli_assign import register as register_assign_commands  # assign proctors|faculty-head|…
    register_assign_commands(sub)
    return parser


def _say(lang: str, msgid: str, **params: Any) -> None:
    print(translate(lang, msgid, **params), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run one command; whatever happens, end with one line and a documented exit code.

    Refusals carry their own code; a missing or unreadable file and a bad setting are 2;
    anything unexpected is one line and 1, with the traceback only when ``EXAM_DEBUG=1``.
    """
    from .observability import configure_logging

    configure_logging()
    args = build_parser().parse_args(argv)
    lang = normalise_language(getattr(args, "lang", None) or os.environ.get("EXAM_LANG"))
    try:
        return int(args.func(args))
    except Refusal as refusal:
        _say(lang, refusal.msgid, **refusal.params)
        return refusal.exit_code
    except DomainError as error:
        _print_error(error, lang, getattr(args, "json", False))
        return 1
    except ConfigError as error:
        _say(lang, N_("Configuration error: {problem}"), problem=str(error))
        return 2
    except FileNotFoundError as error:
        _say(lang, N_("No such file: {path}"), path=error.filename or str(error))
        return 2
    except OSError as error:
        _say(lang, N_("Cannot use {path}: {problem}"), path=error.filename or "-", problem=error.strerror or str(error))
        return 2
    except KeyboardInterrupt:
        _say(lang, N_("Interrupted."))
        return 130
    except Exception as error:  # noqa: BLE001 - the last resort: one line, never a traceback
        from proctor.errors import ProctorError
        from proctor.keys import KeyFileError

        if isinstance(error, KeyFileError):  # the evidence keyring: a configuration problem
            _say(lang, error.msgid, **error.params)
            return 2
        if isinstance(error, ProctorError):  # e.g. evidence wrapped with a master key that is not configured
            _say(lang, error.msgid, **error.params)
            return 1
        from sqlalchemy.exc import DBAPIError

        if isinstance(error, DBAPIError):  # no schema yet, or the database cannot be reached
            text = " ".join(str(error.orig).split())[:200]
            if "no such table" in text or "UndefinedTable" in type(error.orig).__name__:
                _say(lang, N_("The database has no exam-engine schema yet ({problem}); run: exam-engine migrate."),
                     problem=text)
            else:
                _say(lang, N_("The database cannot be used: {problem}"), problem=text)
            return 2
        if os.environ.get("EXAM_DEBUG") == "1":
            log.exception("unexpected error in %s", getattr(args, "command", "?"))
        _say(lang, N_("Unexpected error in «{command}»: {problem} (run with EXAM_DEBUG=1 to see the traceback)."),
             command=" ".join(sys.argv[1:3]) if argv is None else " ".join(argv[:2]),
             problem=f"{type(error).__name__}: " + " ".join(str(error).split())[:200])
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
