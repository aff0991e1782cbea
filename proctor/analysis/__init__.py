"""Frame analysis: numpy BGR image or JPEG bytes in, findings out.

Pure and process-safe: nothing is loaded at import; detectors and dlib models are
built on first use in each process, so ``ProcessPoolExecutor`` workers (or the
``proctor-worker`` consuming a Redis Stream) import this package and call
:func:`analyze_frame` directly. The first call in a process pays the model loading
(~0.1 s); warm the pool with :func:`warm_up`.
"""

from __future__ import annotations

from proctor.analysis.cli import analyze_images, format_result
from proctor.analysis.frame import FrameReport, analyze_frame, detect_faces, enrol
from proctor.analysis.identity import Descriptor, IdentityResult, UnknownReason, Verdict
from proctor.analysis.screen import ScreenReport, analyze_screenshot
from proctor.analysis.sequence import StillnessTracker, observe_sequence
from proctor.settings import ProctorSettings


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
    "warm_up",
]
