"""``exam-engine assign …``: the academic administration's assignments from the command line (issue 19).

The same use cases as ``/admin/assignments`` and the API (``services/assignments.py``), audited
as ``cli:<os user>``. Exit codes: 0 done, 1 refused (the reason on one line), 2 usage.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..bootstrap import Services
from . import common


def _assign(args: argparse.Namespace, action: Any, done: str) -> int:
    async def run(services: Services) -> int:
        async with services.engine.begin() as conn:
            await action(conn, common.actor(), services.clock.now())
        print(done)
        return 0

    return common.run(args, run)


def cmd_proctors(args: argparse.Namespace) -> int:
    from ..services import assignments

    async def action(conn: Any, actor: Any, now: Any) -> None:
        await assignments.set_exam_proctors(conn, actor, args.exam_id, args.logins, now=now)

    return _assign(args, action, f"exam {args.exam_id}: proctors {', '.join(sorted(set(args.logins))) or '—'}")


def cmd_faculty_head(args: argparse.Namespace) -> int:
    from ..services import assignments

    async def action(conn: Any, actor: Any, now: Any) -> None:
        await assignments.set_faculty_head(conn, actor, args.login, args.faculty, now=now)

    return _assign(args, action, f"{args.login} heads faculty {args.faculty or '—'}")


def cmd_department(args: argparse.Namespace) -> int:
    from ..services import assignments

    async def action(conn: Any, actor: Any, now: Any) -> None:
        await assignments.add_department(
            conn, actor, code=args.code, name=args.name, faculty_code=args.faculty, now=now
        )

    return _assign(args, action, f"department {args.code} added to faculty {args.faculty}")


def cmd_department_head(args: argparse.Namespace) -> int:
    from ..services import assignments

    async def action(conn: Any, actor: Any, now: Any) -> None:
        await assignments.set_department_head(conn, actor, args.login, args.department, now=now)

    return _assign(args, action, f"{args.login} heads department {args.department or '—'}")


def cmd_discipline(args: argparse.Namespace) -> int:
    from ..services import assignments

    async def action(conn: Any, actor: Any, now: Any) -> None:
        await assignments.set_discipline_department(conn, actor, args.discipline, args.department, now=now)

    return _assign(args, action, f"discipline {args.discipline} taught by {args.department or '—'}")


def register(sub: Any) -> None:
    assign = sub.add_parser(
        "assign", help="who acts where: proctors of exams, heads of faculties and departments"
    ).add_subparsers(dest="assign_command", required=True)
    p = assign.add_parser("proctors", help="set the proctors of an exam (replaces the list; none: no proctor)")
    p.add_argument("exam_id", type=int)
    p.add_argument("logins", nargs="*")
    p.set_defaults(func=cmd_proctors)
    p = assign.add_parser("faculty-head", help="make a faculty head head of a faculty (omit it: of none)")
    p.add_argument("login")
    p.add_argument("faculty", nargs="?")
    p.set_defaults(func=cmd_faculty_head)
    p = assign.add_parser("department", help="add a department to a faculty")
    p.add_argument("code")
    p.add_argument("--name", required=True)
    p.add_argument("--faculty", required=True)
    p.set_defaults(func=cmd_department)
    p = assign.add_parser("department-head", help="make a head of department head of a department (omit it: none)")
    p.add_argument("login")
    p.add_argument("department", nargs="?")
    p.set_defaults(func=cmd_department_head)
    p = assign.add_parser("discipline", help="which department teaches a discipline (omit it: none)")
    p.add_argument("discipline")
    p.add_argument("department", nargs="?")
    p.set_defaults(func=cmd_discipline)
