"""Malformed JPEGs at the frame check: a clear 422 every time, never a crash.

Inputs are real JPEGs damaged by hypothesis (truncated, bytes flipped, header mangled) and
random bytes that start like a JPEG; the check is the one every frame upload passes before
anything is stored.
"""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exam_engine.errors import InvalidInput
from exam_engine.services.proctoring import _check_jpeg

_rng = np.random.default_rng(7)
GOOD = cv2.imencode(".jpg", _rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))[1].tobytes()


def _check(data: bytes) -> None:
    try:
        width_height = _check_jpeg(data)
    except InvalidInput as error:
        assert error.code == "image_invalid"
        return
    # Accepted: then it must really decode to a picture of the size the header claims.
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and width_height[0] > 0 and width_height[1] > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(0, len(GOOD)),
    flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=20),
)
def test_a_damaged_jpeg_is_refused_cleanly_or_really_decodes(cut, flips):
    data = bytearray(GOOD[:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    _check(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_behind_a_jpeg_marker_are_refused(tail):
    _check(b"\xff\xd8\xff" + tail)


def test_the_intact_picture_passes():
    assert _check_jpeg(GOOD) == (64, 48)
