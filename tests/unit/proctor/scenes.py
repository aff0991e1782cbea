"""A labelled set of webcam scenes built from public-domain images in scikit-image.

* the person: ``astronaut()`` (Eileen Collins, NASA, public domain); enrolment uses
  the original photo, the webcam frames show it mirrored (as webcams do), scaled,
  re-compressed and with sensor noise, so identity is not compared with itself;
* a different person: ``camera()`` (the cameraman) — the only other human face in
  ``skimage.data``; he is seen in three-quarter view, so his scenes are labelled
  both ``identity_mismatch`` and ``head_turned``;
* no face: an empty wall (``brick()``), the cat ``chelsea()``, ``coffee()``, ``rocket()``;
* two faces: two face crops pasted side by side;
* rotated (roll ±25–30°), dark, covered, frozen and replayed sequences: made from those.

Each scene is a short segment of frames 5 s apart with fresh sensor noise per frame,
run through the same pipeline as an attempt: analyse → observe sequence → flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from skimage import data

from proctor.kinds import FlagKind

W, H = 640, 480
ASTRONAUT_FACE = (130, 15, 190, 230)  # x, y, w, h: head and hair in astronaut()
CAMERAMAN_FACE = (170, 70, 120, 150)  # head and hat in camera()


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def astronaut() -> np.ndarray:
    return _bgr(data.astronaut())


def cameraman() -> np.ndarray:
    return _bgr(data.camera())


def wall() -> np.ndarray:
    brick = cv2.resize(_bgr(data.brick()), (W, H))
    tinted = (brick.astype(np.float32) * np.array([0.8, 0.9, 1.0]) * 0.8 + 30).clip(0, 255)
    return cv2.GaussianBlur(tinted.astype(np.uint8), (0, 0), 3)


def place(canvas: np.ndarray, image: np.ndarray, x: int, y: int, height: int) -> np.ndarray:
    out = canvas.copy()
    width = round(image.shape[1] * height / image.shape[0])
    width, height = min(width, W - x), min(height, H - y)
    out[y : y + height, x : x + width] = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)[
        :height, :width
    ]
    return out


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return image[y : y + h, x : x + w]


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((W / 2, H / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (W, H), borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))


def person(x: int = 100, height: int = 470, mirrored: bool = True) -> np.ndarray:
    face = astronaut()[:, ::-1] if mirrored else astronaut()
    return place(wall(), face, x, H - height, height)


def jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def live(image: np.ndarray, seed: int, sigma: float = 2.0) -> bytes:
    """One webcam frame of a still scene: sensor noise and a 1–2 px sway."""
    rng = np.random.default_rng(seed)
    dx, dy = rng.integers(-2, 3, size=2)
    moved = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (W, H), borderMode=cv2.BORDER_REPLICATE)
    noisy = moved.astype(np.float32) + rng.normal(0, sigma, moved.shape)
    return jpeg(noisy.clip(0, 255).astype(np.uint8))


def flat(bgr: tuple[int, int, int], seed: int) -> np.ndarray:
    """A lens covered by a finger or tape: one colour, a soft gradient, a little noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-4, 4, W, dtype=np.float32)[None, :, None]
    image = np.array(bgr, np.float32)[None, None, :] + ramp + rng.normal(0, 1.0, (H, W, 3))
    return image.clip(0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Scene:
    name: str
    expected: frozenset[FlagKind]
    frames: Callable[[], list[bytes]]
    """Frames 5 s apart."""


def _segment(image_fn: Callable[[], np.ndarray], count: int = 3) -> Callable[[], list[bytes]]:
    return lambda: [live(image_fn(), seed) for seed in range(count)]


def scenes() -> list[Scene]:
    k = FlagKind
    none: frozenset[FlagKind] = frozenset()
    a, c = astronaut(), cameraman()
    face_a, face_c = crop(a, ASTRONAUT_FACE), crop(c, CAMERAMAN_FACE)
    stills = [live(person(x=60 + 20 * i), 100 + i) for i in range(3)]
    return [
        Scene("one face", none, _segment(lambda: person())),
        Scene("one face, smaller, left", none, _segment(lambda: person(x=20, height=320))),
        Scene("one face, not mirrored", none, _segment(lambda: person(mirrored=False))),
        Scene("one face, brighter", none, _segment(lambda: cv2.convertScaleAbs(person(), alpha=1.1, beta=25))),
        Scene("rotated +25°", none, _segment(lambda: rotate(person(), 25))),
        Scene("rotated -25°", none, _segment(lambda: rotate(person(), -25))),
        Scene("rotated +30°", none, _segment(lambda: rotate(person(), 30))),
        Scene("empty wall", frozenset({k.NO_FACE}), _segment(wall)),
        Scene("cat", frozenset({k.NO_FACE}), _segment(lambda: place(wall(), _bgr(data.chelsea()), 80, 100, 300))),
        Scene("coffee", frozenset({k.NO_FACE}), _segment(lambda: place(wall(), _bgr(data.coffee()), 20, 80, 380))),
        Scene("rocket", frozenset({k.NO_FACE}), _segment(lambda: place(wall(), _bgr(data.rocket()), 0, 40, 420))),
        Scene(
            "two faces: person and cameraman",
            frozenset({k.SEVERAL_FACES}),
            _segment(lambda: place(place(wall(), face_a, 40, 120, 300), face_c, 360, 120, 300)),
        ),
        Scene(
            "two faces: person twice",
            frozenset({k.SEVERAL_FACES}),
            _segment(lambda: place(place(wall(), face_a[:, ::-1], 30, 150, 260), face_a, 350, 150, 260)),
        ),
        Scene(
            "two faces: small second face behind",
            frozenset({k.SEVERAL_FACES}),
            _segment(lambda: place(place(wall(), face_c, 470, 40, 160), face_a, 80, 120, 340)),
        ),
        Scene("dark room", frozenset({k.CAMERA_DARK}), _segment(lambda: cv2.convertScaleAbs(person(), alpha=0.15))),
        Scene(
            "very dark room", frozenset({k.CAMERA_DARK}), _segment(lambda: cv2.convertScaleAbs(person(), alpha=0.08))
        ),
        Scene(
            "covered by a finger",
            frozenset({k.CAMERA_COVERED}),
            lambda: [jpeg(flat((90, 120, 170), s)) for s in range(3)],
        ),
        Scene("covered, black", frozenset({k.CAMERA_COVERED}), lambda: [jpeg(flat((6, 6, 6), s)) for s in range(3)]),
        Scene(
            "covered by tape", frozenset({k.CAMERA_COVERED}), lambda: [jpeg(flat((200, 200, 190), s)) for s in range(3)]
        ),
        Scene(
            "different person",
            frozenset({k.IDENTITY_MISMATCH, k.HEAD_TURNED}),
            _segment(lambda: place(wall(), c, 80, 0, 480)),
        ),
        Scene(
            "different person, close up",
            frozenset({k.IDENTITY_MISMATCH, k.HEAD_TURNED}),
            _segment(lambda: place(wall(), crop(c, (100, 20, 300, 300)), 120, 40, 420)),
        ),
        Scene(
            "different person, tilted 20°",
            frozenset({k.IDENTITY_MISMATCH, k.HEAD_TURNED}),
            _segment(lambda: rotate(place(wall(), c, 80, 0, 480), 20)),
        ),
        Scene("frozen camera", frozenset({k.CAMERA_FROZEN}), lambda: [stills[0]] * 4),
        Scene("replayed loop", frozenset({k.CAMERA_REPLAYED}), lambda: stills + stills),
    ]
