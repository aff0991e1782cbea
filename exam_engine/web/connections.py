"""At most so many client connections per process: a flood of idle sockets gets 503, not the process's files.

Every connection is an open file. Past the process's open-file limit nothing can be opened — not a
database connection, not an evidence file — and asyncio's accept loop logs a traceback for every
try, thousands a second. So a connection beyond ``EXAM_MAX_CONNECTIONS`` (by default the open-file
limit less :data:`FILE_RESERVE`) is answered at once with the JSON ``503 server_busy`` and
``Retry-After`` (the exam page sends again) and closed; the refusals are logged at most every
:data:`LOG_EVERY_S`, counted. Connections already open — a student writing — go on.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
import warnings
from typing import Any

from aiohttp import web

from ..i18n import DEFAULT_LANGUAGE
from .http import BUSY_RETRY_AFTER_S, dumps, error_body, server_busy
from .protocol import GuardedHandler

log = logging.getLogger(__name__)

FILE_RESERVE = 256
"""Open files kept for what is not a client connection: database pools, Redis, evidence and log files."""
LOG_EVERY_S = 10.0


def connection_cap(configured: int) -> int:
    """``EXAM_MAX_CONNECTIONS``, or the open-file limit less the reserve (at least 16)."""
    if configured > 0:
        return configured
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 100_000
    return max(16, soft - FILE_RESERVE)


def raise_file_limit(most: int = 65_536) -> int:
    """Raise this process's soft open-file limit towards its hard limit (systemd starts services at 1,024);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = most if hard == resource.RLIM_INFINITY else min(hard, most)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return wanted
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d to %d", soft, wanted)
    return soft


def _busy_response() -> bytes:
    body = dumps(error_body(server_busy(), DEFAULT_LANGUAGE)).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Retry-After: {BUSY_RETRY_AFTER_S}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class _Refused(asyncio.Protocol):
    """A connection beyond the cap: the refusal, then closed (it never holds a request handler)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(BUSY)
        transport.close()


BUSY = _busy_response()


class CappedServer(web.Server):
    """aiohttp's server (one per runner), refusing connections beyond ``max_connections``."""

    max_connections = 0
    header_timeout_s = 0.0
    write_timeout_s = 0.0
    _refused = 0
    _logged_at = 0.0

    def __call__(self) -> Any:
        if self.max_connections and len(self._connections) >= self.max_connections:
            self._refused += 1
            now = time.monotonic()
            if now - self._logged_at >= LOG_EVERY_S:
                log.warning(
                    "%d connections refused: %d open, the most this process holds (EXAM_MAX_CONNECTIONS)",
                    self._refused,
                    len(self._connections),
                )
                self._refused, self._logged_at = 0, now
            return _Refused()
        handler = GuardedHandler(self, loop=self._loop, **self._kwargs)
        handler.head_timeout_s = self.header_timeout_s
        handler.write_timeout_s = self.write_timeout_s
        return handler


# aiohttp discourages subclassing its Application (a warning at class creation): this one only changes the
# class of the server its runner asks it for, in the one place aiohttp builds it (``_make_handler``, used
# by ``run_app`` and the test servers alike); tests/attack/test_connection_flood.py fails if that changes.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)

    class CappedApplication(web.Application):
        """The application whose runner's server caps its connections (see :class:`CappedServer`)."""

        ATTRS = web.Application.ATTRS | {"max_connections", "header_timeout_s", "write_timeout_s"}
        max_connections = 0
        header_timeout_s = 0.0
        write_timeout_s = 0.0

        def _make_handler(self, **kwargs: Any) -> web.Server:
            server = super()._make_handler(**kwargs)
            server.__class__ = CappedServer  # the same object, with the cap
            server.max_connections = self.max_connections  # type: ignore[attr-defined]
            server.header_timeout_s = self.header_timeout_s  # type: ignore[attr-defined]
            server.write_timeout_s = self.write_timeout_s  # type: ignore[attr-defined]
            return server
