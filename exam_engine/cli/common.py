"""What every command of ``exam-engine`` shares: who acts, in which language, and how a command runs.

A command module (``bank``, ``journal``, ``assign``…) imports only this module of the package:
never another command module, never :mod:`exam_engine.cli.dispatch` (an import contract checks it).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ..bootstrap import Services, build_services
from ..config import load_settings
from ..domain.actors import Actor, cli_actor
from ..errors import DomainError
from ..i18n import normalise_language, translate

ServicesCommand = Callable[[Services], Awaitable[int]]


def actor() -> Actor:
    """The operator, audited as ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = str(os.getuid())
    return cli_actor(user)


def language(args: argparse.Namespace) -> str:
    """The language of messages: ``--lang`` before the command, else ``EXAM_LANG``, else kk."""
    return normalise_language(getattr(args, "lang", None) or os.environ.get("EXAM_LANG"))


def say(lang: str, msgid: str, **params: Any) -> None:
    """One message for the operator, translated, on standard error."""
    print(translate(lang, msgid, **params), file=sys.stderr)


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def print_error(error: DomainError, lang: str, as_json: bool) -> None:
    """A refusal as the API words it: JSON on standard output with ``--json``, else lines on standard error."""
    if as_json:
        from ..web.http import error_body

        print(json.dumps(error_body(error, lang), ensure_ascii=False, indent=2))
        return
    from ..web.http import render_detail

    print(translate(lang, error.msgid, **error.params), file=sys.stderr)
    for d in error.details:
        print("  - " + render_detail(lang, d), file=sys.stderr)


async def with_services(fn: ServicesCommand, *, migrate: bool = False) -> int:
    """``fn`` with the installation's services (the schema upgraded first when ``migrate``), closed after."""
    from ..migrate import upgrade

    services = build_services(load_settings())
    try:
        if migrate:
            await upgrade(services.engine)
        return await fn(services)
    finally:
        await services.close()


def run(args: argparse.Namespace, fn: ServicesCommand, *, migrate: bool = False) -> int:
    """Run ``fn(services)`` to its exit code; a refusal is printed in the operator's language and is 1."""
    lang = language(args)
    try:
        return asyncio.run(with_services(fn, migrate=migrate))
    except DomainError as error:
        print_error(error, lang, getattr(args, "json", False))
        return 1
