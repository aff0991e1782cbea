"""Screenshots that do not show the exam page are flagged, without any model."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from proctor.analysis.screen import analyze_screenshot
from proctor.kinds import FlagKind
from proctor.settings import ProctorSettings


def exam_page(width: int = 1280, height: int = 720) -> np.ndarray:
    """White page, accent header, dark question text, grey hints (the default palette)."""
    page = np.full((height, width, 3), 255, np.uint8)
    cv2.rectangle(page, (0, 0), (width, 60), ProctorSettings().screen_marker_bgr, -1)
    for row in range(5):
        cv2.putText(page, "Question text " * 4, (40, 140 + 60 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (33, 37, 41), 2)
    cv2.putText(page, "Time left 12:00", (40, 600), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (108, 117, 125), 2)
    return page


def test_the_exam_page_is_not_flagged_even_re_compressed() -> None:
    jpeg = cv2.imencode(".jpg", exam_page(), [cv2.IMWRITE_JPEG_QUALITY, 60])[1].tobytes()
    report = analyze_screenshot(jpeg)
    assert report.found == frozenset() and report.background_share > 0.8 and report.marker_share > 0.05


def test_a_photo_a_dark_editor_or_a_white_document_is_another_application() -> None:
    photo = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (1280, 720))
    editor = np.full((720, 1280, 3), (46, 42, 40), np.uint8)
    white_document = np.full((720, 1280, 3), 255, np.uint8)
    cv2.putText(white_document, "Cheat sheet", (40, 140), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (33, 37, 41), 2)
    for image in (photo, editor, white_document):
        assert analyze_screenshot(image).found == {FlagKind.OTHER_APPLICATION_ON_SCREEN}


def test_a_small_window_over_the_exam_page_is_tolerated_and_a_large_one_is_not() -> None:
    settings = ProctorSettings()
    small, large = exam_page(), exam_page()
    small[500:700, 900:1260] = (46, 42, 40)
    large[80:700, 100:1200] = (46, 42, 40)
    assert analyze_screenshot(small, settings).found == frozenset()
    assert analyze_screenshot(large, settings).found == {FlagKind.OTHER_APPLICATION_ON_SCREEN}
