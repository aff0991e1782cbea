"""Frames analysed per second per core for 640×480 webcam JPEGs.

Run: ``.venv/bin/python bench/bench_frames.py [--runs 5] [--frames 40]``

Pins OpenMP/OpenCV to one thread so the figure is per core; the embedded pool or
the Redis workers scale it by the number of worker processes. Prints the median of
several runs for: detection only (JPEG decode + face detection), the full analysis
without identity, and the full analysis with identity (dlib descriptor), which the
server runs only every few frames (``identity_every_n_frames``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from collections.abc import Callable  # noqa: E402

_t0 = time.perf_counter()
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from proctor.analysis import analyze_frame, detect_faces, enrol, warm_up  # noqa: E402
from proctor.analysis.image import to_bgr  # noqa: E402
from proctor.settings import ProctorSettings  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _t0
W, H = 640, 480


def webcam_frames(count: int) -> tuple[list[bytes], bytes]:
    """Frames of one person at slightly different places, plus an enrolment photo."""
    from skimage import data

    person = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(0)
    frames = []
    for i in range(count):
        canvas = np.full((H, W, 3), 120, np.uint8)
        x = 40 + (i * 7) % 120
        canvas[10:H, x : x + 470] = cv2.resize(person, (470, H - 10))
        noisy = (canvas + rng.normal(0, 2, canvas.shape)).clip(0, 255).astype(np.uint8)
        frames.append(cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    photo = cv2.imencode(".jpg", person, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    return frames, photo


def rate(work: Callable[[bytes], object], frames: list[bytes], runs: int) -> tuple[float, float]:
    """(median frames per second, median milliseconds per frame) over ``runs`` passes."""
    per_run = []
    for _ in range(runs):
        start = time.perf_counter()
        for frame in frames:
            work(frame)
        per_run.append((time.perf_counter() - start) / len(frames))
    median = statistics.median(per_run)
    return 1.0 / median, median * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    settings = ProctorSettings()
    frames, photo = webcam_frames(args.frames)

    start = time.perf_counter()
    detector = warm_up(settings)
    load_seconds = time.perf_counter() - start
    enrolment = enrol(photo, settings)

    half = replace(settings, detect_max_side_px=320)
    cases: dict[str, Callable[[bytes], object]] = {
        "detection only (decode + detect)": lambda f: detect_faces(to_bgr(f), settings),
        "detection only, detector at 320 px": lambda f: detect_faces(to_bgr(f), half),
        "full analysis, no identity": lambda f: analyze_frame(f, settings),
        "full analysis with identity": lambda f: analyze_frame(f, settings, enrolment),
    }
    print(f"detector: {detector}; import {IMPORT_SECONDS * 1000:.0f} ms; model load {load_seconds * 1000:.0f} ms")
    print(f"{args.frames} frames of {W}x{H} JPEG, median of {args.runs} runs, 1 thread")
    for name, work in cases.items():
        fps, ms = rate(work, frames, args.runs)
        print(f"  {name:<36} {fps:7.1f} frames/s/core  {ms:7.1f} ms/frame")


if __name__ == "__main__":
    main()
