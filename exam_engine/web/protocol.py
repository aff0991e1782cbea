"""aiohttp's own refusals — a request it cannot parse, an unhandled error — in the reader's language.

aiohttp answers a request line or URL over 8,190 bytes, a header line over 8,190 bytes, more than 128
headers, a malformed request line or header and a bad ``Content-Length``/chunked framing itself, before
any route runs, with an English plain-text 400 that quotes the client's bytes; and an exception no
middleware caught with an English "500 Internal Server Error". Its one place for both is
``RequestHandler.handle_error``: :class:`GuardedHandler` (the request handler :class:`CappedServer`
builds for every connection) answers instead with the precise refusal — ``414 url_too_long``,
``431 headers_too_large``, ``400 bad_request_line`` / ``bad_header`` / ``bad_body_framing``,
``500 internal_error`` — as JSON under ``/api/`` and a small page elsewhere, in Kazakh or Russian, and
logs it in English on one line (no traceback, the client's bytes cut short, at most one line every
:data:`LOG_EVERY_S` with the count of the others).

A request that could not be parsed has no headers to read the language from: the handler keeps what
arrived of the head not yet complete (references to the chunks, at most :data:`HEAD_KEPT`, forgotten
once the head is parsed), and on such a refusal reads the
request's path, its ``lang`` query or cookie and ``Accept-Language`` from them (Kazakh when none
arrived). A chunked body that turns out malformed while its route is already reading it used to leave
the route waiting for the rest until the body deadline (then ``408 body_timeout``): the route's body
now fails at once with the parse error (``bad_body_framing``, see :func:`http.within_deadline`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import logging
import re
import time
from typing import Any

from aiohttp import http_exceptions, web, web_fileresponse, web_protocol
from aiohttp.streams import EMPTY_PAYLOAD as EMPTY

from ..i18n import N_, normalise_language, translate
from .http import BAD_BODY_FRAMING, BODY_TIMEOUT, SECURITY_HEADERS, BodyFramingError, dumps, request_language

log = logging.getLogger(__name__)

# Static files went out by sendfile(2), which bypasses the transport's buffers and so the write deadline of
# GuardedHandler.pause_writing: a client that never read a stylesheet held its connection for ever. Through
# the transport they are written in chunks like any answer (the files are tens of kilobytes; aiohttp reads
# this module global at each file answer, as AIOHTTP_NOSENDFILE=1 would set it).
setattr(web_fileresponse, "NOSENDFILE", True)  # noqa: B010 - a Final of aiohttp's, changed on purpose

LOG_EVERY_S = 10.0
HEAD_KEPT = 64 * 1024
"""Bytes of an incomplete head a connection keeps (as references to what it received) to answer a refusal."""
MAX_LINE = 8190
"""aiohttp's bound on the request line and on one header line (``max_line_size``, ``max_field_size``)."""
MAX_HEADERS = 128
"""aiohttp's bound on the number of headers (``max_headers``)."""

# code: (status, message)
REFUSALS: dict[str, tuple[int, str]] = {
    "url_too_long": (
        414,
        N_(
            "The address of the request is too long (more than {limit} characters). "
            "Open the page again from the start page."
        ),
    ),
    "headers_too_large": (
        431,
        N_(
            "The request's headers are too large (a line over {limit} bytes, or more than {count} headers). "
            "Delete this site's cookies in the browser and sign in again."
        ),
    ),
    "bad_request_line": (
        400,
        N_("The first line of the request is not a valid HTTP request line. The request was not processed."),
    ),
    "bad_header": (
        400,
        N_("A header of the request is malformed or repeated. The request was not processed."),
    ),
    "bad_body_framing": (400, BAD_BODY_FRAMING),
    "head_timeout": (408, BODY_TIMEOUT),
    "internal_error": (
        500,
        N_(
            "The server could not complete the request; the error is recorded. "
            "Try again; if it happens again, tell the proctor or the administrator."
        ),
    ),
}
HEADING = N_("The request was refused")
# The page carries its own style: the stylesheet's request would be refused as well when it is the browser's
# cookies that are too large. Allowed by its hash only (the site's policy allows no inline style).
PAGE_STYLE = (
    'body{margin:0;font-family:"DejaVu Sans","Noto Sans",Arial,sans-serif;line-height:1.5;color:#1b1f24;'
    "background:#f6f7f9}.top{padding:.75rem 1.25rem;background:#0b5cad}.top a{color:#fff;font-weight:bold;"
    "text-decoration:none;font-size:1.15rem}main{padding:1.25rem}.card{background:#fff;border:1px solid #c9ced6;"
    "border-radius:.5rem;padding:1.25rem;max-width:30rem;margin:1rem auto}a{color:#0b5cad}"
)
PAGE_POLICY = SECURITY_HEADERS["Content-Security-Policy"].replace(
    "style-src 'self'",
    "style-src 'sha256-" + base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode() + "'",
)
BACK = N_("Back to the start page")

