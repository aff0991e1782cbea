"""Roles and the permission matrix, in one place (R2, R3, R4).

Every protected action names a :class:`Permission`; every role lists what it may
do. The technical system administrator operates the system but holds no
permission that changes academic data (R3); a test walks the whole matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from ..i18n import N_, Word


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    PROCTOR = "proctor"
    QUALITY = "quality"
    METHODOLOGIST = "methodologist"
    DEPARTMENT_HEAD = "department_head"
    FACULTY_HEAD = "faculty_head"
    DEPUTY_HEAD = "deputy_head"
    ACADEMIC_ADMIN = "academic_admin"
    SYSADMIN = "sysadmin"


# What a person reads for a role (the codes above are never shown): the same words as the staff pages.
ROLE_NAMES: Mapping[Role, str] = {
    Role.STUDENT: N_("student"),
    Role.TEACHER: N_("teacher"),
    Role.PROCTOR: N_("proctor"),
    Role.QUALITY: N_("quality department"),
    Role.METHODOLOGIST: N_("methodologist"),
    Role.DEPARTMENT_HEAD: N_("head of department"),
    Role.FACULTY_HEAD: N_("faculty head"),
    Role.DEPUTY_HEAD: N_("deputy head"),
    Role.ACADEMIC_ADMIN: N_("academic administrator"),
    Role.SYSADMIN: N_("system administrator"),
}


def role_name(role: Role | str) -> Word:
    """A role as a message parameter, translated into the reader's language when the message is."""
    return Word(ROLE_NAMES[Role(role)])


class Permission(StrEnum):
    # Sitting exams.
    SIT_EXAM = "sit_exam"
    # Operating the system (no academic data).
    MANAGE_ACCOUNTS = "manage_accounts"
    # Disable or enable a person's sign-in (a dismissed officer, a leaked password): an operator's
    # access decision that changes no academic data, so the system administrator holds it too (R3).
    DISABLE_ACCOUNTS = "disable_accounts"
    VIEW_HEALTH = "view_health"
    # Academic data.
    MANAGE_CATALOG = "manage_catalog"  # faculties, groups, disciplines, exam sessions, contingent
    MANAGE_EXAMS = "manage_exams"
    VIEW_EXAMS = "view_exams"
    VIEW_RESULTS = "view_results"
    MANAGE_BANKS = "manage_banks"
    READ_BANK_CONTENT = "read_bank_content"
    PROCTOR_REVIEW = "proctor_review"
    VIEW_AUDIT = "view_audit"
    # The journal (journal_bridge): which journal a teacher keeps is decided by its rules (R4, J7).
    KEEP_JOURNAL = "keep_journal"  # enter grades, add lessons, file corrections in assigned journals
    VIEW_JOURNALS = "view_journals"  # read every journal, its history, statements and statistics (J9, J11)
    REVIEW_CORRECTIONS = "review_corrections"  # the rules say which role reviews which correction (J6)
    GRANT_SUBSTITUTE = "grant_substitute"  # the faculty head's written permission (J7)
    MANAGE_JOURNALS = "manage_journals"  # create journals, assign teachers, lock an academic period (J5)
    VIEW_OWN_RESULTS = "view_own_results"
    # Exam day (issue 10): the live view and its actions (pause, resume, extra minutes, terminate, device move).
    LIVE_CONTROL = "live_control"


# Which permissions change academic data: sysadmin must hold none of them (R3).
ACADEMIC_PERMISSIONS: frozenset[Permission] = frozenset(
    {
        Permission.MANAGE_CATALOG,
        Permission.MANAGE_EXAMS,
        Permission.MANAGE_BANKS,
        Permission.PROCTOR_REVIEW,
        Permission.SIT_EXAM,
        Permission.MANAGE_ACCOUNTS,
        Permission.KEEP_JOURNAL,
        Permission.REVIEW_CORRECTIONS,
        Permission.GRANT_SUBSTITUTE,
        Permission.MANAGE_JOURNALS,
        Permission.LIVE_CONTROL,
    }
)

# Added to the matrix below: who keeps, reads and supervises the journal.
_JOURNAL_RIGHTS: Mapping[str, frozenset[Permission]] = {
    "student": frozenset({Permission.VIEW_OWN_RESULTS}),
    "teacher": frozenset({Permission.KEEP_JOURNAL}),
    "quality": frozenset({Permission.VIEW_JOURNALS}),
    "methodologist": frozenset({Permission.VIEW_JOURNALS}),
    "department_head": frozenset({Permission.VIEW_JOURNALS}),
    "faculty_head": frozenset({Permission.VIEW_JOURNALS, Permission.REVIEW_CORRECTIONS, Permission.GRANT_SUBSTITUTE}),
    "deputy_head": frozenset({Permission.VIEW_JOURNALS, Permission.REVIEW_CORRECTIONS}),
    "academic_admin": frozenset({Permission.VIEW_JOURNALS, Permission.MANAGE_JOURNALS}),
}

