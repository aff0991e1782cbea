"""Head turn (yaw) and tilt (roll) from five face landmarks, without a 3-D model fit.

Model: the eyes lie in the face plane, the nose tip sits in front of it at a depth
``k × eye distance``. Turning the head by yaw θ moves the nose sideways from the
eye midpoint by ``k·E₀·sin θ`` while the eye distance shrinks to ``E₀·cos θ``, so
``offset / eye distance = k·tan θ``. Roll is removed first (a tilted head is not a
head looking away), which is why in-plane rotation of the frame leaves yaw near 0.

Measured on the fixture scenes: frontal faces tilted by up to ±40° read |yaw| ≤ 3°,
the cameraman's three-quarter view reads 46–67°.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from proctor.analysis.detectors import FaceBox, Landmarks


@dataclass(frozen=True)
class HeadPose:
    yaw_deg: float
    """Positive: the nose points to the image's right."""
    roll_deg: float


def head_pose(landmarks: Landmarks, nose_depth_ratio: float) -> HeadPose | None:
    """Yaw and roll in degrees, or ``None`` when the eyes coincide (degenerate points)."""
    (lx, ly), (rx, ry), (nx, ny) = landmarks.left_eye, landmarks.right_eye, landmarks.nose
    eye_distance = math.hypot(rx - lx, ry - ly)
    if eye_distance < 1e-6:
        return None
    roll = math.atan2(ry - ly, rx - lx)
    mx, my = (lx + rx) / 2, (ly + ry) / 2
    along_eyes = math.cos(roll) * (nx - mx) + math.sin(roll) * (ny - my)
    ratio = along_eyes / eye_distance
    yaw = math.atan(ratio / nose_depth_ratio)
    return HeadPose(yaw_deg=math.degrees(yaw), roll_deg=math.degrees(roll))


def upright_patch(bgr: np.ndarray, face: FaceBox, roll_deg: float) -> np.ndarray:
    """A square patch (twice the face) around the face, rotated so the eyes are level.

    The YuNet-class detectors regress landmarks for upright faces only; on a face
    tilted by 25° their eye points stay level and the nose lands off-centre, which
    reads as a head turn. Re-detecting on the levelled patch fixes that.
    """
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    side = int(2 * max(face.w, face.h))
    matrix = cv2.getRotationMatrix2D((cx, cy), roll_deg, 1.0)
    matrix[0, 2] += side / 2 - cx
    matrix[1, 2] += side / 2 - cy
    return cv2.warpAffine(bgr, matrix, (side, side), borderMode=cv2.BORDER_REPLICATE)