_REQUEST_LINE = re.compile(rb"(?:^|\n)(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (/[^\s?]*)(\?[^\s]*)?")
_LANG_QUERY = re.compile(rb"[?&]lang=([a-zA-Z]{2})")
_ACCEPT_LANGUAGE = re.compile(rb"\nAccept-Language:[ \t]*([^\r\n]{0,200})", re.IGNORECASE)
_LANG_COOKIE = re.compile(rb"\nCookie:[^\r\n]*?(?:^|[ ;:])lang=([a-zA-Z]{2})", re.IGNORECASE)


class HeadTimeout(http_exceptions.HttpProcessingError):
    """The request's head was not complete within its deadline (raised by no parser: :class:`GuardedHandler`)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(code=408, message=f"the request head was not complete within {seconds:g} s")
        self.seconds = seconds


def classify(exc: BaseException, raw: bytes) -> str:
    """The refusal's code for aiohttp's parse error ``exc``; ``raw``: the bytes the request came in."""
    if isinstance(exc, HeadTimeout):
        return "head_timeout"
    text = str(exc)
    if isinstance(exc, http_exceptions.LineTooLong):
        head = _request_head(raw)
        line_end = head.find(b"\n")
        return "url_too_long" if line_end < 0 or line_end > MAX_LINE else "headers_too_large"
    if "Too many headers" in text:
        return "headers_too_large"
    if isinstance(exc, (http_exceptions.BadStatusLine, http_exceptions.InvalidURLError)):
        return "bad_request_line"
    lowered = text.lower()
    if isinstance(exc, http_exceptions.PayloadEncodingError) or any(
        word in lowered for word in ("chunk", "content-length", "transfer-encoding", "content length")
    ):
        return "bad_body_framing"
    return "bad_header"


def _request_head(raw: bytes) -> bytes:
    """The raw bytes from the start of the last request line in ``raw`` (all of it when none is found)."""
    last = next(reversed(list(_REQUEST_LINE.finditer(raw))), None)
    if last is None:
        return raw
    start = last.start()
    return raw[start + 1 :] if raw[start : start + 1] == b"\n" else raw[start:]


def where_and_language(raw: bytes) -> tuple[str | None, str]:
    """The path and the reader's language of the request whose head is in ``raw`` (best effort: a
    ``lang`` query, then the ``lang`` cookie, then ``Accept-Language``, as for any page)."""
    head = _request_head(raw)
    found = _REQUEST_LINE.match(head)
    path = found.group(1).decode("latin-1") if found else None
    query = found.group(2) or b"" if found else b""
    end = head.find(b"\r\n\r\n")
    headers = head[: end if end >= 0 else len(head)]
    language = None
    if (m := _LANG_QUERY.search(query)) is not None:
        language = m.group(1).decode()
    elif (m := _LANG_COOKIE.search(headers)) is not None:
        language = m.group(1).decode()
    elif (m := _ACCEPT_LANGUAGE.search(headers)) is not None:
        language = m.group(1).decode("latin-1")
    return path, normalise_language(language)


def refusal(code: str, path: str | None, language: str, seconds: float = 0) -> web.Response:
    """The answer: JSON under ``/api/``, a small page anywhere else (the connection is closed after it)."""
    status, msgid = REFUSALS[code]
    message = translate(language, msgid, limit=MAX_LINE, count=MAX_HEADERS, seconds=round(seconds))
    if path is not None and path.startswith("/api/"):
        response = web.Response(
            status=status,
            text=dumps({"error": {"code": code, "message": message}}),
            content_type="application/json",
        )
    else:
        heading, back = translate(language, HEADING), translate(language, BACK)
        page = (
            f'<!doctype html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(heading)} · exam-engine</title>\n"
            f"<style>{PAGE_STYLE}</style>\n</head>\n<body>\n"
            '<header class="top"><a class="brand" href="/">exam-engine</a></header>\n'
            f'<main id="main"><section class="card narrow"><h1>{html.escape(heading)}</h1>'
            f'<p role="alert" data-code="{code}">{html.escape(message)}</p>\n'
            f'<p><a href="/">{html.escape(back)}</a></p></section></main>\n</body>\n</html>\n'
        )
        response = web.Response(status=status, text=page, content_type="text/html")
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["Cache-Control"] = "no-store"
    response.force_close()
    return response


def one_line(exc: BaseException) -> str:
    """aiohttp's parse error on one line, the client's bytes cut short (for the log)."""
    return " ".join(str(exc).split())[:160]


class _LogGate:
    """At most one refusal logged every :data:`LOG_EVERY_S` (a flood of garbage must not fill the disk)."""

    def __init__(self) -> None:
        self.at = -LOG_EVERY_S
        self.quiet = 0

    def log(self, code: str, peer: str | None, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self.at < LOG_EVERY_S:
            self.quiet += 1
            return
        detail = one_line(exc)
        log.warning(
            "refused a request from %s that could not be parsed: %s (%s: %s)%s",
            peer,
            code,
            type(exc).__name__,
            detail,
            f"; {self.quiet} more since the last such line" if self.quiet else "",
        )
        self.at, self.quiet = now, 0


GATE = _LogGate()


class _WriteGate:
    """Dropped readers logged at most every :data:`LOG_EVERY_S`, with the count of the others."""

    def __init__(self) -> None:
        self.at = -LOG_EVERY_S
        self.quiet = 0

    def log(self, peer: Any, seconds: float) -> None:
        now = time.monotonic()
        if now - self.at < LOG_EVERY_S:
            self.quiet += 1
            return
        log.warning(
            "dropped a connection from %s that read none of its answer for %g s%s",
            peer,
            seconds,
            f"; {self.quiet} more since the last such line" if self.quiet else "",
        )
        self.at, self.quiet = now, 0


WRITE_GATE = _WriteGate()


class GuardedHandler(web_protocol.RequestHandler):
    """aiohttp's request handler, answering its own refusals in the reader's language (see the module)."""

    head_timeout_s = 0.0
    """``EXAM_HEADER_TIMEOUT_S`` (set by the server; 0: aiohttp's keep-alive timer alone, 75 s)."""
    write_timeout_s = 0.0
    """How long an answer may wait for a client that does not read it (``EXAM_BODY_TIMEOUT_S``; 0: for ever)."""
    _head_parts: list[bytes]
    _head_size = 0
    _reading: Any = None  # the payload of the request whose body is being received
    _head_timer: asyncio.TimerHandle | None = None
    _write_timer: asyncio.TimerHandle | None = None

    def pause_writing(self) -> None:
        """The socket's buffers are full: the client is not reading. Once they stay full for
        :attr:`write_timeout_s`, the connection is dropped, which ends the handler's wait to write (it waited
        for ever: a client that never read its answers held its slot, its task and the answer's bytes)."""
        super().pause_writing()
        if self.write_timeout_s > 0 and self._write_timer is None:
            self._write_timer = self._loop.call_later(self.write_timeout_s, self._write_stalled)

    def resume_writing(self) -> None:
        self._disarm_write_deadline()
        super().resume_writing()

    def _disarm_write_deadline(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_stalled(self) -> None:
        self._write_timer = None
        if self.transport is None or not self.writing_paused:
            return
        WRITE_GATE.log(self.transport.get_extra_info("peername"), self.write_timeout_s)
        self.transport.abort()  # connection_lost follows: the handler's drain fails, the slot is freed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._head_parts = []
        super().connection_made(transport)
        self._arm_head_deadline()  # the first request's head, from the connection's opening

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_deadline()
        self._disarm_write_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        if self._head_timer is None and self.head_timeout_s > 0:
            self._head_timer = self._loop.call_later(self.head_timeout_s, self._head_late)

    def _disarm_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        """The head's deadline passed: a 408 for a head begun (through :meth:`handle_error`, in the reader's
        language), the socket closed if nothing came; never while a request is being handled."""
        self._head_timer = None
        if self.transport is None or self._force_close or self._messages or self._request_in_progress:
            return
        if not self._head_size:
            self.force_close()  # nothing at all came on this connection: no one to answer
            return
        self._messages.append(
            (web_protocol._ErrInfo(status=408, exc=HeadTimeout(self.head_timeout_s), message=""), EMPTY)
        )
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._payload_parser is not None or self._upgraded:
            super().data_received(data)
            return
        body_open = self._reading is not None and not self._reading.is_eof()
        if not body_open and self._head_size < HEAD_KEPT:
            self._head_parts.append(data)  # a reference: the head's bytes, read again only for a refusal
            self._head_size += len(data)
        before = len(self._messages)
        super().data_received(data)
        if len(self._messages) == before:
            if data and not body_open and not self._request_in_progress:
                self._arm_head_deadline()  # bytes of a head not yet complete (a kept-alive connection's next)
            return
        self._disarm_head_deadline()
        if not any(isinstance(self._messages[i][0], web_protocol._ErrInfo) for i in range(before, len(self._messages))):
            self._head_parts, self._head_size = [], 0  # the head is complete: forget it
        for index in range(before, len(self._messages)):
            message, payload = self._messages[index]
            if not isinstance(message, web_protocol._ErrInfo):
                self._reading = payload
                continue
            reading = self._reading
            if reading is not None and not reading.is_eof() and message.exc is not None:
                # The body of a request already handed to its route is malformed (a bad chunk): the
                # route's read fails now with the parse error, rather than waiting for the deadline,
                # and no second answer is written for it.
                del self._messages[index]
                reading.set_exception(BodyFramingError(message=one_line(message.exc)))
                reading.feed_eof()  # nothing more to read: no lingering over a body that cannot be parsed
                self.close()
                return

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # part of an answer went out already: nothing more can be said
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, http_exceptions.HttpProcessingError):
            raw = b"".join(self._head_parts)
            code = classify(exc, raw)
            path, language = where_and_language(raw)
            GATE.log(code, request.remote, exc)
            return refusal(code, path, language, seconds=getattr(exc, "seconds", 0))
        self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        return refusal("internal_error", request.path, request_language(request))  # type: ignore[arg-type]
