"""The exam server's public surface for the pages (admin_ui): nothing deeper is imported there."""

from __future__ import annotations

from .domain.actors import Actor
from .domain.roles import Permission, Role, allows, role_name
from .errors import DomainError, NotAuthenticated, PermissionDenied, TooManyRequests
from .i18n import LANGUAGES, gettext, normalise_language, translate
from .services import attempts as attempt_service
from .services import auth as auth_service
from .web.http import (
    ACTOR,
    PAGE_REFUSAL,
    PASSWORD_CHANGE_PAGE,
    SERVICES,
    SESSION,
    SESSION_COOKIE,
    authenticate,
    client_ip,
    same_origin,
    set_language_cookie,
    set_session_cookie,
    set_session_cookies,
    sign_in,
    dumps,
    error_body,
    render_detail,
    request_language,
    services_of,
)

__all__ = [
    "ACTOR",
    "LANGUAGES",
    "PAGE_REFUSAL",
    "PASSWORD_CHANGE_PAGE",
    "SERVICES",
    "SESSION",
    "SESSION_COOKIE",
    "Actor",
    "DomainError",
    "NotAuthenticated",
    "Permission",
    "PermissionDenied",
    "TooManyRequests",
    "role_name",
    "Role",
    "allows",
    "attempt_service",
    "auth_service",
    "authenticate",
    "client_ip",
    "same_origin",
    "set_language_cookie",
    "set_session_cookie",
    "set_session_cookies",
    "sign_in",
    "dumps",
    "error_body",
    "gettext",
    "normalise_language",
    "render_detail",
    "request_language",
    "services_of",
    "translate",
]

# The quality department's and the journal's pages (admin_ui/quality.py, admin_ui/journal.py): the same
# use cases and journal helpers the JSON API uses, so a page shows exactly what the API answers.
from .services import bank_analysis, bank_views  # noqa: E402
from .services import holds as hold_service  # noqa: E402
from .services import banks as bank_service  # noqa: E402
from .services.catalog import list_exams, user_id_by_login  # noqa: E402
from .web.api_journal import as_domain_error as journal_error  # noqa: E402
from .web.api_journal import audit_sink as journal_audit_sink  # noqa: E402
from .web.api_journal import catalog_names as journal_catalog_names  # noqa: E402
from .web.api_journal import journal_actor  # noqa: E402
from .web.api_journal import my_results as student_journal_results  # noqa: E402
from .web.api_journal import results_without_journal  # noqa: E402
from .web.api_journal import roster as journal_roster  # noqa: E402

__all__ += [
    "bank_analysis",
    "bank_service",
    "bank_views",
    "hold_service",
    "journal_actor",
    "journal_audit_sink",
    "journal_catalog_names",
    "journal_error",
    "journal_roster",
    "list_exams",
    "results_without_journal",
    "student_journal_results",
    "user_id_by_login",
]

# The proctoring pages (admin_ui/proctoring.py): capture settings for the student's pages, the review use cases.
from .services import proctor_review as proctor_review_service  # noqa: E402
from .services import proctoring as proctor_capture  # noqa: E402
from .services import recording as recording_service  # noqa: E402 - the video recording's segments (issue 21)

__all__ += ["proctor_capture", "proctor_review_service", "recording_service"]

# The academic admin's and the sysadmin's pages (admin_ui/admin.py): accounts, contingent, catalog, exams, health.
from journal_bridge.collation import kazakh_sort_key  # noqa: E402 - people are listed in Kazakh order
from . import tables  # noqa: E402 - read-only listings the services do not offer (disciplines, groups, sessions)
from .security.signing import verifier_for  # noqa: E402
from .services import catalog as catalog_service  # noqa: E402
from .services import contingent as contingent_service  # noqa: E402
from .services import users as user_service  # noqa: E402
from .services.audit_seal import verify_database as verify_audit_chain  # noqa: E402

__all__ += [
    "catalog_service",
    "contingent_service",
    "kazakh_sort_key",
    "tables",
    "user_service",
    "verifier_for",
    "verify_audit_chain",
]
from proctor.kinds import TITLES as flag_titles  # noqa: E402

__all__ += ["flag_titles"]

# The exam-day page (issue 20): the live view, its actions, the day's exams and names for actor labels.
from .services import live_board  # noqa: E402
from .services import live_control  # noqa: E402
from .services import live_view  # noqa: E402

# The student's pages (issue 20): the device cookie the attempt is bound to, the warning rule, the checks.
from .domain.attempts import WARN_AT_S, time_warning  # noqa: E402
from .services import attempt_checks  # noqa: E402
from .web.http import device_key, ensure_device_cookie  # noqa: E402

__all__ += [
    "WARN_AT_S",
    "attempt_checks",
    "device_key",
    "ensure_device_cookie",
    "live_board",
    "live_control",
    "live_view",
    "time_warning",
]

# Authority in one place (issue 19): the pages run the API's check before their handlers.
from .domain.roles import Kind  # noqa: E402
from .errors import InvalidInput, NotFound  # noqa: E402
from .services import assignments as assignment_service  # noqa: E402
from .services import authority  # noqa: E402
from .services.authority import OutOfReach, authorize  # noqa: E402
from .web.api_journal import journal_actor_for  # noqa: E402
from .web.http import _audit_denial as audit_denial  # noqa: E402
from .web.http import resource_of  # noqa: E402

__all__ += [
    "InvalidInput",
    "Kind",
    "NotFound",
    "OutOfReach",
    "assignment_service",
    "audit_denial",
    "authority",
    "authorize",
    "journal_actor_for",
    "resource_of",
]

# The deputy head's page of exam-result corrections (admin_ui/result_corrections.py): the bridge's key
# that verifies the signed result again when a correction is approved.
from .services.relay import bridge_keys as journal_bridge_keys  # noqa: E402

__all__ += ["journal_bridge_keys"]
