"""Who is in front of the camera: 128-d dlib face descriptors compared by distance.

The models are the CC0 files of the ``face-recognition-models`` wheel, read from the
installed package (never downloaded). They are loaded on first use in each process.
When identity cannot be evaluated — no face, several faces, a face too small, models
missing — the verdict is ``unknown`` with a reason: the system never guesses.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from proctor.analysis.detectors import FaceBox, Landmarks
from proctor.kinds import N_
from proctor.settings import ProctorSettings


class Verdict(StrEnum):
    SAME = "same"
    DIFFERENT = "different"
    UNKNOWN = "unknown"


class UnknownReason(StrEnum):
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    MODELS_MISSING = "models_missing"
    NO_ENROLMENT = "no_enrolment"
    BORDERLINE = "borderline_distance"


REASON_TEXT: dict[UnknownReason, str] = {
    UnknownReason.NO_FACE: N_("Identity not checked: no face found"),
    UnknownReason.SEVERAL_FACES: N_("Identity not checked: several faces found"),
    UnknownReason.FACE_TOO_SMALL: N_("Identity not checked: the face is too small"),
    UnknownReason.MODELS_MISSING: N_("Identity not checked: the face recognition models are not installed"),
    UnknownReason.NO_ENROLMENT: N_("Identity not checked: the enrolment photo has no usable face"),
    UnknownReason.BORDERLINE: N_("Identity uncertain: distance {distance} is between the thresholds"),
}


@dataclass(frozen=True)
class IdentityResult:
    verdict: Verdict
    distance: float | None = None
    reason: UnknownReason | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "distance": None if self.distance is None else round(self.distance, 4),
            "reason": None if self.reason is None else self.reason.value,
        }


@dataclass(frozen=True)
class Descriptor:
    """A face's 128-d embedding, or why there is none."""

    vector: tuple[float, ...] | None
    reason: UnknownReason | None = None


class _DlibModels:
    def __init__(self, models_dir: Path) -> None:
        import dlib

        self.shape5 = dlib.shape_predictor(str(models_dir / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(models_dir / "dlib_face_recognition_resnet_model_v1.dat"))
        self.rectangle = dlib.rectangle


def _models_dir() -> Path | None:
    # Located without importing face_recognition_models (its __init__ pulls in pkg_resources).
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@functools.lru_cache(maxsize=1)
def dlib_models() -> _DlibModels | None:
    """This process's dlib models, or ``None`` when dlib or the model files are absent."""
    models_dir = _models_dir()
    if models_dir is None or importlib.util.find_spec("dlib") is None:
        return None
    return _DlibModels(models_dir)


def _shape(models: _DlibModels, rgb: np.ndarray, face: FaceBox) -> Any:
    rect = models.rectangle(face.x, face.y, face.x + face.w, face.y + face.h)
    return models.shape5(rgb, rect)


def dlib_landmarks(bgr: np.ndarray, face: FaceBox) -> Landmarks | None:
    """Eye centres and nose base from dlib's 5-point model, for detectors without landmarks."""
    models = dlib_models()
    if models is None:
        return None
    shape = _shape(models, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), face)
    p = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(5)]
    eye_a = ((p[0][0] + p[1][0]) / 2, (p[0][1] + p[1][1]) / 2)
    eye_b = ((p[2][0] + p[3][0]) / 2, (p[2][1] + p[3][1]) / 2)
    left, right = sorted((eye_a, eye_b))
    return Landmarks(left, right, p[4])


def describe(bgr: np.ndarray, faces: list[FaceBox], settings: ProctorSettings) -> Descriptor:
    """The descriptor of the only face in the picture, or the reason it cannot be had."""
    if not faces:
        return Descriptor(None, UnknownReason.NO_FACE)
    if len(faces) > 1:
        return Descriptor(None, UnknownReason.SEVERAL_FACES)
    face = faces[0]
    if face.side < settings.identity_min_face_px:
        return Descriptor(None, UnknownReason.FACE_TOO_SMALL)
    models = dlib_models()
    if models is None:
        return Descriptor(None, UnknownReason.MODELS_MISSING)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    vector = models.encoder.compute_face_descriptor(rgb, _shape(models, rgb, face))
    return Descriptor(tuple(float(v) for v in vector))


def compare(enrolment: Descriptor, probe: Descriptor, settings: ProctorSettings) -> IdentityResult:
    """Same / different / unknown from two descriptors and the two thresholds."""
    if enrolment.vector is None:
        reason = (
            UnknownReason.MODELS_MISSING
            if enrolment.reason is UnknownReason.MODELS_MISSING
            else UnknownReason.NO_ENROLMENT
        )
        return IdentityResult(Verdict.UNKNOWN, reason=reason)
    if probe.vector is None:
        return IdentityResult(Verdict.UNKNOWN, reason=probe.reason)
    distance = float(np.linalg.norm(np.subtract(enrolment.vector, probe.vector)))
    if distance <= settings.identity_same_max_distance:
        return IdentityResult(Verdict.SAME, distance)
    if distance >= settings.identity_different_min_distance:
        return IdentityResult(Verdict.DIFFERENT, distance)
    return IdentityResult(Verdict.UNKNOWN, distance, UnknownReason.BORDERLINE)
