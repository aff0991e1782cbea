"""The exam server's public surface for the pages (admin_ui): nothing deeper is imported there."""

from __future__ import annotations

from .domain.actors import Actor
from .domain.roles import Permission, Role, allows
from .errors import DomainError, NotAuthenticated, PermissionDenied
from .i18n import LANGUAGES, gettext, normalise_language, translate
from .services import attempts as attempt_service
from .services import auth as auth_service
from .web.http import (
    ACTOR,
    SERVICES,
    SESSION,
    SESSION_COOKIE,
    authenticate,
    client_ip,
    dumps,
    error_body,
    render_detail,
    request_language,
    services_of,
)

__all__ = [
    "ACTOR",
    "LANGUAGES",
    "SERVICES",
    "SESSION",
    "SESSION_COOKIE",
    "Actor",
    "DomainError",
    "NotAuthenticated",
    "Permission",
    "PermissionDenied",
    "Role",
    "allows",
    "attempt_service",
    "auth_service",
    "authenticate",
    "client_ip",
    "dumps",
    "error_body",
    "gettext",
    "normalise_language",
    "render_detail",
    "request_language",
    "services_of",
    "translate",
]
