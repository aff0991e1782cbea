"""``exam-engine proctor eval DIR``: the analysis over a labelled folder, as recall and false alarms.

``DIR/labels.json`` is ``{"frames": [...]}``; each frame has ``file`` and ``set``:

* ``two`` (``second_face_px``) and ``single``: one frame each, analysed twice: with the ordinary
  pass and with the full-resolution pass that the schedule gives every
  ``thorough_every_n_frames``-th frame (and every identity or event frame). A second person who
  stays in the room is reported within that many frames when either pass finds them;
* ``identity``: frames grouped by ``sequence`` (``t`` seconds), each compared with the ``enrol``
  photo; ``same`` (bool) and ``covered`` (a hand over the mouth) label the sequence;
* ``still``: frames grouped by ``sequence``; ``frozen`` says the camera repeats a picture.

Sequences go through the same rules as an attempt (:func:`proctor.flags.attempt_flags`), so a
"different person" counts only when it became a flag. ``tests/unit/proctor/evalset.py`` makes
such a folder from images that scikit-image ships.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from proctor.analysis.frame import FrameReport, analyze_frame, enrol
from proctor.analysis.identity import Descriptor
from proctor.analysis.sequence import observe_sequence
from proctor.errors import ProctorError
from proctor.flags import attempt_flags
from proctor.kinds import FlagKind, Severity
from proctor.settings import ProctorSettings

SIZE_BINS = ((24, 30), (30, 36), (36, 42), (42, 50), (50, 61))
MAX_FRAMES = 5000


class EvalSetError(ProctorError):
    """The folder is not a labelled set (missing or malformed ``labels.json``)."""


def load_labels(folder: Path) -> list[dict[str, Any]]:
    path = folder / "labels.json"
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalSetError("labels_missing", "{path} does not exist", path=str(path)) from None
    except (OSError, ValueError) as exc:
        raise EvalSetError("labels_invalid", "{path} is not JSON: {error}", path=str(path), error=str(exc)) from None
    frames = labels.get("frames") if isinstance(labels, dict) else None
    if not isinstance(frames, list) or not frames:
        raise EvalSetError("labels_invalid", '{path}: expected a non-empty list under "frames"', path=str(path))
    if len(frames) > MAX_FRAMES:
        raise EvalSetError("labels_invalid", "{path}: more than {limit} frames", path=str(path), limit=MAX_FRAMES)
    for i, frame in enumerate(frames):
        if (
            not isinstance(frame, dict)
            or not isinstance(frame.get("file"), str)
            or frame.get("set") not in ("two", "single", "identity", "still")
        ):
            raise EvalSetError(
                "labels_invalid",
                '{path}: frame {index} needs "file" and "set" (two, single, identity or still)',
                path=str(path),
                index=i,
            )
        if frame["set"] in ("identity", "still") and "sequence" not in frame:
            raise EvalSetError("labels_invalid", '{path}: frame {index} needs "sequence"', path=str(path), index=i)
    return frames


def _rate(hits: int, total: int) -> dict[str, Any]:
    return {"hits": hits, "total": total, "rate": None if total == 0 else round(hits / total, 3)}


def _flag_kinds(reports: list[tuple[str, float, FrameReport]], settings: ProctorSettings) -> list[Any]:
    return attempt_flags(observe_sequence(reports, settings), settings=settings)


def evaluate(folder: Path, settings: ProctorSettings | None = None) -> dict[str, Any]:
    """Recall and false-alarm rates per finding, second faces by size, and ms per frame."""
    settings = settings or ProctorSettings()
    frames = load_labels(folder)
    enrolments: dict[str, Descriptor] = {}
    ordinary_ms: list[float] = []
    full_ms: list[float] = []
    identity_ms: list[float] = []

    def analyse(frame: dict[str, Any], enrolment: Descriptor | None, full: bool = False) -> FrameReport:
        try:
            blob = (folder / frame["file"]).read_bytes()
        except OSError:
            raise EvalSetError("frame_missing", "{path} cannot be read", path=str(folder / frame["file"])) from None
        start = time.perf_counter()
        report = analyze_frame(blob, settings, enrolment, thorough=full or enrolment is not None)
        spent = (time.perf_counter() - start) * 1000
        (identity_ms if enrolment is not None else full_ms if full else ordinary_ms).append(spent)
        return report

    # [found by the ordinary pass, by the full pass, by either (within n frames), frames]
    by_size: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    single = [0, 0, 0, 0]
    lfw_two = [0, 0, 0, 0]  # the second faces made from the LFW crops, counted again on their own
    sequences: dict[str, list[tuple[dict[str, Any], FrameReport]]] = defaultdict(list)
    for frame in frames:
        if frame["set"] in ("two", "single"):
            ordinary = analyse(frame, None).face_count >= 2
            full = analyse(frame, None, full=True).face_count >= 2
            counts = single
            if frame["set"] == "two":
                size = int(frame.get("second_face_px") or 0)
                counts = next((by_size[b] for b in SIZE_BINS if b[0] <= size < b[1]), [0, 0, 0, 0])
                if 30 <= size <= 60 and str(frame.get("second", "")).startswith("LFW"):
                    for i, hit in enumerate((ordinary, full, ordinary or full, True)):
                        lfw_two[i] += hit
            counts[0] += ordinary
            counts[1] += full
            counts[2] += ordinary or full
            counts[3] += 1
        else:
            enrolment = None
            if frame["set"] == "identity":
                name = str(frame.get("enrol", ""))
                if name not in enrolments:
                    try:
                        enrolments[name] = enrol((folder / name).read_bytes(), settings)
                    except OSError:
                        raise EvalSetError("frame_missing", "{path} cannot be read", path=str(folder / name)) from None
                enrolment = enrolments[name]
            sequences[str(frame["sequence"])].append((frame, analyse(frame, enrolment)))

    identity = {"different": [0, 0], "same": [0, 0], "covered": [0, 0], "stranger": [0, 0]}
    unconfirmed = {"different": 0, "same": 0, "covered": 0, "stranger": 0}
    distances: dict[str, list[tuple[int, float]]] = {"same": [], "different": [], "covered": []}
    verdicts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    still = {"frozen": [0, 0], "live_high": [0, 0], "live_any": [0, 0]}
    for items in sequences.values():
        items.sort(key=lambda item: float(item[0].get("t", 0)))
        reports = [(item[0]["file"], float(item[0].get("t", 0)), item[1]) for item in items]
        kinds = {(flag.kind, flag.severity) for flag in _flag_kinds(reports, settings)}
        first = items[0][0]
        if first["set"] == "identity":
            label = "different" if not first.get("same", True) else ("covered" if first.get("covered") else "same")
            flagged = any(kind is FlagKind.IDENTITY_MISMATCH for kind, _ in kinds)
            identity[label][0] += flagged
            identity[label][1] += 1
            # Not flagged "different", but put before a person as "identity not confirmed".
            review = not flagged and any(kind is FlagKind.IDENTITY_UNCONFIRMED for kind, _ in kinds)
            unconfirmed[label] += review
            if label == "different" and str(first.get("shown", "")).startswith("LFW"):
                unconfirmed["stranger"] += review
            if label == "different" and str(first.get("shown", "")).startswith("LFW"):
                identity["stranger"][0] += flagged
                identity["stranger"][1] += 1
            for frame, report in items:
                if report.identity is not None:
                    verdicts[label][report.identity.verdict.value] += 1
                    if report.identity.distance is not None:
                        distances[label].append((int(frame.get("face_px") or 0), report.identity.distance))
        else:
            stillness = {(k, s) for k, s in kinds if k in (FlagKind.CAMERA_FROZEN, FlagKind.CAMERA_REPLAYED)}
            if first.get("frozen"):
                still["frozen"][0] += bool(stillness)
                still["frozen"][1] += 1
            else:
                still["live_high"][0] += any(s is Severity.HIGH for _, s in stillness)
                still["live_high"][1] += 1
                still["live_any"][0] += bool(stillness)
                still["live_any"][1] += 1

    second_30_60 = [sum(by_size[b][i] for b in SIZE_BINS[1:]) for i in range(4)]
    n_full, n_identity = settings.thorough_every_n_frames, settings.identity_every_n_frames

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 1) if values else None

    def mix() -> float | None:
        """ms per frame over the schedule: identity every ``n_identity``-th frame, the full pass
        every ``n_full``-th, the ordinary pass on the others."""
        if not (ordinary_ms and full_ms and identity_ms):
            return None
        costs = [
            statistics.median(identity_ms)
            if k % n_identity == 0
            else statistics.median(full_ms)
            if n_full and k % n_full == 0
            else statistics.median(ordinary_ms)
            for k in range(n_identity * max(1, n_full))
        ]
        return round(statistics.mean(costs), 1)

    def spread(values: list[tuple[int, float]]) -> dict[str, Any] | None:
        if not values:
            return None
        ds = [d for _, d in values]
        return {
            "n": len(ds),
            "min": round(min(ds), 3),
            "median": round(statistics.median(ds), 3),
            "max": round(max(ds), 3),
        }

    return {
        "frames": len(frames),
        "second_face": {
            "within_frames": n_full,
            "by_size_px": {
                f"{low}-{high - 1}": _rate(by_size[(low, high)][2], by_size[(low, high)][3]) for low, high in SIZE_BINS
            },
            "recall_30_60": _rate(second_30_60[2], second_30_60[3]),
            "recall_30_60_ordinary_pass": _rate(second_30_60[0], second_30_60[3]),
            "recall_30_60_full_pass": _rate(second_30_60[1], second_30_60[3]),
            "by_size_px_ordinary_pass": {
                f"{low}-{high - 1}": _rate(by_size[(low, high)][0], by_size[(low, high)][3]) for low, high in SIZE_BINS
            },
            "recall_30_60_lfw": _rate(lfw_two[2], lfw_two[3]),
            "recall_30_60_photos": _rate(second_30_60[2] - lfw_two[2], second_30_60[3] - lfw_two[3]),
            "false_two_faces": _rate(single[2], single[3]),
        },
        "identity": {
            "different_caught": _rate(*identity["different"]),
            "different_caught_lfw": _rate(*identity["stranger"]),
            "different_caught_photos": _rate(
                identity["different"][0] - identity["stranger"][0], identity["different"][1] - identity["stranger"][1]
            ),
            "false_different_same": _rate(*identity["same"]),
            "false_different_covered": _rate(*identity["covered"]),
            # sequences not flagged "different" but flagged "identity not confirmed" (for review)
            "unconfirmed_different": _rate(unconfirmed["different"], identity["different"][1]),
            "unconfirmed_different_lfw": _rate(unconfirmed["stranger"], identity["stranger"][1]),
            "unconfirmed_same": _rate(unconfirmed["same"], identity["same"][1]),
            "unconfirmed_covered": _rate(unconfirmed["covered"], identity["covered"][1]),
            "verdicts": {label: dict(counts) for label, counts in verdicts.items()},
            "distance_same": spread(distances["same"]),
            "distance_different": spread(distances["different"]),
            "distance_covered": spread(distances["covered"]),
            "distance_different_under_50px": spread([v for v in distances["different"] if v[0] < 50]),
            "distance_same_under_50px": spread([v for v in distances["same"] if v[0] < 50]),
        },
        "frozen": {
            "frozen_caught": _rate(*still["frozen"]),
            "live_still_high": _rate(*still["live_high"]),
            "live_still_any": _rate(*still["live_any"]),
        },
        "ms_per_frame": {
            "ordinary_median": median(ordinary_ms),
            "full_pass_median": median(full_ms),
            "with_identity_median": median(identity_ms),
            "schedule_mean": mix(),
        },
        "settings": {
            "detect_max_side_px": settings.detect_max_side_px,
            "thorough_max_side_px": settings.thorough_max_side_px,
            "thorough_every_n_frames": settings.thorough_every_n_frames,
            "identity_every_n_frames": settings.identity_every_n_frames,
            "face_min_confidence": settings.face_min_confidence,
            "face_candidate_confidence": settings.face_candidate_confidence,
            "face_verify_confidence": settings.face_verify_confidence,
            "face_verify_crop_px": settings.face_verify_crop_px,
            "face_verify_max_side_px": settings.face_verify_max_side_px,
            "face_min_side_px": settings.face_min_side_px,
            "identity_min_face_px": settings.identity_min_face_px,
            "identity_same_max_distance": settings.identity_same_max_distance,
            "identity_different_min_distance": settings.identity_different_min_distance,
        },
    }


def format_eval(result: dict[str, Any]) -> list[str]:
    """Human-readable lines of :func:`evaluate`."""

    def r(entry: dict[str, Any]) -> str:
        rate = "-" if entry["rate"] is None else f"{entry['rate'] * 100:.0f} %"
        return f"{entry['hits']}/{entry['total']} ({rate})"

    sf, idn, fr, ms = result["second_face"], result["identity"], result["frozen"], result["ms_per_frame"]
    lines = [f"{result['frames']} frames"]
    within = f"within {sf['within_frames']} frames" if sf["within_frames"] else "on identity/event frames"
    lines.append(
        f"second face found {within} (ordinary or full pass), by size: "
        + ", ".join(f"{k} px {r(v)}" for k, v in sf["by_size_px"].items())
    )
    lines.append(
        f"second face found {within}, 30-60 px: {r(sf['recall_30_60'])}; by the ordinary pass alone "
        f"{r(sf['recall_30_60_ordinary_pass'])}, by the full pass alone {r(sf['recall_30_60_full_pass'])}"
    )
    lines.append(
        f"  of which faces from the photos (A, B) {r(sf['recall_30_60_photos'])}, "
        f"from the 25 px LFW crops {r(sf['recall_30_60_lfw'])}"
    )
    lines.append(f"two faces reported on single-person frames by either pass (false alarm): {r(sf['false_two_faces'])}")
    lines.append(
        f"different person flagged: {r(idn['different_caught'])}; the other photo (A for B, B for A) "
        f"{r(idn['different_caught_photos'])}, a stranger from the LFW crops {r(idn['different_caught_lfw'])}"
    )
    lines.append(
        f"different person flagged on the same person (false alarm): {r(idn['false_different_same'])}, "
        f"with a hand over the mouth: {r(idn['false_different_covered'])}"
    )
    lines.append(
        f"not flagged different but flagged 'identity not confirmed' (for review): a different person "
        f"{r(idn['unconfirmed_different'])} (LFW strangers {r(idn['unconfirmed_different_lfw'])}), "
        f"the same person {r(idn['unconfirmed_same'])}, with a hand over the mouth {r(idn['unconfirmed_covered'])}"
    )
    for label in (
        "distance_same",
        "distance_different",
        "distance_covered",
        "distance_same_under_50px",
        "distance_different_under_50px",
    ):
        if idn[label]:
            d = idn[label]
            lines.append(f"{label.replace('_', ' ')}: n={d['n']} min {d['min']} median {d['median']} max {d['max']}")
    lines.append(f"frozen camera flagged: {r(fr['frozen_caught'])}")
    lines.append(
        f"live still scenes with a high-severity frozen/replayed flag (false alarm): {r(fr['live_still_high'])}, "
        f"with any: {r(fr['live_still_any'])}"
    )
    lines.append(
        f"ms per frame (median, wall clock): ordinary {ms['ordinary_median']}, full pass "
        f"{ms['full_pass_median']}, with identity {ms['with_identity_median']}; over the schedule "
        f"{ms['schedule_mean']}"
    )
    return lines
