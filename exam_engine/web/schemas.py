"""JSON Schemas of request and response bodies, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from .. import bounds as b


def obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TS = {"type": "string", "format": "date-time"}
NULL_INT = {"type": ["integer", "null"]}
LANG = {"type": "string", "enum": ["kk", "ru"]}

OK = obj(["ok"], ok=BOOL)
TIME = obj(["server_now"], server_now=TS)
USER = obj(["id", "login", "role", "language"], id=INT, login=STR, full_name=STR, role=STR, language=LANG)
LOGIN = obj(["login", "password"], login=STR, password=STR)
SIGNED_IN = obj(["user", "csrf_token"], user=USER, csrf_token=STR, must_change_password=BOOL)
ME = obj(["user", "csrf_token"], user=USER, csrf_token=STR, must_change_password=BOOL)
PASSWORD_CHANGE = obj(["current", "new"], current=STR, new={"type": "string", "minLength": 8, "maxLength": 128})
LANGUAGE = obj(["language"], language=LANG)
START = obj(language=LANG)
ATTEMPT_SUMMARY = obj(
    ["id", "status", "deadline_at", "server_now", "remaining_s"],
    id={"type": "string", "format": "uuid"},
    exam_id=INT,
    language=LANG,
    status={"type": "string", "enum": ["checks", "in_progress", "paused", "submitted", "timed_out", "annulled"]},
    started_at=TS,
    deadline_at=TS,
    server_now=TS,
    remaining_s={"type": "number"},
    question_count=INT,
    submitted_at=TS,
    finished_by=STR,
    score=NULL_INT,
    correct_count=NULL_INT,
    receipt={"type": ["object", "null"], "description": "signed receipt of the stored answers (after submit)"},
    result={"type": ["string", "null"], "enum": ["passed", "unsatisfactory", None]},
    timeout_policy={"type": "string", "enum": ["unsatisfactory", "grade_saved"]},
)
QUESTION = obj(
    ["position", "text", "options"],
    position=INT,
    text=STR,
    options={"type": "array", "items": STR},
    choice=NULL_INT,
    seq=NULL_INT,
)
ATTEMPT_VIEW = obj(["attempt", "questions"], attempt=ATTEMPT_SUMMARY, questions={"type": "array", "items": QUESTION})
ANSWER = obj(["choice", "seq"], choice=b.ANSWER_CHOICE.schema(nullable=True), seq=b.SEQUENCE.schema())
RECEIPT = obj(
    ["attempt_id", "position", "seq", "saved_at", "applied", "digest"],
    attempt_id=STR,
    position=INT,
    choice=NULL_INT,
    seq=INT,
    saved_at=TS,
    applied=BOOL,
    digest=STR,
    server_now=TS,
)
STUDENT_EXAMS = obj(["exams"], exams={"type": "array", "items": {"type": "object"}}, server_now=TS)
NEW_USER = obj(["login", "full_name", "role"], login=STR, full_name=STR, role=STR, language=LANG, password=STR)
CREATED = obj(["id"], id=INT)
CREATED_USER = obj(["id", "login", "role"], id=INT, login=STR, role=STR, one_time_password={"type": ["string", "null"]})
DISCIPLINE = obj(["code", "name"], code=STR, name=STR, credits=b.CREDITS.schema())
EXAM_SESSION = obj(
    ["code", "name", "starts_on", "ends_on"],
    code=STR,
    name=STR,
    starts_on={"type": "string", "format": "date"},
    ends_on={"type": "string", "format": "date"},
)
BLUEPRINT = {
    "type": "array",
    "items": obj(
        ["count"],
        topic={"type": ["string", "null"]},
        difficulty=b.DIFFICULTY.schema(nullable=True),
        count=b.BLUEPRINT_COUNT.schema(),
    ),
}
EXAM = obj(
    [
        "title",
        "discipline",
        "session",
        "groups",
        "banks",
        "question_count",
        "duration_minutes",
        "opens_at",
        "closes_at",
    ],
    title=STR,
    discipline=STR,
    session=STR,
    groups={"type": "array", "items": STR},
    banks={"type": "object", "additionalProperties": b.BANK_VERSION_ID.schema()},
    question_count=b.QUESTION_COUNT.schema(),
    duration_minutes=b.DURATION_MINUTES.schema(),
    opens_at=TS,
    closes_at=TS,
    timeout_policy={"type": "string", "enum": ["unsatisfactory", "grade_saved"]},
    pass_score=b.PASS_SCORE.schema(),
    requires_proctoring=BOOL,
    blueprint=BLUEPRINT,
)
EXTRA_TIME = obj(
    ["student", "extra_minutes", "reason"], student=STR, extra_minutes=b.EXTRA_MINUTES.schema(), reason=STR
)
LIST = obj(["items"], items={"type": "array", "items": {"type": "object"}})
CONTINGENT_REPORT = obj(["created_users", "groups"], created_users={"type": "array"}, groups=INT, faculties=INT)
ERROR = obj(
    ["error"],
    error=obj(["code", "message"], code=STR, message=STR, details={"type": "array", "items": {"type": "object"}}),
)
