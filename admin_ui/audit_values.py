"""The audit log's recorded values in the reader's words.

An audit entry stores what changed as JSON (``{"status": "paused", "remaining_s": 1200.0}``); the audit
page shows it as "Status: paused; Time left: 1200 s" in Kazakh or Russian: field names and the codes the
app knows (attempt states, results, roles, languages, time-out policies, yes/no) translated, moments as
dates in Almaty time, people by name. A field or code this module does not know is shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from exam_engine import api
from exam_engine.i18n import N_

from .admin import TIMEOUT_POLICIES
from .exam_day import ATTEMPT_STATUS_NAMES
from .pages import ROLE_NAMES

FIELD_NAMES = {
    "account_disabled": N_("Account disabled"),
    "is_active": N_("Sign-in allowed"),
    "open_attempts": N_("Exams being sat"),
    "sessions_ended": N_("Sessions ended"),
    "attempts": N_("Attempts"),
    "banks": N_("Question banks"),
    "blueprint": N_("Blueprint"),
    "camera": N_("Camera"),
    "changed_by": N_("Changed by"),
    "checks_started_at": N_("Checks started"),
    "closes_at": N_("Closes at"),
    "code": N_("Code"),  # a catalogue code; in a refused access, the reason (CODES["code"])
    "consent": N_("Consent"),
    "credits": N_("Credits"),
    "deadline_at": N_("Deadline"),
    "department": N_("Department"),
    "discipline": N_("Discipline"),
    "discipline_code": N_("Discipline"),
    "duration_s": N_("Duration"),
    "ends_on": N_("Last day"),
    "exam_id": N_("Exam"),
    "faculty": N_("Faculty"),
    "filed_by": N_("Filed by"),
    "flagged": N_("Questions held"),
    "full_name": N_("Full name"),
    "group_code": N_("Group"),
    "groups": N_("Groups"),
    "institution": N_("Institution"),
    "items": N_("Items"),
    "language": N_("Language"),
    "login": N_("Login"),
    "microphone": N_("Microphone"),
    "name": N_("Name"),
    "opens_at": N_("Opens at"),
    "pass_score": N_("Pass score"),
    "paused_s": N_("Paused for"),
    "period_code": N_("Academic period"),
    "prepared": N_("Prepared in advance"),
    "proctors": N_("Proctors"),
    "question_count": N_("Questions per student"),
    "reason": N_("Reason"),
    "assigned_at": N_("Assigned on"),
    "release_after": N_("Held until"),
    "remaining_s": N_("Time left"),
    "result": N_("Result"),
    "reviewed_by": N_("Reviewed by"),
    "role": N_("Role"),
    "score": N_("Score"),
    "session": N_("Exam session"),
    "started_at": N_("Started"),
    "starts_on": N_("First day"),
    "status": N_("Status"),
    "student_id": N_("Student"),
    "submitted_at": N_("Handed in"),
    "teacher_id": N_("Teacher"),
    "timeout_policy": N_("When time runs out"),
    "title": N_("Title"),
    "user_id": N_("Account"),
}
_LANGUAGES = {"kk": N_("Kazakh"), "ru": N_("Russian")}
_RESULTS = {"passed": N_("passed"), "unsatisfactory": N_("unsatisfactory")}
# The codes a field may hold, by field: shown in words.
CODES: dict[str, dict[str, str]] = {
    "status": {**ATTEMPT_STATUS_NAMES, "draft": N_("draft"), "published": N_("published")},
    "result": _RESULTS,
    "role": ROLE_NAMES,
    "language": _LANGUAGES,
    "timeout_policy": TIMEOUT_POLICIES,
    # Why a session was ended (``auth.session_ended``).
    "reason": {
        "session_limit": N_("too many open sessions: the oldest ended"),
        "signed_in_again": N_("another sign-in in the same browser"),
    },
    # A refused access (``access.denied``): why, in words.
    "code": {
        "forbidden": N_("the role may not do this"),
        "csrf_failed": N_("an expired form"),
        "foreign_origin": N_("a form from another site"),
        "account_disabled": N_("the account is disabled"),
        "password_change_required": N_("the one-time password is not changed yet"),
        "exam_not_found": N_("an exam outside the person's assignment"),
        "attempt_not_found": N_("an attempt outside the person's assignment"),
        "flag_not_found": N_("a flag outside the person's assignment"),
        "journal_not_found": N_("a journal outside the person's assignment"),
        "correction_not_found": N_("a correction outside the person's assignment"),
    },
}
# The fields that name a person by id (the page looks their names up).
PERSON_KEYS = ("teacher_id", "student_id", "user_id", "reviewed_by", "filed_by", "changed_by")
_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
LIMIT = 600


def values_text(value: Any, names: dict[str, str], language: str, when: Callable[[str], str]) -> str:
    """``value`` (a recorded ``before`` or ``after``) as one line; "" when nothing was recorded."""
    if value in (None, {}, []):
        return ""
    text = _render(value, None, names, language, when)
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"


def _render(value: Any, field: str | None, names: dict[str, str], language: str, when: Callable[[str], str]) -> str:
    def word(msgid: str) -> str:
        return api.translate(language, msgid)

    if isinstance(value, dict):
        parts = []
        for key, inner in sorted(value.items()):
            label = word(FIELD_NAMES[key]) if key in FIELD_NAMES else word(_LANGUAGES.get(key, key))
            parts.append(f"{label}: {_render(inner, key, names, language, when)}")
        return "; ".join(parts)
    if isinstance(value, list):
        return ", ".join(_render(v, field, names, language, when) for v in value) if value else "—"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return word(N_("yes") if value else N_("no"))
    if field is not None and field.endswith("_s") and isinstance(value, int | float):
        return api.translate(language, N_("{seconds} s"), seconds=round(value))
    if field in CODES and str(value) in CODES[field]:
        return word(CODES[field][str(value)])
    if field in PERSON_KEYS and str(value) in names and names[str(value)] != str(value):
        return f"{names[str(value)]} ({value})"
    if isinstance(value, str) and _MOMENT.match(value):
        try:
            return when(value)
        except ValueError:
            return value
    return str(value)
