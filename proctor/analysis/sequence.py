"""Checks over a sequence of frames rather than one: frozen or replayed camera."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np

from proctor.analysis.frame import FrameReport
from proctor.analysis.image import mean_abs_diff
from proctor.kinds import FlagKind
from proctor.settings import ProctorSettings
from proctor.signals import FrameObservation

_STILLNESS_KINDS = frozenset({FlagKind.CAMERA_FROZEN, FlagKind.CAMERA_REPLAYED})


class StillnessTracker:
    """Per-attempt state fed frame by frame, in order.

    *Frozen*: the picture equals the previous one (a live sensor always adds noise).
    *Replayed*: the picture changed since the previous frame but equals an older one
    from the window — a recorded loop played back as the camera.
    """

    def __init__(self, settings: ProctorSettings) -> None:
        self._limit = settings.still_max_mean_abs_diff
        self._recent: deque[np.ndarray] = deque(maxlen=max(2, settings.replay_window_frames))

    def resume(self, earlier: Iterable[np.ndarray]) -> None:
        """Take up where an earlier tracker stopped: the thumbnails of the frames before the
        next one, oldest first. They were judged when they arrived; only the next frame is
        compared (feeding them again compared each with all before it: 1,770 comparisons
        for a window of 60, more than the analysis of the frame itself)."""
        self._recent.extend(earlier)

    def feed(self, thumb: np.ndarray, face: bool = True) -> tuple[frozenset[FlagKind], frozenset[FlagKind]]:
        """(found, checked) for this frame.

        Only a frame that shows a face is judged: a live face moves between two frames 5 s
        apart (a 1-pixel move gives a difference ≥ 2.8), while a still, low-noise empty room
        (sensor noise σ 0.3) differs from itself by less than the threshold and would look
        frozen or replayed. Its thumbnail is kept for the frames after it."""
        if not face:
            self._recent.append(thumb)
            return frozenset(), frozenset()
        if not self._recent:
            self._recent.append(thumb)
            return frozenset(), frozenset()
        found: frozenset[FlagKind] = frozenset()
        if mean_abs_diff(thumb, self._recent[-1]) < self._limit:
            found = frozenset({FlagKind.CAMERA_FROZEN})
        elif any(mean_abs_diff(thumb, old) < self._limit for old in list(self._recent)[:-1]):
            found = frozenset({FlagKind.CAMERA_REPLAYED})
        self._recent.append(thumb)
        return found, _STILLNESS_KINDS

    def observe(self, report: FrameReport) -> tuple[frozenset[FlagKind], frozenset[FlagKind]]:
        """Like :meth:`feed`, but a covered (flat) picture is not compared: every
        covered frame looks like the last one, and ``camera_covered`` already says why."""
        if FlagKind.CAMERA_COVERED in report.found:
            return frozenset(), frozenset()
        return self.feed(report.thumb, face=report.face_count > 0)


def observe_sequence(
    frames: Iterable[tuple[str, float, FrameReport]], settings: ProctorSettings | None = None
) -> list[FrameObservation]:
    """Observations of an attempt's frames (id, time, report) with the stillness checks added."""
    settings = settings or ProctorSettings()
    tracker = StillnessTracker(settings)
    observations = []
    for frame_id, t, report in sorted(frames, key=lambda item: item[1]):
        found, checked = tracker.observe(report)
        observations.append(FrameObservation(frame_id, t, report.found | found, report.checked | checked))
    return observations
