"""Screenshots of the shared screen: does it show the exam page? (No model needed.)

The exam page is mostly its light background and always shows a header bar in a
distinctive accent colour (the marker). A screenshot with too little of either
shows something else — another application, a dark editor, a photo, a white
document without the marker — and is flagged as ``other_application_on_screen``.
Cheap enough for every screenshot; the colours follow the exam page's stylesheet.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from proctor.analysis.image import to_bgr
from proctor.kinds import FlagKind
from proctor.settings import ProctorSettings


@dataclass(frozen=True)
class ScreenReport:
    background_share: float
    marker_share: float
    """Fractions of pixels within the tolerance of the page's background / marker colour."""
    found: frozenset[FlagKind]


def _share_near(pixels: np.ndarray, colours: np.ndarray, tolerance: int) -> float:
    distance = np.abs(pixels[:, None, :] - colours[None, :, :]).max(axis=2).min(axis=1)
    return float((distance <= tolerance).mean())


def analyze_screenshot(image: bytes | np.ndarray, settings: ProctorSettings | None = None) -> ScreenReport:
    settings = settings or ProctorSettings()
    bgr = to_bgr(image)
    small = cv2.resize(bgr, (320, max(1, round(320 * bgr.shape[0] / bgr.shape[1]))), interpolation=cv2.INTER_AREA)
    pixels = small.reshape(-1, 3).astype(np.int16)
    tolerance = settings.screen_colour_tolerance
    background = _share_near(pixels, np.array(settings.screen_background_bgr, np.int16), tolerance)
    marker = _share_near(pixels, np.array([settings.screen_marker_bgr], np.int16), tolerance)
    exam_visible = background >= settings.screen_min_background_share and marker >= settings.screen_min_marker_share
    found = frozenset() if exam_visible else frozenset({FlagKind.OTHER_APPLICATION_ON_SCREEN})
    return ScreenReport(background_share=background, marker_share=marker, found=found)
