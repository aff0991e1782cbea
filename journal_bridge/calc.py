"""``exam-engine grade calc``: the 60/40 total for one student, from the command line.

Pure: it reads the grading scale (the default, or ``--scale FILE`` with the institution's
JSON) and prints the total, letter, GPA, the traditional grade in kk and ru and whether
the discipline is passed; with ``--target LETTER`` also the minimum exam score that
reaches it. The error text is translated by the caller's ``translate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from journal_bridge.errors import JournalError
from journal_bridge.grading import DEFAULT_SCALE, GradingScale, grade_outcome, what_do_i_need
from journal_bridge.messages import MESSAGES


def calculate(admission: int, exam: int, target: str | None, scale: GradingScale = DEFAULT_SCALE) -> dict[str, Any]:
    """Everything ``grade calc`` prints, as plain data."""
    o = grade_outcome(admission, exam, scale)
    out: dict[str, Any] = {
        "admission": admission,
        "exam": exam,
        "total": o.total,
        "letter": o.letter,
        "gpa": str(o.band.gpa) if o.band else None,
        "traditional": {"kk": o.traditional("kk"), "ru": o.traditional("ru")},
        "status": str(o.status),
        "passed": o.passed,
    }
    if target:
        need = what_do_i_need(admission, target, scale)
        out["target"] = {"letter": need.target, "verdict": str(need.verdict), "minimum_exam": need.minimum_exam}
    return out


def _text(result: dict[str, Any]) -> str:
    lines = [
        f"total:        {result['total'] if result['total'] is not None else 'not computed'}",
        f"letter:       {result['letter'] or '-'}",
        f"GPA:          {result['gpa'] or '-'}",
        f"traditional:  {result['traditional']['kk'] or '-'} (kk) / {result['traditional']['ru'] or '-'} (ru)",
        f"result:       {'pass' if result['passed'] else 'fail'} ({result['status']})",
    ]
    if "target" in result:
        t = result["target"]
        figure = t["minimum_exam"] if t["minimum_exam"] is not None else t["verdict"].replace("_", " ")
        lines.append(f"to get {t['letter']}: exam ≥ {figure}")
    return "\n".join(lines)


def run(args: argparse.Namespace, translate: Callable[..., str], language: str) -> int:
    try:
        scale = GradingScale.from_json(Path(args.scale).read_bytes()) if args.scale else DEFAULT_SCALE
        result = calculate(args.admission, args.exam, args.target, scale)
    except JournalError as error:
        print(translate(language, MESSAGES[error.code], **error.params), file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else _text(result))
    return 0


def add_parser(sub: Any, translate: Callable[..., str], language: Callable[[argparse.Namespace], str]) -> None:
    """Register ``grade calc`` on an argparse sub-parser collection."""
    grade = sub.add_parser("grade", help="grading arithmetic").add_subparsers(dest="grade_command", required=True)
    p = grade.add_parser("calc", help="total = 60%% admission + 40%% exam, letter, GPA, traditional grade")
    p.add_argument("--admission", type=int, required=True, help="admission rating 0–100")
    p.add_argument("--exam", type=int, required=True, help="exam score 0–100")
    p.add_argument("--target", help="a letter: print the minimum exam score that reaches it")
    p.add_argument("--scale", help="the institution's grading scale as JSON (default: the built-in one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: run(args, translate, language(args)))
