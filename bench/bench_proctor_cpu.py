"""CPU per frame of the analysis, new design against the old 320 px default, in alternating rounds.

Run: ``.venv/bin/python bench/bench_proctor_cpu.py DIR [--rounds 5]`` on a folder from
``bench/make_proctor_set.py`` (its ``two`` and ``single`` frames). CPU time
(``time.process_time``) on one thread (``pin_threads``): less disturbed than wall time when other
runs share the machine. Each round measures the old settings and the new ones one after the other
on the same frames (old, new, old, new, … so a change of the machine's speed hits both), and the
ratios are the median over the rounds.

* old: detection at 320 px, a face at confidence ≥ 0.6, no crop check, identity frames at 320 px
  (the default before issue 21);
* new: the current :class:`~proctor.settings.ProctorSettings` — the ordinary pass on every frame,
  the full-resolution pass on every ``thorough_every_n_frames``-th frame and on identity frames.

Printed per round and as medians: an ordinary frame, a full-pass frame, an identity frame, the
mean per frame over the schedule without identity (what a second person's detection costs), and
the server's mix (identity every ``identity_every_n_frames``-th frame on top). The code measured
is this checkout's (its root is put first on ``sys.path``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proctor.analysis import analyze_frame, enrol, pin_threads, warm_up  # noqa: E402
from proctor.analysis.identity import Descriptor  # noqa: E402
from proctor.settings import ProctorSettings  # noqa: E402

NEW = ProctorSettings()
OLD = replace(
    NEW,
    detect_max_side_px=320,
    thorough_max_side_px=320,
    face_min_confidence=0.6,
    face_candidate_confidence=0.6,
    thorough_every_n_frames=0,
    identity_min_face_px=50,
)


def cpu_ms(work: Callable[[bytes], object], blobs: list[bytes]) -> float:
    start = time.process_time()
    for blob in blobs:
        work(blob)
    return (time.process_time() - start) / len(blobs) * 1000


def schedule_mean(ordinary: float, full: float, identity: float | None, settings: ProctorSettings) -> float:
    """Mean CPU per frame over an attempt's schedule (``identity`` None: no identity frames)."""
    n_id, n_full = settings.identity_every_n_frames, settings.thorough_every_n_frames
    costs = [
        identity if identity is not None and k % n_id == 0 else full if n_full and k % n_full == 0 else ordinary
        for k in range(n_id * max(1, n_full))
    ]
    return statistics.mean(costs)


def measure(settings: ProctorSettings, blobs: list[bytes], id_blobs: list[bytes], enrolment: Descriptor) -> dict:
    ordinary = cpu_ms(lambda b: analyze_frame(b, settings, thorough=False), blobs)
    full = cpu_ms(lambda b: analyze_frame(b, settings, thorough=True), blobs)
    identity = cpu_ms(lambda b: analyze_frame(b, settings, enrolment), id_blobs)
    return {
        "ordinary": ordinary,
        "full": full,
        "identity": identity,
        "schedule": schedule_mean(ordinary, full, None, settings),
        "mix": schedule_mean(ordinary, full, identity, settings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--enrol", default="enrol_A.jpg")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--also",
        type=int,
        nargs="*",
        default=[],
        metavar="PX",
        help="also measure the alternative of one pass at PX on every frame (e.g. 448 480)",
    )
    args = parser.parse_args()
    alternatives = {px: replace(NEW, detect_max_side_px=px, thorough_every_n_frames=0) for px in args.also}
    threads = pin_threads()
    warm_up(NEW)
    frames = [f for f in json.loads((args.dir / "labels.json").read_text())["frames"] if f["set"] in ("two", "single")]
    blobs = [(args.dir / f["file"]).read_bytes() for f in frames]
    id_blobs = blobs[::4]  # identity frames cost ~5× an ordinary one: a quarter of the frames is enough
    enrolments = {name: enrol((args.dir / args.enrol).read_bytes(), s) for name, s in (("old", OLD), ("new", NEW))}
    print(
        f"{platform.node()}: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, {threads} thread; "
        f"{len(blobs)} frames ({len(id_blobs)} for identity), {args.rounds} alternating rounds"
    )
    print(
        f"new: ordinary pass {NEW.detect_max_side_px} px, full pass {NEW.thorough_max_side_px} px every "
        f"{NEW.thorough_every_n_frames}th frame and on identity frames (every {NEW.identity_every_n_frames}th)"
    )
    keys = ("ordinary", "full", "identity", "schedule", "mix")
    rounds: list[tuple[dict, dict]] = []
    alt_ratios: dict[int, list[float]] = {}
    for r in range(args.rounds):
        first, second = (("old", OLD), ("new", NEW)) if r % 2 == 0 else (("new", NEW), ("old", OLD))
        got = {name: measure(s, blobs, id_blobs, enrolments[name]) for name, s in (first, second)}
        rounds.append((got["old"], got["new"]))
        old, new = got["old"], got["new"]
        for px, settings in alternatives.items():
            alt = cpu_ms(lambda b, s=settings: analyze_frame(b, s, thorough=False), blobs)
            alt_ratios.setdefault(px, []).append(alt / old["ordinary"])
            print(f"  alternative: {px} px on every frame {alt:.1f} ms ({alt / old['ordinary']:.2f}× old ordinary)")
        print(
            f"round {r + 1}: old ordinary {old['ordinary']:.1f} ms, identity {old['identity']:.1f}, mix {old['mix']:.1f} | "
            f"new ordinary {new['ordinary']:.1f}, full {new['full']:.1f}, identity {new['identity']:.1f}, "
            f"schedule {new['schedule']:.1f}, mix {new['mix']:.1f} | ratio schedule/old ordinary "
            f"{new['schedule'] / old['ordinary']:.2f}, mix {new['mix'] / old['mix']:.2f}",
            flush=True,
        )

    def med(side: int, key: str) -> float:
        return statistics.median(r[side][key] for r in rounds)

    def ratio(key_new: str, key_old: str) -> float:
        return statistics.median(r[1][key_new] / r[0][key_old] for r in rounds)

    print(
        "medians, ms CPU per frame: old "
        + ", ".join(f"{k} {med(0, k):.1f}" for k in ("ordinary", "identity", "mix"))
        + " | new "
        + ", ".join(f"{k} {med(1, k):.1f}" for k in keys)
    )
    print(
        f"ratio new/old (median of rounds): per frame over the schedule {ratio('schedule', 'ordinary'):.2f}× "
        f"(budget 2×), ordinary frame {ratio('ordinary', 'ordinary'):.2f}×, full-pass frame "
        f"{ratio('full', 'ordinary'):.2f}×, identity frame {ratio('identity', 'identity'):.2f}×, "
        f"server mix with identity {ratio('mix', 'mix'):.2f}×"
    )
    for px, values in alt_ratios.items():
        print(f"alternative {px} px on every frame: {statistics.median(values):.2f}× old ordinary (median of rounds)")


if __name__ == "__main__":
    main()
