"""Decoding and picture-quality measures that need no model."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from proctor.errors import ImageUnreadable

THUMB_SIZE = (80, 60)
"""Width × height of the grey thumbnail kept per frame for frozen/replay checks:
4.8 kB, small enough to keep a window of them per attempt."""


def to_bgr(image: bytes | np.ndarray) -> np.ndarray:
    """An 8-bit BGR array from encoded bytes (JPEG/PNG) or an array (BGR, grey, BGRA)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        buffer = np.frombuffer(image, dtype=np.uint8)
        decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer.size else None
        if decoded is None:
            raise ImageUnreadable("image_unreadable", "The image cannot be decoded")
        return decoded
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or array.size == 0:
        raise ImageUnreadable("image_unreadable", "The image cannot be decoded")
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    if array.shape[2] != 3:
        raise ImageUnreadable("image_unreadable", "The image cannot be decoded")
    return np.ascontiguousarray(array)


@dataclass(frozen=True)
class Exposure:
    """Mean and spread of luminance (0–255).

    A covered lens gives a flat picture (tiny spread) whatever its brightness; a dark
    room keeps some spread. Both ruin the evidence, for different reasons.
    """

    mean: float
    std: float


def exposure(grey: np.ndarray) -> Exposure:
    mean, std = cv2.meanStdDev(grey)
    return Exposure(mean=float(mean[0][0]), std=float(std[0][0]))


def grey_of(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """Area-averaged 80×60 grey thumbnail used to compare frames with each other."""
    return cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.absdiff(a, b).mean())
