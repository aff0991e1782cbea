"""Analysis of image files, for ``exam-engine proctor analyze IMAGE... [--enrol PHOTO]``.

Operators tune thresholds with it, and it checks the analysis from outside the
server: the same :func:`analyze_frame` the workers run, on files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proctor.analysis.frame import analyze_frame, enrol
from proctor.analysis.identity import REASON_TEXT
from proctor.analysis.sequence import StillnessTracker
from proctor.errors import ProctorError
from proctor.settings import ProctorSettings


def analyze_images(
    paths: Sequence[str | Path], enrol_path: str | Path | None = None, settings: ProctorSettings | None = None
) -> list[dict[str, Any]]:
    """One JSON-ready dict per image, in the given order.

    Each holds ``path``, ``face_count``, ``faces``, ``brightness``, ``contrast``,
    ``covered``, ``dark``, ``yaw_deg``, ``roll_deg``, ``identity`` (verdict,
    distance, reason — ``None`` without an enrolment photo), ``findings`` and, for an
    unreadable file, ``error`` (its code) instead. The images are also treated as a
    sequence, so a repeated file shows ``camera_frozen``/``camera_replayed``.
    """
    settings = settings or ProctorSettings()
    enrolment = enrol(Path(enrol_path).read_bytes(), settings) if enrol_path is not None else None
    tracker = StillnessTracker(settings)
    results: list[dict[str, Any]] = []
    for path in paths:
        try:
            report = analyze_frame(Path(path).read_bytes(), settings, enrolment)
        except (ProctorError, OSError) as exc:
            results.append({"path": str(path), "error": getattr(exc, "code", "file_unreadable")})
            continue
        found, _ = tracker.observe(report)
        entry = {"path": str(path), **report.as_dict()}
        entry["findings"] = sorted({*entry["findings"], *(kind.value for kind in found)})
        identity = report.identity
        if identity is not None and identity.reason is not None:
            entry["identity"]["explanation"] = REASON_TEXT[identity.reason]
        results.append(entry)
    return results


def format_result(entry: dict[str, Any]) -> str:
    """One human-readable line per image (the non-``--json`` output)."""
    if "error" in entry:
        return f"{entry['path']}: error {entry['error']}"
    parts = [f"faces={entry['face_count']}", f"brightness={entry['brightness']}"]
    if entry["yaw_deg"] is not None:
        parts.append(f"yaw={entry['yaw_deg']}°")
    if entry["identity"] is not None:
        ident = entry["identity"]
        distance = "-" if ident["distance"] is None else ident["distance"]
        parts.append(f"identity={ident['verdict']} distance={distance}")
        if ident["reason"]:
            parts.append(f"({ident['reason']})")
    findings = ",".join(entry["findings"]) or "none"
    return f"{entry['path']}: " + " ".join(parts) + f" findings={findings}"


__all__ = ["analyze_images", "format_result"]
