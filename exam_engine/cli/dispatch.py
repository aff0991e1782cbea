"""``exam-engine``: the operator's command line.

Exit codes: 0 done, 1 refused (bad data, a rule said no), 2 usage or configuration error.
Messages for people come in their language (``--lang`` or ``EXAM_LANG``, kk by default).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from ..bootstrap import Services
from ..errors import ConfigError, DomainError, Refusal
from ..i18n import N_
from . import common

log = logging.getLogger("exam_engine")


# ------------------------------------------------------------------------------------------- commands


def cmd_migrate(args: argparse.Namespace) -> int:
    from ..migrate import current_revision

    async def run(services: Services) -> int:
        print(f"database schema at revision {await current_revision(services.engine)}")
        return 0

    return common.run(args, run, migrate=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..server import serve

    return serve(host=args.host, port=args.port, workers=args.workers, reuse_port=args.reuse_port)


def cmd_openapi(args: argparse.Namespace) -> int:
    from ..web import app  # noqa: F401 - registers the routes
    from ..web.openapi import document

    print(json.dumps(document(), ensure_ascii=False, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return run_demo(host=args.host, port=args.port)


# ------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exam-engine", description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=["kk", "ru"], help="language of messages (default: EXAM_LANG or kk)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("openapi", help="print the API's OpenAPI document (docs/openapi.json)")
    p.set_defaults(func=cmd_openapi)

    for name, func, help_text in (
        ("serve", cmd_serve, "run the server"),
        ("demo", cmd_demo, "run the demo on the embedded default (SQLite under ./var)"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default=None, help="bind address (default EXAM_HOST or 127.0.0.1)")
        p.add_argument("--port", type=int, default=None, help="port (default EXAM_PORT or 8080)")
        if name == "serve":
            p.add_argument(
                "--workers", type=int, default=1, help="server processes sharing the port (needs PostgreSQL and Redis)"
            )
            p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
        p.set_defaults(func=func)

    from . import accounts, assign, backup, bank, catalog, evidence, journal, proctor, trust

    accounts.register(sub)  # user add|reset-password|disable|enable, contingent import
    catalog.register(sub)  # discipline add, session add
    bank.register(sub)  # bank import|export|list|publish|template|analysis
    journal.register(sub)  # grade calc, journal create|assign|list|relay
    evidence.register(sub)  # evidence verify|purge|rotate-key
    proctor.register(sub)  # proctor analyze|eval, proctor-worker
    trust.register(sub)  # audit verify|seal, receipt verify
    backup.register(sub)  # backup, restore
    assign.register(sub)  # assign proctors|faculty-head|department|department-head|discipline
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; whatever happens, end with one line and a documented exit code.

    Refusals carry their own code; a missing or unreadable file and a bad setting are 2;
    anything unexpected is one line and 1, with the traceback only when ``EXAM_DEBUG=1``.
    """
    from ..observability import configure_logging

    configure_logging()
    args = build_parser().parse_args(argv)
    lang = common.language(args)
    try:
        return int(args.func(args))
    except Refusal as refusal:
        common.say(lang, refusal.msgid, **refusal.params)
        return refusal.exit_code
    except DomainError as error:
        common.print_error(error, lang, getattr(args, "json", False))
        return 1
    except ConfigError as error:
        common.say(lang, N_("Configuration error: {problem}"), problem=str(error))
        return 2
    except FileNotFoundError as error:
        common.say(lang, N_("No such file: {path}"), path=error.filename or str(error))
        return 2
    except OSError as error:
        common.say(
            lang, N_("Cannot use {path}: {problem}"), path=error.filename or "-", problem=error.strerror or str(error)
        )
        return 2
    except KeyboardInterrupt:
        common.say(lang, N_("Interrupted."))
        return 130
    except Exception as error:  # noqa: BLE001 - the last resort: one line, never a traceback
        from proctor.errors import ProctorError
        from proctor.keys import KeyFileError

        if isinstance(error, KeyFileError):  # the evidence keyring: a configuration problem
            common.say(lang, error.msgid, **error.params)
            return 2
        if isinstance(error, ProctorError):  # e.g. evidence wrapped with a master key that is not configured
            common.say(lang, error.msgid, **error.params)
            return 1
        from sqlalchemy.exc import DBAPIError

        if isinstance(error, DBAPIError):  # no schema yet, or the database cannot be reached
            text = " ".join(str(error.orig).split())[:200]
            if "no such table" in text or "UndefinedTable" in type(error.orig).__name__:
                common.say(
                    lang,
                    N_("The database has no exam-engine schema yet ({problem}); run: exam-engine migrate."),
                    problem=text,
                )
            else:
                common.say(lang, N_("The database cannot be used: {problem}"), problem=text)
            return 2
        if os.environ.get("EXAM_DEBUG") == "1":
            log.exception("unexpected error in %s", getattr(args, "command", "?"))
        common.say(
            lang,
            N_("Unexpected error in «{command}»: {problem} (run with EXAM_DEBUG=1 to see the traceback)."),
            command=" ".join(sys.argv[1:3]) if argv is None else " ".join(argv[:2]),
            problem=f"{type(error).__name__}: " + " ".join(str(error).split())[:200],
        )
        return 1
