"""A labelled set of webcam frames for ``exam-engine proctor eval DIR``, made with a seeded generator.

Only images that installed packages ship are used (nothing is downloaded, nothing committed):
scikit-image's ``astronaut()`` (person A, public domain) and ``camera()`` (person B), and the 100
faces of ``skimage/data/lfw_subset.npy`` (25×25 grey crops of 100 different people from Labeled
Faces in the Wild, shipped in the wheel), composited over scikit-image's textures (brick, gravel,
grass, coffee, the cat, the Hubble deep field, text…) as busy rooms, with low light, blur, sensor
noise, roll and JPEG quality 30–90.

Sets (``labels.json`` describes every frame):

* ``two``: A close to the camera and a second face of 24–60 px in the room: one of the 100 LFW
  people in half of the frames (upscaled from 25 px, so soft like a face at the back of a room),
  A or B in the other half;
* ``single``: A alone in a busy room (no two-face report allowed);
* ``identity``: sequences of 3 frames against an enrolment photo: the same person (face 40–120 px),
  a different person (the other of A and B, or at 40–60 px one of the LFW people), and the same
  person with a hand over the mouth (``covered``);
* ``still``: sequences of 8 frames 5 s apart of a live still scene (noise σ 0.3, an empty room or
  a person moving 1–2 px), and frozen cameras (the same JPEG again).

Run: ``python bench/make_proctor_set.py OUT [--seed 1] [--scale 4]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from skimage import data

W, H = 640, 480
# Face boxes (x, y, w, h) of the detector on the source photos, measured once (yuface at full size).
FACE_A = (178, 63, 89, 112)
FACE_B = (195, 113, 60, 80)


def _bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR)


def _sources() -> dict[str, np.ndarray]:
    return {"A": _bgr(data.astronaut()), "B": _bgr(data.camera())}


LFW_FACE_SHARE = 0.735
"""The detector's box on an LFW crop is ~73.5 % of the crop's width, centred (measured once)."""


def _lfw_faces() -> list[np.ndarray]:
    """The 100 face crops of ``lfw_subset.npy`` (its other 100 images are not faces), BGR."""
    path = Path(data.__file__).parent / "lfw_subset.npy"
    crops = np.load(path)[:100]
    return [cv2.cvtColor((crop * 255).round().astype(np.uint8), cv2.COLOR_GRAY2BGR) for crop in crops]


def _lfw_person(canvas: np.ndarray, crop: np.ndarray, side: float, cx: int, cy: int) -> tuple[int, int, int, int]:
    """Place an LFW face ``side`` px wide centred at (cx, cy) (the crop's corners fade into the room)."""
    size = max(4, round(side / LFW_FACE_SHARE))
    patch = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
    left, top = int(cx - size / 2), int(cy - size / 2)
    ox, oy = max(0, -left), max(0, -top)
    _paste(canvas, np.ascontiguousarray(patch[oy:, ox:]), max(0, left), max(0, top))
    return int(cx - side / 2), int(cy - side * 1.28 / 2), int(side), int(side * 1.28)


def _backgrounds() -> list[np.ndarray]:
    names = ["brick", "gravel", "grass", "coffee", "chelsea", "hubble_deep_field", "text", "rocket", "coins", "page"]
    out = []
    for name in names:
        image = getattr(data, name)()
        out.append(cv2.resize(_bgr(image), (W, H), interpolation=cv2.INTER_AREA))
    return out


def _head(source: np.ndarray, face: tuple[int, int, int, int], side: float) -> np.ndarray:
    """The head around ``face`` (with hair and some neck) scaled so the face is ``side`` px wide."""
    x, y, w, h = face
    scale = side / w
    x0, y0 = max(0, int(x - 0.5 * w)), max(0, int(y - 0.6 * h))
    x1, y1 = min(source.shape[1], int(x + 1.5 * w)), min(source.shape[0], int(y + 1.5 * h))
    head = source[y0:y1, x0:x1]
    return cv2.resize(
        head, (max(1, round(head.shape[1] * scale)), max(1, round(head.shape[0] * scale))), interpolation=cv2.INTER_AREA
    )


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Paste with feathered edges (no hard rectangle for the detector to key on)."""
    h, w = patch.shape[:2]
    h, w = min(h, H - y), min(w, W - x)
    if h <= 0 or w <= 0:
        return
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (max(1, w // 2 - 1), max(1, h // 2 - 1)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.8, w / 20))[..., None]
    region = canvas[y : y + h, x : x + w].astype(np.float32)
    canvas[y : y + h, x : x + w] = (region * (1 - mask) + patch[:h, :w].astype(np.float32) * mask).astype(np.uint8)


def _person(
    canvas: np.ndarray,
    source: np.ndarray,
    face: tuple[int, int, int, int],
    side: float,
    cx: int,
    cy: int,
    mirrored: bool,
) -> tuple[int, int, int, int]:
    """Place a head with its face of ``side`` px centred at (cx, cy); the face's box in the canvas."""
    head = _head(source, face, side)
    if mirrored:
        head = head[:, ::-1]
    x, y, w, h = face
    scale = side / w
    fx = (x - max(0, int(x - 0.5 * w))) * scale
    fy = (y - max(0, int(y - 0.6 * h))) * scale
    left, top = int(cx - fx - side / 2), int(cy - fy - h * scale / 2)
    ox, oy = max(0, -left), max(0, -top)
    _paste(canvas, np.ascontiguousarray(head[oy:, ox:]), max(0, left), max(0, top))
    return int(cx - side / 2), int(cy - h * scale / 2), int(side), int(h * scale)


def _degrade(
    image: np.ndarray, rng: np.random.Generator, *, sigma: float | None = None, roll: bool = True
) -> tuple[np.ndarray, int]:
    out = image.astype(np.float32)
    if rng.random() < 0.4:  # low light
        out = out * rng.uniform(0.35, 0.7)
    if roll and rng.random() < 0.4:
        matrix = cv2.getRotationMatrix2D((W / 2, H / 2), float(rng.uniform(-12, 12)), 1.0)
        out = cv2.warpAffine(out, matrix, (W, H), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.4:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.5, 1.2)))
    noise = rng.uniform(1.0, 4.0) if sigma is None else sigma
    out = out + rng.normal(0, noise, out.shape)
    return out.clip(0, 255).astype(np.uint8), int(rng.integers(30, 91))


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def _hand(canvas: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """A skin-coloured hand over the mouth: the lower 40 % of the face."""
    x, y, w, h = box
    tone = np.array([rng.uniform(90, 140), rng.uniform(120, 170), rng.uniform(170, 220)], np.float32)
    patch = np.ones((int(h * 0.45), int(w * 1.1), 3), np.float32) * tone
    patch += rng.normal(0, 6, patch.shape)
    _paste(canvas, patch.clip(0, 255).astype(np.uint8), max(0, x - int(w * 0.05)), y + int(h * 0.6))


def generate(out: Path, *, seed: int = 1, scale: int = 1) -> dict[str, Any]:
    """Write the frames and ``labels.json`` into ``out``; ``scale`` multiplies every set's size."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    src = _sources()
    faces = {"A": FACE_A, "B": FACE_B}
    rooms = _backgrounds()
    lfw = _lfw_faces()
    frames: list[dict[str, Any]] = []

    def write(name: str, image: np.ndarray, quality: int, **label: Any) -> bytes:
        blob = _jpeg(image, quality)
        (out / name).write_bytes(blob)
        frames.append({"file": name, **label})
        return blob

    def room() -> np.ndarray:
        return rooms[int(rng.integers(len(rooms)))].copy()

    def main_person(canvas: np.ndarray, who: str = "A", side: float | None = None) -> tuple[int, int, int, int]:
        side = side if side is not None else float(rng.uniform(110, 170))
        cx = int(rng.uniform(W * 0.3, W * 0.6))
        return _person(canvas, src[who], faces[who], side, cx, int(rng.uniform(190, 260)), bool(rng.random() < 0.7))

    # Enrolment photos: the originals.
    for who in src:
        (out / f"enrol_{who}.jpg").write_bytes(_jpeg(src[who], 95))

    for i in range(24 * scale):  # two people
        canvas = room()
        main = main_person(canvas)
        side = [24, 30, 36, 42, 50][i % 5] + float(rng.uniform(0, 6 if i % 5 < 4 else 10))
        pick = rng.random()
        other = "LFW" if pick < 0.5 else ("B" if pick < 0.75 else "A")
        for _ in range(20):  # a place clear of the main face
            cx, cy = int(rng.uniform(40, W - 40)), int(rng.uniform(50, H - 60))
            if abs(cx - (main[0] + main[2] / 2)) > main[2] + side and 0 < cx - side and cx + side < W:
                break
        if other == "LFW":
            person = int(rng.integers(len(lfw)))
            _lfw_person(canvas, lfw[person], side, cx, cy)
            other = f"LFW{person}"
        else:
            _person(canvas, src[other], faces[other], side, cx, cy, bool(rng.random() < 0.5))
        image, quality = _degrade(canvas, rng)
        write(f"two_{i:03d}.jpg", image, quality, set="two", faces=2, second_face_px=round(side), second=other)

    for i in range(24 * scale):  # one person, busy room
        canvas = room()
        main_person(canvas)
        image, quality = _degrade(canvas, rng)
        write(f"single_{i:03d}.jpg", image, quality, set="single", faces=1)

    kinds = ["same", "different", "covered"]
    for i in range(12 * scale):  # identity: 3-frame sequences
        kind = kinds[i % 3]
        enrolled = "A" if (i // 3) % 2 == 0 else "B"
        shown = enrolled if kind != "different" else ("B" if enrolled == "A" else "A")
        side = float([40, 46, 60, 90, 120][(i // 3) % 5])
        base = room()
        cx, cy = int(rng.uniform(W * 0.35, W * 0.6)), int(rng.uniform(200, 260))
        mirrored = bool(rng.random() < 0.7)
        stranger_id = int(rng.integers(len(lfw))) if kind == "different" and side <= 60 and rng.random() < 0.6 else None
        stranger = lfw[stranger_id] if stranger_id is not None else None
        shown_label = shown if stranger_id is None else f"LFW{stranger_id}"
        for k in range(3):
            canvas = base.copy()
            if stranger is not None:  # a substitute the enrolment has never seen, at a webcam's distance
                box = _lfw_person(canvas, stranger, side, cx + 3 * k, cy)
            else:
                box = _person(canvas, src[shown], faces[shown], side, cx + 3 * k, cy, mirrored)
            if kind == "covered":
                _hand(canvas, box, rng)
            image, quality = _degrade(canvas, rng, roll=False)
            write(
                f"id_{i:03d}_{k}.jpg",
                image,
                max(quality, 50),
                set="identity",
                faces=1,
                sequence=f"id{i}",
                t=5.0 * k,
                enrol=f"enrol_{enrolled}.jpg",
                same=kind != "different",
                covered=kind == "covered",
                shown=shown_label,
                face_px=round(side),
            )

    for i in range(4 * scale):  # still scenes
        kind = ["empty", "person", "frozen", "empty"][i % 4]
        base = room()
        if kind != "empty":
            main_person(base, side=float(rng.uniform(90, 150)))
        base = cv2.GaussianBlur(base, (0, 0), 1.5)  # a calm, slightly soft room
        first = None
        for k in range(8):
            if kind == "frozen" and first is not None:
                blob = first
                (out / f"still_{i:03d}_{k}.jpg").write_bytes(blob)
                frames.append(
                    {
                        "file": f"still_{i:03d}_{k}.jpg",
                        "set": "still",
                        "sequence": f"still{i}",
                        "t": 5.0 * k,
                        "frozen": True,
                        "faces": 1,
                    }
                )
                continue
            shift = rng.integers(-2, 3, size=2) if kind == "person" else (0, 0)
            moved = cv2.warpAffine(
                base, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (W, H), borderMode=cv2.BORDER_REPLICATE
            )
            noisy = (moved.astype(np.float32) + rng.normal(0, 0.3, moved.shape)).clip(0, 255).astype(np.uint8)
            blob = write(
                f"still_{i:03d}_{k}.jpg",
                noisy,
                85,
                set="still",
                sequence=f"still{i}",
                t=5.0 * k,
                frozen=kind == "frozen",
                faces=0 if kind == "empty" else 1,
            )
            first = first or blob
    labels = {"version": 1, "seed": seed, "frames": frames}
    (out / "labels.json").write_text(json.dumps(labels, indent=1))
    return labels
