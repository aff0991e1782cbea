"""Face detectors that ship inside PyPI packages and run offline.

* ``yuface`` — libfacedetection's YuNet-class CNN compiled into the wheel (default).
* ``yunet`` — OpenCV's ``cv2.FaceDetectorYN`` with a YuNet ``.onnx`` the operator
  configured (opencv-python-headless does not ship the model file).
* ``haar`` — the frontal-face cascade bundled with OpenCV. Only a fallback: it misses
  rotated and turned faces and gives no landmarks.

Detectors are built lazily, once per process (:func:`detector_for`), so the module
is safe to import in ``ProcessPoolExecutor`` workers: nothing is loaded or shared
at import time.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from proctor.errors import DetectorUnavailable

Point = tuple[float, float]


@dataclass(frozen=True)
class Landmarks:
    """Five points in image coordinates; "left" means the image's left."""

    left_eye: Point
    right_eye: Point
    nose: Point
    mouth_left: Point | None = None
    mouth_right: Point | None = None


@dataclass(frozen=True)
class FaceBox:
    x: int
    y: int
    w: int
    h: int
    score: float
    landmarks: Landmarks | None = None

    @property
    def side(self) -> int:
        return min(self.w, self.h)


class FaceDetector(Protocol):
    name: str

    def detect(self, bgr: np.ndarray, min_confidence: float) -> list[FaceBox]: ...


def _landmarks_from_flat(values: np.ndarray, scale: float) -> Landmarks:
    """YuNet order: eye, eye, nose tip, mouth corner, mouth corner (x, y pairs)."""
    p = [(float(values[i]) * scale, float(values[i + 1]) * scale) for i in range(0, 10, 2)]
    eyes = sorted(p[0:2])
    mouth = sorted(p[3:5])
    return Landmarks(eyes[0], eyes[1], p[2], mouth[0], mouth[1])


def _shrink(bgr: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale to the detector's working size; return the factor back to the original."""
    height, width = bgr.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return bgr, 1.0
    factor = max_side / longest
    small = cv2.resize(bgr, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)
    return small, 1.0 / factor


class YuFaceDetector:
    name = "yuface"

    def __init__(self, max_side: int) -> None:
        try:
            import yuface
        except ImportError as exc:  # the wheel is missing on this platform
            raise DetectorUnavailable(
                "detector_unavailable", "The face detector {name} is not available", name="yuface"
            ) from exc
        self._detect = yuface.c_detect
        self._max_side = max_side

    def detect(self, bgr: np.ndarray, min_confidence: float) -> list[FaceBox]:
        small, scale = _shrink(bgr, self._max_side)
        # c_detect returns rows of int16: score 0–100, x, y, w, h, 10 landmark coords, pad.
        rows = self._detect(np.ascontiguousarray(small))
        faces = []
        for row in rows:
            score = float(row[0]) / 100.0
            if score < min_confidence:
                continue
            x, y, w, h = (int(round(float(v) * scale)) for v in row[1:5])
            faces.append(FaceBox(x, y, w, h, score, _landmarks_from_flat(row[5:15], scale)))
        return faces


class YuNetOnnxDetector:
    name = "yunet"

    def __init__(self, model_path: str, max_side: int) -> None:
        if not Path(model_path).is_file():
            raise DetectorUnavailable(
                "detector_model_missing", "The face detector model {path} does not exist", path=model_path
            )
        # Score threshold 0: filtering happens in detect(), with the caller's threshold.
        self._net = cv2.FaceDetectorYN.create(model_path, "", (320, 320), 0.0, 0.3, 50)
        self._max_side = max_side

    def detect(self, bgr: np.ndarray, min_confidence: float) -> list[FaceBox]:
        small, scale = _shrink(bgr, self._max_side)
        height, width = small.shape[:2]
        self._net.setInputSize((width, height))
        _, rows = self._net.detect(small)
        faces = []
        for row in rows if rows is not None else []:
            score = float(row[14])
            if score < min_confidence:
                continue
            x, y, w, h = (int(round(float(v) * scale)) for v in row[0:4])
            faces.append(FaceBox(x, y, w, h, score, _landmarks_from_flat(row[4:14], scale)))
        return faces


class HaarDetector:
    name = "haar"

    def __init__(self, max_side: int) -> None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise DetectorUnavailable("detector_unavailable", "The face detector {name} is not available", name="haar")
        self._max_side = max_side

    def detect(self, bgr: np.ndarray, min_confidence: float) -> list[FaceBox]:
        small, scale = _shrink(bgr, self._max_side)
        grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        boxes = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=6, minSize=(24, 24))
        # A cascade has no calibrated score; a kept detection counts as certain.
        faces = []
        for box in boxes:
            x, y, w, h = (int(round(float(v) * scale)) for v in box)
            faces.append(FaceBox(x, y, w, h, score=1.0))
        return faces


def yuface_installed() -> bool:
    return importlib.util.find_spec("yuface") is not None


@functools.lru_cache(maxsize=4)
def detector_for(kind: str, yunet_model_path: str | None, max_side: int) -> FaceDetector:
    """The detector of this process for a configuration, built on first use."""
    if kind == "auto":
        kind = "yunet" if yunet_model_path else ("yuface" if yuface_installed() else "haar")
    if kind == "yunet":
        if not yunet_model_path:
            raise DetectorUnavailable(
                "detector_model_missing", "The face detector model {path} does not exist", path=""
            )
        return YuNetOnnxDetector(yunet_model_path, max_side)
    if kind == "yuface":
        return YuFaceDetector(max_side)
    if kind == "haar":
        return HaarDetector(max_side)
    raise DetectorUnavailable("detector_unknown", "Unknown face detector {name}", name=kind)
