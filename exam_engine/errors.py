"""Domain errors: nouns with a stable code, mapped to HTTP in one middleware.

::

    DomainError                 (code, English msgid with {placeholders}, params)
    ├── NotFound          404
    ├── PermissionDenied  403
    ├── NotAuthenticated  401
    ├── Conflict          409   retake_forbidden, attempt_finished, ...
    ├── DeadlinePassed    409
    ├── InvalidInput      422   with field / line details
    ├── TooManyRequests   429   with Retry-After
    ├── RequestTimeout    408   the body did not arrive in time
    └── ServerBusy        503   with Retry-After: no connection (or turn) within its bound

The message is English (logs); the edge translates it with ``exam_engine.i18n``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, msgid: str, /, **params: Any) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.code = code
        self.msgid = msgid
        self.params = params
        self.details: list[dict[str, Any]] = []

    def with_details(self, details: list[dict[str, Any]]) -> DomainError:
        self.details = details
        return self


class NotAuthenticated(DomainError):
    status = 401


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class DeadlinePassed(Conflict):
    pass


class InvalidInput(DomainError):
    status = 422


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, code: str, msgid: str, /, retry_after: int = 60, **params: Any) -> None:
        super().__init__(code, msgid, retry_after=retry_after, **params)
        self.retry_after = retry_after


class RequestTimeout(DomainError):
    status = 408


class ServerBusy(DomainError):
    """A bounded wait ran out (the database pool, the fast-save turns): try again shortly."""

    status = 503

    def __init__(self, code: str, msgid: str, /, retry_after: int = 5, **params: Any) -> None:
        super().__init__(code, msgid, retry_after=retry_after, **params)
        self.retry_after = retry_after


class Refusal(Exception):
    """An operator command's refusal (``exam-engine`` CLI): an English msgid with placeholders,
    translated into EXAM_LANG by the CLI's entry point, and the exit code it ends with."""

    exit_code = 1

    def __init__(self, msgid: str, /, **params: Any) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params


class ConfigError(Exception):
    """A setting is missing or malformed; the server refuses to start."""
