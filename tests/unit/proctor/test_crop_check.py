"""The crop check of weak boxes: a small, soft second face is confirmed on a crop resized so the
face is ~64 px, where the crop at the frame's own pixels leaves it unconfirmed."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from proctor.analysis.frame import detect_faces
from proctor.settings import ProctorSettings
from tests.unit.proctor import evalset as ev

S = ProctorSettings()
# The design before 2026-12-07 (h21d): candidates from 0.3, the crop at its own pixels (≥ 128 px), 0.8.
OWN_PIXELS = replace(S, face_verify_crop_px=0, face_candidate_confidence=0.3, face_verify_confidence=0.8)


def _room(lfw_person: int | None) -> np.ndarray:
    """Student A close to the camera in a brick room and, when given, one of the LFW people with a
    32 px face at the back (upscaled from the 25 px crop), softened and sent as JPEG 60."""
    canvas = ev._backgrounds()[0].copy()
    ev._person(canvas, ev._sources()["A"], ev.FACE_A, 140, 250, 230, False)
    if lfw_person is not None:
        ev._lfw_person(canvas, ev._lfw_faces()[lfw_person], 32, 520, 130)
    blob = cv2.imencode(".jpg", cv2.GaussianBlur(canvas, (0, 0), 0.8), [cv2.IMWRITE_JPEG_QUALITY, 60])[1]
    return cv2.imdecode(blob, cv2.IMREAD_COLOR)


@pytest.mark.parametrize("person", [39, 54, 96])
def test_a_soft_32_px_second_face_is_confirmed_on_the_resized_crop(person: int) -> None:
    frame = _room(person)
    _, faces = detect_faces(frame, S, thorough=True)
    assert len(faces) == 2, faces
    second = faces[1]
    assert 440 < second.x + second.w / 2 < 600 and 60 < second.y + second.h / 2 < 200, second
    _, before = detect_faces(frame, OWN_PIXELS, thorough=True)
    assert len(before) == 1, before


def test_the_same_room_without_a_second_person_has_one_face_in_either_pass() -> None:
    frame = _room(None)
    assert len(detect_faces(frame, S)[1]) == 1
    assert len(detect_faces(frame, S, thorough=True)[1]) == 1
