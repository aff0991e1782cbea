"""Refusals that must be kept: answer the 409 *after* the transaction commits.

The ``endpoint`` wrapper rolls back when a handler raises. A request on an attempt from
another session is refused *and recorded* (``attempt_binding.enforce`` writes the record,
then raises), so the routes of an attempt are wrapped with :func:`keep_refusals`: the
error becomes the response, the wrapper commits the record, and then the 409 is sent.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..services.attempt_binding import AttemptOpenElsewhere
from ..services.attempt_checks import ChecksIncomplete
from .http import error_response

Handler = Callable[..., Awaitable[Any]]


def keep_refusals(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request, conn: Any, actor: Any) -> Any:
        try:
            return await handler(request, conn, actor)
        except (AttemptOpenElsewhere, ChecksIncomplete) as refused:  # a failed check is counted too
            return error_response(refused, actor.language)

    return wrapped
