"""The CPU-heavy part of one analysis job, run in a worker process (pool or ``proctor-worker``).

Plain bytes in, a plain dict out, so jobs cross process boundaries by pickling.
Per-attempt state (the previous frames' thumbnails, the flags) is handled by the
caller around these functions, so any worker can take any frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from proctor.analysis import analyze_frame, analyze_screenshot, detect_faces, enrol, pin_threads, warm_up
from proctor.analysis.identity import Descriptor
from proctor.analysis.image import THUMB_SIZE, to_bgr
from proctor.burst import pack_burst, unpack_burst  # noqa: F401 - part of this module's API
from proctor.errors import ImageUnreadable
from proctor.kinds import FlagKind
from proctor.settings import ProctorSettings


def thumb_bytes(thumb: np.ndarray) -> bytes:
    return np.ascontiguousarray(thumb, dtype=np.uint8).tobytes()


def thumb_array(raw: bytes) -> np.ndarray:
    width, height = THUMB_SIZE
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width)


def _sorted(kinds: frozenset[FlagKind]) -> list[str]:
    return sorted(kind.value for kind in kinds)


def frame_job(
    jpeg: bytes, enrolment: list[float] | None, check_identity: bool, thorough: bool = False
) -> dict[str, Any]:
    """One webcam frame; ``thorough``: detection at full resolution (the identity frames always)."""
    settings = ProctorSettings()
    descriptor = Descriptor(tuple(enrolment)) if enrolment is not None and check_identity else None
    full = thorough or descriptor is not None
    report = analyze_frame(jpeg, settings, descriptor, thorough=full)
    summary = {**report.as_dict(), "full_pass": full}
    return {
        "found": _sorted(report.found),
        "checked": _sorted(report.checked),
        "summary": summary,
        "covered": FlagKind.CAMERA_COVERED in report.found,
        "thumb": thumb_bytes(report.thumb),
    }


def enrol_job(jpeg: bytes) -> dict[str, Any]:
    descriptor = enrol(jpeg, ProctorSettings())
    return {
        "vector": None if descriptor.vector is None else list(descriptor.vector),
        "reason": None if descriptor.reason is None else descriptor.reason.value,
    }


def screen_job(jpeg: bytes) -> dict[str, Any]:
    report = analyze_screenshot(jpeg, ProctorSettings())
    kind = [FlagKind.OTHER_APPLICATION_ON_SCREEN.value]
    return {
        "found": _sorted(report.found),
        "checked": kind,
        "summary": {
            "background_share": round(report.background_share, 3),
            "marker_share": round(report.marker_share, 3),
        },
    }


def roomscan_job(blob: bytes) -> dict[str, Any]:
    """Face counts over the scan; a second person anywhere in the room is ``several_faces``."""
    settings = ProctorSettings()
    counts = [len(detect_faces(to_bgr(frame), settings, thorough=True)[1]) for frame in unpack_burst(blob)]
    found = [FlagKind.SEVERAL_FACES.value] if any(count > 1 for count in counts) else []
    return {"found": found, "checked": [FlagKind.SEVERAL_FACES.value], "summary": {"face_counts": counts}}


def run_job(
    job_type: str,
    plaintext: bytes,
    enrolment: list[float] | None = None,
    check_identity: bool = False,
    thorough: bool = False,
) -> dict[str, Any]:
    """The dispatcher a pool or a worker calls; an unreadable image gives an ``error``."""
    try:
        if job_type == "frame":
            return frame_job(plaintext, enrolment, check_identity, thorough)
        if job_type == "enrolment":
            return enrol_job(plaintext)
        if job_type == "screen":
            return screen_job(plaintext)
        if job_type == "roomscan":
            return roomscan_job(plaintext)
    except ImageUnreadable as exc:
        return {"error": exc.code, "found": [], "checked": []}
    raise ValueError(f"unknown analysis job {job_type!r}")


def initialise_worker() -> None:
    """Start of an analysis process (pool initializer, ``proctor-worker``): one OpenMP/OpenCV
    thread (:func:`~proctor.analysis.pin_threads`), then the detector and identity models loaded once."""
    pin_threads()
    warm_up(ProctorSettings())
