"""Parse an uploaded bank in a separate, fresh process with CPU-time and memory limits.

Why a process and not a thread: a parse holds the GIL, so a slow one (a pathological regex,
a huge document tree) used to stall the whole server, ``/healthz`` included, and a thread
cannot be stopped or bounded in memory. A child process can: it sets its own
``RLIMIT_CPU`` and ``RLIMIT_AS`` before it reads a byte of the file, and the parent kills it
at a wall-clock deadline. Why a fresh process per parse rather than a pool: uploads are
rare (the quality department, a few a day), a worker killed by a limit would break a pool,
and nothing of one file can leak into the next. The cost is a Python start-up per upload
(measured in ``docs/banks.md``).

The parent talks to the child over pipes: one JSON line of options and limits, then the raw
file; the child answers with the report as JSON (never pickle: the child has read hostile
input, the parent must not execute what it says). A child that dies — killed at the CPU or
wall-clock limit, out of memory, or crashed — yields a report with one located-as-possible
error, so the caller treats it like any refused file: nothing is stored.

Run as ``python -m question_bank.isolated`` (the child side).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from question_bank.formats.detect import BankFormat
from question_bank.limits import DEFAULT_LIMITS, MiB, ParseLimits
from question_bank.model import Item
from question_bank.parse import ParseReport, parse_bank
from question_bank.problems import Problem, ProblemCode, problem

EXIT_MEMORY = 3
EXIT_FAILED = 4
_STDERR_KEEP = 2000


@dataclass(frozen=True, slots=True)
class ParseJob:
    """What :func:`question_bank.parse.parse_bank` is called with, as plain JSON-able values."""

    filename: str | None = None
    format: str | None = None
    language: str = "kk"
    default_topic: str | None = None
    default_difficulty: int | None = None
    existing_texts: tuple[str, ...] = ()  # append mode: the texts of the questions already there

    def header(self, limits: ParseLimits) -> bytes:
        job = {
            "filename": self.filename,
            "format": self.format,
            "language": self.language,
            "default_topic": self.default_topic,
            "default_difficulty": self.default_difficulty,
            "existing_texts": list(self.existing_texts),
            "limits": limits.to_dict(),
        }
        return json.dumps(job, ensure_ascii=True).encode("ascii") + b"\n"


# -- the report over the pipe -------------------------------------------------------------------


def report_to_wire(report: ParseReport) -> dict[str, Any]:
    return {
        "format": report.format.value if report.format else None,
        "encoding": report.encoding,
        "language": report.language,
        "questions_found": report.questions_found,
        "items": [
            [it.text, list(it.options), it.correct, it.topic, it.difficulty, it.source_line, it.number, it.twin_key]
            for it in report.items
        ],
        "problems": [[p.code.value, p.params, p.line, p.question] for p in report.problems],
    }


def _problem_from_wire(raw: list[Any]) -> Problem:
    code, params, line, question = raw
    found = problem(ProblemCode(code), line=line, question=question, **params)
    return found


def report_from_wire(raw: dict[str, Any]) -> ParseReport:
    items = tuple(
        Item(text=t, options=tuple(o), correct=c, topic=tp, difficulty=d, source_line=sl, number=n, twin_key=tk)
        for t, o, c, tp, d, sl, n, tk in raw["items"]
    )
    return ParseReport(
        format=BankFormat(raw["format"]) if raw["format"] else None,
        encoding=raw["encoding"],
        language=raw["language"],
        items=items,
        problems=tuple(_problem_from_wire(p) for p in raw["problems"]),
        questions_found=int(raw["questions_found"]),
    )


def _failed(job: ParseJob, found: Problem) -> ParseReport:
    return ParseReport(None, None, job.language, (), (found,), 0)


def _outcome(job: ParseJob, limits: ParseLimits, returncode: int | None, out: bytes, timed_out: bool) -> ParseReport:
    if timed_out:
        return _failed(job, problem(ProblemCode.PARSE_TIME_EXCEEDED, seconds=_seconds(limits.wall_seconds)))
    if returncode == 0:
        try:
            return report_from_wire(json.loads(out))
        except (ValueError, KeyError, TypeError):
            return _failed(job, problem(ProblemCode.PARSE_FAILED))
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return _failed(job, problem(ProblemCode.PARSE_TIME_EXCEEDED, seconds=_seconds(limits.cpu_seconds)))
    if returncode == EXIT_MEMORY:
        return _failed(job, problem(ProblemCode.PARSE_MEMORY_EXCEEDED, limit=limits.memory_bytes // MiB))
    return _failed(job, problem(ProblemCode.PARSE_FAILED))


def _seconds(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _command() -> list[str]:
    return [sys.executable, "-m", "question_bank.isolated"]


# -- the parent side ----------------------------------------------------------------------------


async def parse_isolated(data: bytes, job: ParseJob, limits: ParseLimits = DEFAULT_LIMITS) -> ParseReport:
    """Parse in a fresh child process; never blocks the event loop, never outlives ``wall_seconds``."""
    import asyncio  # here: the child side does not need it (its start-up is every upload's cost)

    try:
        proc = await asyncio.create_subprocess_exec(
            *_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as error:  # no process can be started (fork limit, interpreter gone): a report, not a 500
        _log_stderr(str(error).encode(), -1)
        return _failed(job, problem(ProblemCode.PARSE_FAILED))
    timed_out = False
    try:
        out, err = await asyncio.wait_for(proc.communicate(job.header(limits) + data), limits.wall_seconds)
    except TimeoutError:
        timed_out, out, err = True, b"", b""
    finally:
        if proc.returncode is None:  # timed out, or the caller was cancelled: the child goes too
            proc.kill()
            await asyncio.shield(proc.wait())
    _log_stderr(err, proc.returncode)
    return _outcome(job, limits, proc.returncode, out, timed_out)


def parse_isolated_sync(data: bytes, job: ParseJob, limits: ParseLimits = DEFAULT_LIMITS) -> ParseReport:
    """The same for the command line (no event loop)."""
    try:
        done = subprocess.run(
            _command(), input=job.header(limits) + data, capture_output=True, timeout=limits.wall_seconds, check=False
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        return _outcome(job, limits, None, b"", True)
    except OSError as error:
        _log_stderr(str(error).encode(), -1)
        return _failed(job, problem(ProblemCode.PARSE_FAILED))
    _log_stderr(done.stderr, done.returncode)
    return _outcome(job, limits, done.returncode, done.stdout, False)


def _log_stderr(err: bytes, returncode: int | None) -> None:
    if err and returncode not in (0, None):
        import logging

        logging.getLogger("question_bank.isolated").warning(
            "bank parser exited with %s: %s", returncode, err[-_STDERR_KEEP:].decode("utf-8", "replace")
        )


# -- the child side -----------------------------------------------------------------------------


def _apply_limits(limits: ParseLimits) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Soft limit: SIGXCPU ends the process (Python installs no handler); the hard limit one
    # second later is the kernel's SIGKILL if anything caught it.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))


def child_main(stdin: Any = None, stdout: Any = None) -> int:
    # openpyxl imports numpy when it can, and numpy's OpenBLAS starts a thread per core, each
    # reserving address space: under RLIMIT_AS that alone can fail. The parser needs neither.
    sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    header = json.loads(stdin.readline())
    limits = ParseLimits.from_dict(header.pop("limits"))
    _apply_limits(limits)
    try:
        data = stdin.read()
        existing = [Item(text=t, options=(), correct=0) for t in header.pop("existing_texts")]
        report = parse_bank(
            data,
            filename=header["filename"],
            format=header["format"],
            language=header["language"],
            default_topic=header["default_topic"],
            default_difficulty=header["default_difficulty"],
            existing=existing,
            limits=limits,
        )
        body = json.dumps(report_to_wire(report), ensure_ascii=False).encode("utf-8")
    except MemoryError:
        os._exit(EXIT_MEMORY)  # nothing more can be allocated safely; the exit code says why
    stdout.write(body)
    stdout.flush()
    return 0


def parse_in_process(data: bytes, job: ParseJob, limits: ParseLimits = DEFAULT_LIMITS) -> ParseReport:
    """The same call without a child (tests, and the pure use of the library)."""
    existing: Sequence[Item] = [Item(text=t, options=(), correct=0) for t in job.existing_texts]
    return parse_bank(
        data,
        filename=job.filename,
        format=job.format,
        language=job.language,
        default_topic=job.default_topic,
        default_difficulty=job.default_difficulty,
        existing=existing,
        limits=limits,
    )


if __name__ == "__main__":
    sys.exit(child_main())
