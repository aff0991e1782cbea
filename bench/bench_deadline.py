"""Mass deadline: N attempts expiring in the same second.

Run: ``.venv/bin/python bench/bench_deadline.py [--attempts 5000] [--kill]``

Targets: every attempt finalised (submit time = deadline) within 3 s of the deadline plus the
network grace, and every result delivered to the journal within 5 s. With ``--kill`` the server
is killed (SIGKILL) just before the deadline and started again after it: then the times count
from the restart. The attempts are written straight into the database (as many starts would
have left them), with answers on half of their questions.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import machine, run_async, scratch_database, seed, server, server_env  # noqa: E402

GRACE_S = 1.0

# The baseline: the least a database can do to finalise the same attempts — one UPDATE that
# grades every attempt from its items and answers and stamps the deadline as submit time,
# committed — on a copy of the attempts (no outbox, no audit, no signatures, no journal).
_BARE_COPY = "CREATE TABLE bench_bare AS SELECT * FROM attempts WHERE status = 'in_progress'"
_BARE_GRADE = """
UPDATE bench_bare b SET status = 'timed_out', submitted_at = b.deadline_at, correct_count = g.correct,
       score = round(100.0 * g.correct / b.question_count)
  FROM (SELECT i.attempt_id, count(*) FILTER (WHERE an.choice = i.key_index) AS correct
          FROM attempt_items i LEFT JOIN answers an ON an.attempt_id = i.attempt_id AND an.position = i.position
         GROUP BY i.attempt_id) g
 WHERE g.attempt_id = b.id
