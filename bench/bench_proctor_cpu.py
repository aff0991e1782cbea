"""CPU milliseconds per frame of the analysis on a labelled folder's frames (``two`` and ``single``).

Run: ``.venv/bin/python bench/bench_proctor_cpu.py DIR [--enrol enrol_A.jpg]`` on a folder from
``bench/make_proctor_set.py``. CPU time (``time.process_time``), one thread: less disturbed than
wall time when other runs share the machine. Prints the ordinary frame, a frame with identity
(full-resolution detection + dlib descriptor) and the server's mix (identity on every 20th frame).
To compare with another checkout: ``PYTHONPATH=/other/checkout python bench/bench_proctor_cpu.py DIR``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from proctor.analysis import analyze_frame, enrol, pin_threads, warm_up
from proctor.settings import ProctorSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--enrol", default="enrol_A.jpg")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pin_threads()
    warm_up()
    frames = [f for f in json.loads((args.dir / "labels.json").read_text())["frames"] if f["set"] in ("two", "single")]
    blobs = [(args.dir / f["file"]).read_bytes() for f in frames]
    enrolment = enrol((args.dir / args.enrol).read_bytes())

    def cpu(work) -> float:  # type: ignore[no-untyped-def]
        runs = []
        for _ in range(args.runs):
            start = time.process_time()
            for blob in blobs:
                work(blob)
            runs.append((time.process_time() - start) / len(blobs) * 1000)
        return statistics.median(runs)

    n = ProctorSettings().identity_every_n_frames
    ordinary = cpu(lambda b: analyze_frame(b))
    identity = cpu(lambda b: analyze_frame(b, None, enrolment))
    print(f"{len(blobs)} frames, median of {args.runs} runs: ordinary {ordinary:.1f} ms CPU, "
          f"identity frame {identity:.1f} ms CPU, mix (identity every {n}th) {((n - 1) * ordinary + identity) / n:.1f} ms CPU")


if __name__ == "__main__":
    main()
