"""Bank parse times: the pathological inputs of issue 18, and the child process's overhead.

    python bench/bench_bank_parse.py pathological [--code DIR] [--timeout 60] [--no-size-limits]
    python bench/bench_bank_parse.py overhead [--runs 7]

``pathological`` parses each input of tests/unit/question_bank/hostile.py in a fresh process
(killed at --timeout) with the question_bank found in DIR (for the code before the fix:
``git archive <commit> question_bank | tar -x -C DIR``), and prints seconds and the error codes.
``overhead`` compares the median time of parse_bank in this process with the isolated child
(question_bank.isolated.parse_isolated_sync) on normal banks of 200 questions.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _use_code(directory: str | None) -> None:
    if directory:
        sys.meta_path[:] = [
            f
            for f in sys.meta_path
            if "editable" not in type(f).__name__.lower() and "editable" not in getattr(f, "__name__", "").lower()
        ]
        sys.path.insert(0, directory)


def _one(name: str, directory: str | None, no_limits: bool, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    _use_code(directory)
    from question_bank.parse import parse_bank
    from tests.unit.question_bank.hostile import CATASTROPHIC

    filename, data = CATASTROPHIC[name]
    kwargs = {}
    if no_limits:
        from question_bank.limits import ParseLimits

        kwargs["limits"] = ParseLimits(max_line_chars=10**9, max_options=10**9)
    started = time.perf_counter()
    report = parse_bank(data, filename=filename, language="kk", **kwargs)
    queue.put((time.perf_counter() - started, report.accepted, sorted({p.code.value for p in report.errors})))


def pathological(args: argparse.Namespace) -> None:
    from tests.unit.question_bank.hostile import CATASTROPHIC

    for name, (_, data) in CATASTROPHIC.items():
        spawn = mp.get_context("spawn")  # a fresh interpreter, so --code really loads that question_bank
        queue = spawn.Queue()
        proc = spawn.Process(target=_one, args=(name, args.code, args.no_size_limits, queue))
        proc.start()
        proc.join(args.timeout)
        if proc.is_alive():
            proc.kill()
            print(f"{name:14s} {len(data):>8d} B  > {args.timeout:.0f} s (killed)")
            continue
        seconds, accepted, codes = queue.get()
        print(f"{name:14s} {len(data):>8d} B  {seconds:8.3f} s  accepted={accepted} {codes}")


def overhead(args: argparse.Namespace) -> None:
    from question_bank.export import export_platonus
    from question_bank.isolated import ParseJob, parse_in_process, parse_isolated_sync
    from tests.factories import make_items
    from tests.unit.question_bank.builders import docx_bytes, template_row, xlsx_bytes

    items = make_items(200, options=5)
    banks = {
        "platonus .txt": ("b.txt", export_platonus(items).encode()),
        "platonus .docx": ("b.docx", docx_bytes(export_platonus(items).splitlines())),
        "xlsx": (
            "b.xlsx",
            xlsx_bytes([template_row(f"Сұрақ {n}?", 1, [f"а{n}", "б", "в", "г", "ғ"]) for n in range(1, 201)]),
        ),
    }
    for label, (filename, data) in banks.items():
        job = ParseJob(filename=filename)
        times = {"in-process": [], "child": []}
        for _ in range(args.runs):
            for kind, run in (("in-process", parse_in_process), ("child", parse_isolated_sync)):
                started = time.perf_counter()
                report = run(data, job)
                times[kind].append(time.perf_counter() - started)
                assert report.accepted, report.to_dict()
        here, there = statistics.median(times["in-process"]), statistics.median(times["child"])
        print(
            f"{label:15s} {len(data):>7d} B  in-process {here * 1000:7.0f} ms  child {there * 1000:7.0f} ms  "
            f"overhead {(there - here) * 1000:6.0f} ms (median of {args.runs})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pathological")
    p.add_argument("--code")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--no-size-limits", action="store_true")
    p = sub.add_parser("overhead")
    p.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    pathological(args) if args.what == "pathological" else overhead(args)


if __name__ == "__main__":
    main()