"""


def bare_finalisation_s(url: str) -> float:
    """Seconds for the baseline UPDATE (median of three, each on a fresh copy)."""
    import statistics

    import psycopg

    times = []
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        for _ in range(3):
            conn.execute("DROP TABLE IF EXISTS bench_bare")
            conn.execute(_BARE_COPY)
            began = time.perf_counter()
            with conn.transaction():
                conn.execute(_BARE_GRADE)
            times.append(time.perf_counter() - began)
        conn.execute("DROP TABLE bench_bare")
    return statistics.median(times)


async def expiring_attempts(
    url: str, data: Path, exam_id: int, logins: list[str], deadline: datetime, questions: int
) -> None:
    from sqlalchemy import insert, select

    from exam_engine.bootstrap import build_services
    from exam_engine.config import load_settings
    from exam_engine.tables import answers, attempt_items, attempts, exam_banks, exams, users
    from question_bank.tables import bank_items

    services = build_services(load_settings(server_env(url, data)))
    async with services.engine.begin() as conn:
        exam = (await conn.execute(select(exams).where(exams.c.id == exam_id))).one()
        ids = (await conn.execute(select(users.c.id).where(users.c.login.in_(logins)))).scalars().all()
        version = (
            await conn.execute(select(exam_banks.c.bank_version_id).where(exam_banks.c.exam_id == exam_id))
        ).scalar_one()
        bank = (
            await conn.execute(
                select(bank_items.c.id, bank_items.c.options, bank_items.c.correct)
                .where(bank_items.c.bank_version_id == version)
                .order_by(bank_items.c.number)
                .limit(questions)
            )
        ).all()
        a_rows, i_rows, ans_rows = [], [], []
        for sid in ids:
            aid = uuid.uuid4()
            a_rows.append(
                {
                    "id": aid,
                    "exam_id": exam_id,
                    "student_id": sid,
                    "discipline_id": exam.discipline_id,
                    "exam_session_id": exam.exam_session_id,
                    "language": "kk",
                    "status": "in_progress",
                    "started_at": deadline - timedelta(minutes=40),
                    "deadline_at": deadline,
                    "question_count": questions,
                    "timeout_policy": exam.timeout_policy,
                    "pass_score": exam.pass_score,
                }
            )
            # The real bank items, as a start would freeze them (the item analysis of the gate before the
            # journal reads them); a student of ability a answers questions 1..a rightly and spreads the
            # wrong answers over the distractors, so nothing is flagged and the results are released.
            ability = sid % (questions + 1)
            for pos, item in enumerate(bank, start=1):
                i_rows.append(
                    {
                        "attempt_id": aid,
                        "position": pos,
                        "bank_item_id": item.id,
                        "text": f"Q{pos}",
                        "options": list(item.options),
                        "key_index": item.correct,
                    }
                )
                if pos % 2:
                    wrong = (item.correct + 1 + sid % (len(item.options) - 1)) % len(item.options)
                    ans_rows.append(
                        {
                            "attempt_id": aid,
                            "position": pos,
                            "choice": item.correct if pos <= ability else wrong,
                            "seq": pos,
                            "saved_at": deadline - timedelta(minutes=1),
                        }
                    )
        for table, rows in ((attempts, a_rows), (attempt_items, i_rows), (answers, ans_rows)):
            for i in range(0, len(rows), 5000):
                await conn.execute(insert(table), rows[i : i + 5000])
    await services.close()


async def progress(url: str, data: Path) -> tuple[int, int, int, datetime | None, datetime | None]:
    """(still open, finalised with submit time == deadline, delivered, last finalise time, last delivery)."""
    from sqlalchemy import func, select

    from exam_engine.bootstrap import build_services
    from exam_engine.config import load_settings
    from exam_engine.tables import attempts, audit_log, outbox

    services = build_services(load_settings(server_env(url, data)))
    async with services.engine.connect() as conn:
        open_ = (
            await conn.execute(select(func.count()).select_from(attempts).where(attempts.c.status == "in_progress"))
        ).scalar_one()
        exact = (
            await conn.execute(
                select(func.count())
                .select_from(attempts)
                .where(attempts.c.status == "timed_out", attempts.c.submitted_at == attempts.c.deadline_at)
            )
        ).scalar_one()
        delivered = (
            await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.delivered_at.is_not(None)))
        ).scalar_one()
        last_final = (
            await conn.execute(select(func.max(audit_log.c.at)).where(audit_log.c.action == "attempt.timed_out"))
        ).scalar()
        last_delivery = (await conn.execute(select(func.max(outbox.c.delivered_at)))).scalar()
    await services.close()
    return open_, exact, delivered, last_final, last_delivery


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--attempts", type=int, default=5000)
    p.add_argument("--questions", type=int, default=20)
    p.add_argument("--lead", type=float, default=15.0, help="seconds from the server start to the deadline")
    p.add_argument("--kill", action="store_true", help="kill the server before the deadline, restart after")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    print(f"machine: {machine()}")
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = run_async(seed, url, data, students=args.attempts, questions=args.questions)
        t0 = time.perf_counter()
        deadline = datetime.now(UTC) + timedelta(seconds=args.lead + 30)
        run_async(expiring_attempts, url, data, world.exam_id, world.logins, deadline, args.questions)
        print(f"wrote {args.attempts} attempts in {time.perf_counter() - t0:.1f} s; deadline {deadline:%H:%M:%S}")
        bare_s = bare_finalisation_s(url)
        env = {"EXAM_SWEEP_INTERVAL_S": "0.5", "EXAM_NETWORK_GRACE_S": str(GRACE_S)}
        due = deadline + timedelta(seconds=GRACE_S)
        with server(url, data, workers=args.workers, **env) as (port, proc):
            if args.kill:
                time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds() - 2))
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                print("server killed 2 s before the deadline")
        if args.kill:
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 3)
            restart = datetime.now(UTC)
            with server(url, data, workers=args.workers, **env) as (port, _):
                result = wait_done(url, data, args.attempts, restart, timeout=60)
            reference = restart
        else:
            with server(url, data, workers=args.workers, **env) as (port, _):
                time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
                result = wait_done(url, data, args.attempts, due, timeout=60)
            reference = due
    open_, exact, delivered, last_final, last_delivery = result
    label = "restart" if args.kill else "deadline + grace"
    fin = (last_final - reference).total_seconds() if last_final else float("nan")
    dlv = (last_delivery - reference).total_seconds() if last_delivery else float("nan")
    print(f"\n{args.attempts} attempts, one deadline{' (server killed before it)' if args.kill else ''}:")
    print(f"  finalised with submit time = deadline: {exact}/{args.attempts}, still open: {open_}")
    print(f"  last finalised {fin:.2f} s after {label}   (target ≤ 3 s)")
    print(
        f"  results delivered to the journal: {delivered}/{args.attempts}, "
        f"last {dlv:.2f} s after {label}   (target ≤ 5 s)"
    )
    print(
        f"  baseline (same run): one SQL UPDATE grading all {args.attempts} on a copy, committed: {bare_s:.2f} s; "
        f"finalisation / baseline: {fin / bare_s:.1f}×"
    )


def wait_done(url: str, data: Path, expected: int, since: datetime, timeout: float):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    result = run_async(progress, url, data)
    while time.monotonic() < end:
        result = run_async(progress, url, data)
        if result[0] == 0 and result[2] >= expected:
            break
        time.sleep(0.5)
    return result


if __name__ == "__main__":
    main()
