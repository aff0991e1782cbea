"""Which HTTP status each error code answers with, read from the code that raises it.

The status of an error is its class's (``DomainError.status``: ``NotFound`` 404,
``InvalidInput`` 422, …; a journal error's is the class :func:`api_journal.domain_class`
turns it into) — the same attribute the error middleware answers with. The *code* is the
string literal the raising call passes (``InvalidInput("invalid_choice", …)``). So this
module reads the source of our packages once, finds every call of an error class with a
literal code, and maps the code to that class's status: the OpenAPI document then
files each route's declared refusals under the status they really get, and nobody keeps
a second table of statuses by hand.

A code raised through a variable is not seen here; :func:`_computed` names those few with
their class, reading the codes from where they are defined. ``tests/unit/test_openapi.py``
checks that every code a route declares is known, so a new or misspelt code fails there
rather than going undocumented.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DomainError
from .http import HTTP_REFUSALS

PACKAGES = ("exam_engine", "journal_bridge", "question_bank", "proctor", "admin_ui")

# Statuses aiohttp answers by itself; errors_middleware gives them these codes (http.HTTP_REFUSALS).
HTTP_CODES: dict[str, int] = {code: status for status, (code, _) in HTTP_REFUSALS.items()}


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _error_classes() -> dict[str, type[DomainError]]:
    """Every DomainError class by name (the modules that define them are imported by the app)."""
    from . import app  # noqa: F401 - registers the routes, importing every module that defines an error

    classes = {DomainError.__name__: DomainError}
    classes.update({c.__name__: c for c in _subclasses(DomainError)})
    return classes


def _computed() -> Iterator[tuple[str, type[DomainError]]]:
    """Codes raised through a variable, each read from where it is defined, with the class raised."""
    from journal_bridge import errors as journal_errors
    from journal_bridge.rules import Reason
    from question_bank.export import UnexportableItem
    from question_bank.parse import UnknownFormatError

    from ..bounds import OUT_OF_RANGE
    from ..errors import InvalidInput, NotAuthenticated, TooManyRequests
    from ..services.auth import BAD_CREDENTIALS, WAIT_CODES
    from .api_journal import domain_class

    yield BAD_CREDENTIALS[0], NotAuthenticated  # api_student.login
    yield OUT_OF_RANGE, InvalidInput  # bounds.Bound: every number a person types
    for code in WAIT_CODES:  # services.auth._wait: the sign-in throttle's refusals
        yield code, TooManyRequests
    yield UnknownFormatError.code, InvalidInput  # services.banks.check_file
    yield UnexportableItem.code, InvalidInput  # services.banks.export
    for reason in Reason:  # journal rules' refusals: CorrectionInvalid(str(decision.reason))
        yield reason.value, domain_class(journal_errors.CorrectionInvalid, reason.value)


def _journal_status(class_name: str, code: str) -> int | None:
    from journal_bridge import errors as journal_errors

    from .api_journal import domain_class

    cls = getattr(journal_errors, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, journal_errors.JournalError)):
        return None
    return domain_class(cls, code).status


def _calls(root: Path) -> Iterator[tuple[str, str]]:
    """(class name, literal code) of every call ``Name("code", …)`` or ``mod.Name("code", …)`` under ``root``."""
    for path in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except SyntaxError:  # pragma: no cover - our own sources parse
            continue
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name and name[:1].isupper():
                yield name, node.args[0].value


@functools.cache
def statuses() -> dict[str, frozenset[int]]:
    """Every error code we raise, with the status(es) it is answered with."""
    classes = _error_classes()
    found: dict[str, set[int]] = {code: {status} for code, status in HTTP_CODES.items()}
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for name, code in _calls(Path(next(iter(spec.submodule_search_locations)))):
            if name in classes:
                found.setdefault(code, set()).add(classes[name].status)
            elif (status := _journal_status(name, code)) is not None:
                found.setdefault(code, set()).add(status)
    for code, cls in _computed():
        found.setdefault(code, set()).add(cls.status)
    return {code: frozenset(s) for code, s in found.items()}


def status_of(code: str) -> frozenset[int]:
    """The statuses ``code`` is answered with; KeyError names a code nobody raises."""
    try:
        return statuses()[code]
    except KeyError:
        raise KeyError(f"error code {code!r} is declared on a route but raised nowhere") from None


# ---------------------------------------------------------------------------------------------- per handler

_OURS = ("exam_engine", "journal_bridge", "question_bank", "proctor", "admin_ui")
_DEPTH = 6


def handler_codes(handler: Callable[..., Any]) -> frozenset[str]:
    """The error codes a route's handler can raise, read from its source and the functions it calls.

    Follows calls by name (``helper(…)``, ``module.function(…)``) into our packages, a few levels
    deep, and collects the literal codes of the error classes raised on the way. Calls through an
    object (``runtime.store.verify(…)``) are not followed: what they raise is declared on the
    route. The refusals every signed-in route shares (``http.SIGNED_IN_ERRORS`` …) are left to
    the document's rules by kind of route, which know when they apply.
    """
    from .http import CSRF_ERRORS, PERMISSION_ERRORS, SIGNED_IN_ERRORS

    shared = {*SIGNED_IN_ERRORS, *CSRF_ERRORS, *PERMISSION_ERRORS}
    return frozenset(code for code in _reached(inspect.unwrap(handler), _DEPTH) if code not in shared)


@functools.cache
def _reached(fn: Callable[..., Any], depth: int) -> frozenset[str]:
    return frozenset(_walk(fn, depth, set()))


def _walk(fn: Any, depth: int, seen: set[Any]) -> set[str]:
    fn = inspect.unwrap(fn)
    if depth < 0 or fn in seen or not str(getattr(fn, "__module__", "")).startswith(_OURS):
        return set()
    seen.add(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return set()
    for node in tree.body:  # the source includes the decorators (``@endpoint(...)``): not what the function calls
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.decorator_list = []
    known = statuses()
    scope = getattr(fn, "__globals__", {})
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if (
            name
            and name[:1].isupper()
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in known
        ):
            found.add(node.args[0].value)
        target = scope.get(func.id) if isinstance(func, ast.Name) else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = scope.get(func.value.id)
            target = getattr(owner, func.attr, None) if isinstance(owner, types.ModuleType) else None
        if isinstance(target, types.FunctionType):
            found |= _walk(target, depth - 1, seen)
    return found