MATRIX: Mapping[Role, frozenset[Permission]] = {
    Role.STUDENT: frozenset({Permission.SIT_EXAM}),
    Role.TEACHER: frozenset({Permission.VIEW_EXAMS, Permission.VIEW_RESULTS}),
    Role.PROCTOR: frozenset({Permission.VIEW_EXAMS, Permission.PROCTOR_REVIEW, Permission.LIVE_CONTROL}),
    Role.QUALITY: frozenset(
        {
            Permission.VIEW_EXAMS,
            Permission.VIEW_RESULTS,
            Permission.MANAGE_BANKS,
            Permission.READ_BANK_CONTENT,
            Permission.VIEW_AUDIT,
        }
    ),
    Role.METHODOLOGIST: frozenset({Permission.VIEW_EXAMS, Permission.VIEW_RESULTS}),
    Role.DEPARTMENT_HEAD: frozenset({Permission.VIEW_EXAMS, Permission.VIEW_RESULTS}),
    Role.FACULTY_HEAD: frozenset({Permission.VIEW_EXAMS, Permission.VIEW_RESULTS}),
    Role.DEPUTY_HEAD: frozenset({Permission.VIEW_EXAMS, Permission.VIEW_RESULTS, Permission.VIEW_AUDIT}),
    Role.ACADEMIC_ADMIN: frozenset(
        {
            Permission.MANAGE_ACCOUNTS,
            Permission.DISABLE_ACCOUNTS,
            Permission.MANAGE_CATALOG,
            Permission.MANAGE_EXAMS,
            Permission.VIEW_EXAMS,
            Permission.VIEW_RESULTS,
            Permission.READ_BANK_CONTENT,
            Permission.MANAGE_BANKS,
            Permission.VIEW_AUDIT,
            Permission.LIVE_CONTROL,
        }
    ),
    # Operates servers and sees health and the audit trail, but creates no academic accounts
    # either: an account with a teacher's role would be a way around R3.
    # Disabling a sign-in is his too: it ends access at once and keeps every attempt and grade as it is.
    Role.SYSADMIN: frozenset({Permission.VIEW_HEALTH, Permission.VIEW_AUDIT, Permission.DISABLE_ACCOUNTS}),
}
MATRIX = {role: perms | _JOURNAL_RIGHTS.get(role.value, frozenset()) for role, perms in MATRIX.items()}


def allows(role: Role | str, permission: Permission) -> bool:
    try:
        return permission in MATRIX[Role(role)]
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------ reach
# A permission says what kind of thing a role may do; the reach says on which things (issue 19).
# The regulations separate roles "to ensure openness and objectivity": a proctor acts on the exams
# the academic administration assigned them to, a faculty head on the journals of their faculty's
# groups, a head of department on the journals of the disciplines their department teaches.


class Kind(StrEnum):
    """What a route or page acts on, named by its path parameter."""

    EXAM = "exam"
    ATTEMPT = "attempt"
    FLAG = "flag"  # a proctoring flag (belongs to an attempt, so to an exam)
    JOURNAL = "journal"
    CORRECTION = "correction"  # a journal correction (belongs to a journal)
    # An exam result regraded after its journal's period closed, waiting for a deputy head (J5, J6):
    # reached academy-wide (not listed in REACH), like the deputy heads who approve it.
    RESULT_CORRECTION = "result_correction"


class Reach(StrEnum):
    ALL = "all"  # everything the permission covers (deputy heads, quality, methodologists, administrators)
    ASSIGNED_EXAMS = "assigned_exams"  # exams the person is assigned to watch (exam_proctors)
    FACULTY = "faculty"  # journals of the groups of the faculty the person heads (faculty_heads)
    DEPARTMENT = "department"  # journals of the disciplines the person's department teaches (department_heads)
    # Exams of the journals the person keeps: an exam whose discipline and one of whose groups are those of a
    # journal the teacher is assigned to (R4: each teacher works only with the journals assigned to them).
    ASSIGNED_JOURNALS = "assigned_journals"
    # Decided by the owning rules where the thing is loaded: a student's own attempt (the attempt
    # statements carry ``student_id``), a teacher's assigned journal or substitute window (R4, J7).
    OWN = "own"


_EXAM_KINDS = (Kind.EXAM, Kind.ATTEMPT, Kind.FLAG)
_JOURNAL_KINDS = (Kind.JOURNAL, Kind.CORRECTION)

REACH: Mapping[tuple[Role, Kind], Reach] = {
    **{(Role.PROCTOR, kind): Reach.ASSIGNED_EXAMS for kind in _EXAM_KINDS},
    **{(Role.STUDENT, kind): Reach.OWN for kind in _EXAM_KINDS},
    **{(Role.FACULTY_HEAD, kind): Reach.FACULTY for kind in _JOURNAL_KINDS},
    **{(Role.DEPARTMENT_HEAD, kind): Reach.DEPARTMENT for kind in _JOURNAL_KINDS},
    **{(Role.TEACHER, kind): Reach.OWN for kind in _JOURNAL_KINDS},
    # The exams themselves (their list, titles and times, settings): the same reach as the journals the
    # results go to. A faculty head: exams sat by a group of their faculty; a head of department: exams of
    # the disciplines their department teaches; a teacher: exams of the journals they keep.
    **{(Role.FACULTY_HEAD, kind): Reach.FACULTY for kind in _EXAM_KINDS},
    **{(Role.DEPARTMENT_HEAD, kind): Reach.DEPARTMENT for kind in _EXAM_KINDS},
    **{(Role.TEACHER, kind): Reach.ASSIGNED_JOURNALS for kind in _EXAM_KINDS},
}
"""Everything not listed reaches ``ALL``: the deputy heads keep academy-wide approval (the
regulation gives corrections to the deputy head of the academy, not of a faculty); the quality
department (it uploads every bank, Q2, keeps every statement, J8, and monitors every journal, J9),
the methodologists (who check every journal weekly, J9) and the academic administration (the
education-methodology centre, R2) work academy-wide."""


def reach(role: Role | str, kind: Kind) -> Reach:
    try:
        return REACH.get((Role(role), kind), Reach.ALL)
    except ValueError:
        return Reach.OWN  # an unknown role reaches nothing beyond what owning rules give it
