"""Frame analysis: numpy BGR image or JPEG bytes in, findings out.

Pure and process-safe: nothing is loaded at import; detectors and dlib models are
built on first use in each process, so ``ProcessPoolExecutor`` workers (or the
``proctor-worker`` consuming a Redis Stream) import this package and call
:func:`analyze_frame` directly. The first call in a process pays the model loading
(~0.1 s); warm the pool with :func:`warm_up`.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from proctor.analysis.cli import analyze_images, format_result
from proctor.analysis.frame import FrameReport, analyze_frame, detect_faces, enrol
from proctor.analysis.identity import Descriptor, IdentityResult, UnknownReason, Verdict
from proctor.analysis.screen import ScreenReport, analyze_screenshot
from proctor.analysis.sequence import StillnessTracker, observe_sequence
from proctor.settings import ProctorSettings


def pin_threads(environ: MutableMapping[str, str] = os.environ) -> int:
    """One thread of OpenMP and OpenCV in an analysis process; returns the count used.

    Analysis scales by processes (the embedded pool, ``proctor-worker`` × cores), and each
    job runs in its own thread. Left alone, the face detector's OpenMP (libgomp) starts one
    spinning thread per core in every process: two worker processes on two cores analysed
    59 frames/s instead of 115 (``bench/bench_frames.py`` with ``OMP_NUM_THREADS`` 2 and 1).
    An operator's ``OMP_NUM_THREADS`` is kept. libgomp reads it once, when the detector is
    first loaded, so this runs at the start of the process, before :func:`warm_up`.
    """
    import cv2

    value = environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        threads = max(1, int(value.split(",")[0]))  # "4,2": the outer level's count
    except ValueError:
        threads = 1
    cv2.setNumThreads(threads)
    return threads


def warm_up(settings: ProctorSettings | None = None) -> str:
    """Load this process's detector and identity models; returns the detector's name.

    Meant as a pool initializer so the first real frame is not slow.
    """
    import numpy as np

    from proctor.analysis.identity import dlib_models

    settings = settings or ProctorSettings()
    name, _ = detect_faces(np.zeros((48, 64, 3), np.uint8), settings)
    dlib_models()
    return name


__all__ = [
    "Descriptor",
    "FrameReport",
    "IdentityResult",
    "ScreenReport",
    "StillnessTracker",
    "UnknownReason",
    "Verdict",
    "analyze_frame",
    "analyze_images",
    "analyze_screenshot",
    "detect_faces",
    "enrol",
    "format_result",
    "observe_sequence",
    "pin_threads",
    "warm_up",
]
