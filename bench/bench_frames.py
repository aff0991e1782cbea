"""Frames analysed per second per core for 640×480 webcam JPEGs.

Run: ``.venv/bin/python bench/bench_frames.py [--runs 5] [--frames 48] [--processes 2]``

Pins OpenMP/OpenCV to one thread so the figure is per core; the embedded pool or
the Redis workers scale it by the number of worker processes. Prints the median of
several runs for: the baseline (decoding the JPEG, nothing else), detection only (JPEG decode + face detection) at 640 px and at the
default detector size, the full analysis without and with identity (dlib descriptor),
and the server's mix (identity on every n-th frame, ``identity_every_n_frames``); the
frozen/replayed check a worker adds to each stored frame (against the thumbnails of the
attempt's last ``replay_window_frames`` frames); then the server's mix on N worker processes
side by side (N = cores by default).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

_t0 = time.perf_counter()
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from proctor.analysis import analyze_frame, detect_faces, enrol, pin_threads, warm_up  # noqa: E402
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


def rate(work: Callable[[int, bytes], object], frames: list[bytes], runs: int) -> tuple[float, float]:
    """(median frames per second, median milliseconds per frame) over ``runs`` passes."""
    per_run = []
    for _ in range(runs):
        start = time.perf_counter()
        for i, frame in enumerate(frames):
            work(i, frame)
        per_run.append((time.perf_counter() - start) / len(frames))
    median = statistics.median(per_run)
    return 1.0 / median, median * 1000


def server_mix(settings: ProctorSettings, enrolment: object) -> Callable[[int, bytes], object]:
    """What a worker runs per frame: the full analysis, identity on every n-th frame of an attempt,
    the full-resolution pass on every ``thorough_every_n_frames``-th (and on identity frames)."""
    n, n_full = settings.identity_every_n_frames, settings.thorough_every_n_frames
    return lambda i, f: analyze_frame(
        f, settings, enrolment if i % n == 0 else None, thorough=i % n == 0 or bool(n_full and i % n_full == 0)
    )


def stillness_check(settings: ProctorSettings, frames: list[bytes]) -> Callable[[int, bytes], object]:
    """What a worker adds per stored frame: compare its thumbnail with a full window of earlier ones."""
    from proctor.analysis.sequence import StillnessTracker

    thumbs = [analyze_frame(f, settings).thumb for f in frames]
    rng = np.random.default_rng(1)  # a live camera: no earlier picture equals this one, every one is compared
    window = [
        (thumbs[k % len(thumbs)] + rng.integers(1, 3, thumbs[0].shape)).clip(0, 255).astype(np.uint8)
        for k in range(settings.replay_window_frames)
    ]

    def check(i: int, frame: bytes) -> object:
        tracker = StillnessTracker(settings)
        tracker.resume(window)
        return tracker.feed(thumbs[i % len(thumbs)])

    return check


def _parallel_worker(args: tuple[int, int]) -> float:
    """One worker process on one core: seconds for ``count`` frames of the server's mix."""
    count, seed = args
    pin_threads()  # as a worker process runs: one OpenMP/OpenCV thread unless OMP_NUM_THREADS says
    settings = ProctorSettings()
    warm_up(settings)
    frames, photo = webcam_frames(24)
    enrolment = enrol(photo, settings)
    work = server_mix(settings, enrolment)
    for i in range(3):
        work(i + 1, frames[i])
    start = time.perf_counter()
    for i in range(count):
        work(i + seed, frames[i % len(frames)])
    return time.perf_counter() - start


def parallel_rate(processes: int, count: int) -> float:
    """Frames per second of ``processes`` worker processes side by side (the 2-core figure)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        pool.map(_parallel_worker, [(2, 0)] * processes)  # imports and models loaded before the clock starts
        start = time.perf_counter()
        pool.map(_parallel_worker, [(count, k) for k in range(processes)])
        wall = time.perf_counter() - start
    return processes * count / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    pin_threads()  # as a worker process runs: one OpenMP/OpenCV thread unless OMP_NUM_THREADS says
    settings = ProctorSettings()
    frames, photo = webcam_frames(args.frames)

    start = time.perf_counter()
    detector = warm_up(settings)
    load_seconds = time.perf_counter() - start
    enrolment = enrol(photo, settings)

    full = replace(settings, detect_max_side_px=640)
    n = settings.identity_every_n_frames
    MIX = f"server mix: identity on every {n}th frame, full pass on every {settings.thorough_every_n_frames}th"  # noqa: N806
    cases: dict[str, Callable[[int, bytes], object]] = {
        "baseline: JPEG decode only": lambda i, f: to_bgr(f),
        "detection at 640 px (decode + detect)": lambda i, f: detect_faces(to_bgr(f), full),
        f"detection at {settings.detect_max_side_px} px (the default)": lambda i, f: detect_faces(to_bgr(f), settings),
        "full analysis at 640 px, no identity": lambda i, f: analyze_frame(f, full),
        "full analysis, no identity": lambda i, f: analyze_frame(f, settings),
        "full analysis with identity": lambda i, f: analyze_frame(f, settings, enrolment),
        MIX: server_mix(settings, enrolment),
        f"frozen/replayed check, {settings.replay_window_frames}-frame window": stillness_check(settings, frames),
    }
    print(f"detector: {detector}; import {IMPORT_SECONDS * 1000:.0f} ms; model load {load_seconds * 1000:.0f} ms")
    print(f"{args.frames} frames of {W}x{H} JPEG, median of {args.runs} runs, 1 thread")
    rates = {}
    for name, work in cases.items():
        fps, ms = rate(work, frames, args.runs)
        rates[name] = fps
        print(f"  {name:<44} {fps:7.1f} frames/s/core  {ms:7.1f} ms/frame")
    mix = rates[MIX] / rates["baseline: JPEG decode only"]
    print(f"server mix / baseline (decode only) throughput per core: {mix:.3f}")
    together = parallel_rate(args.processes, args.frames * 3)
    print(
        f"server mix on {args.processes} worker processes side by side: {together:.1f} frames/s "
        f"(target ≥ 100 on 2 cores)"
    )


if __name__ == "__main__":
    main()
