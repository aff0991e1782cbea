"""Frame analysis pieces: decoding, detectors, identity reasons, pose geometry, stillness, workers."""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from proctor.analysis import analyze_frame, analyze_images, format_result
from proctor.analysis.detectors import Landmarks, detector_for
from proctor.analysis.identity import Descriptor, UnknownReason, Verdict, compare
from proctor.analysis.pose import head_pose
from proctor.analysis.sequence import StillnessTracker
from proctor.errors import DetectorUnavailable, ImageUnreadable
from proctor.kinds import FlagKind
from proctor.settings import ProctorSettings
from tests.unit.proctor import scenes as sc


def test_bytes_that_are_not_an_image_are_refused_with_a_code() -> None:
    with pytest.raises(ImageUnreadable) as caught:
        analyze_frame(b"not a jpeg")
    assert caught.value.code == "image_unreadable"


def test_grey_arrays_and_jpeg_bytes_give_the_same_face_count() -> None:
    grey = sc.person()[:, :, 1].copy()
    assert analyze_frame(grey).face_count == analyze_frame(sc.jpeg(sc.person())).face_count == 1


def test_a_configured_yunet_model_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DetectorUnavailable) as caught:
        detector_for("yunet", str(tmp_path / "face_detection_yunet.onnx"), 640)
    assert caught.value.code == "detector_model_missing"


def test_the_haar_fallback_finds_the_frontal_face_and_still_estimates_the_pose() -> None:
    report = analyze_frame(sc.person(), ProctorSettings(detector="haar"))
    assert report.detector == "haar"
    assert report.face_count == 1
    assert report.pose is not None and abs(report.pose.yaw_deg) < 20


def test_auto_picks_the_packaged_yuface_detector_without_a_model_path() -> None:
    assert analyze_frame(sc.person()).detector == "yuface"


def _project(yaw_deg: float, roll_deg: float, depth: float = 0.55) -> Landmarks:
    """Eyes at (±0.5, 0, 0), nose tip at (0, 0.4, depth) of a unit eye distance, rotated."""
    yaw, roll = math.radians(yaw_deg), math.radians(roll_deg)

    def point(x: float, y: float, z: float) -> tuple[float, float]:
        x, z = x * math.cos(yaw) + z * math.sin(yaw), -x * math.sin(yaw) + z * math.cos(yaw)
        x, y = x * math.cos(roll) - y * math.sin(roll), x * math.sin(roll) + y * math.cos(roll)
        return 300 + 100 * x, 200 + 100 * y

    eyes = sorted([point(-0.5, 0, 0), point(0.5, 0, 0)])
    return Landmarks(eyes[0], eyes[1], point(0, 0.4, depth))


@pytest.mark.parametrize(("yaw", "roll"), [(0, 0), (20, 0), (-35, 0), (45, 25), (-10, -30), (60, 10)])
def test_yaw_is_recovered_from_projected_landmarks_whatever_the_tilt(yaw: float, roll: float) -> None:
    pose = head_pose(_project(yaw, roll), nose_depth_ratio=0.55)
    assert pose is not None
    assert pose.yaw_deg == pytest.approx(yaw, abs=0.5)
    assert pose.roll_deg == pytest.approx(roll, abs=0.5)


def test_coinciding_eyes_give_no_pose_rather_than_a_number() -> None:
    assert head_pose(Landmarks((5, 5), (5, 5), (5, 9)), 0.55) is None


@pytest.mark.parametrize(
    ("probe", "reason"),
    [
        (Descriptor(None, UnknownReason.NO_FACE), UnknownReason.NO_FACE),
        (Descriptor(None, UnknownReason.SEVERAL_FACES), UnknownReason.SEVERAL_FACES),
        (Descriptor(None, UnknownReason.FACE_TOO_SMALL), UnknownReason.FACE_TOO_SMALL),
        (Descriptor(None, UnknownReason.MODELS_MISSING), UnknownReason.MODELS_MISSING),
    ],
)
def test_identity_that_cannot_be_evaluated_is_unknown_with_the_reason(probe: Descriptor, reason: UnknownReason) -> None:
    result = compare(Descriptor((0.0,) * 128), probe, ProctorSettings())
    assert (result.verdict, result.reason, result.distance) == (Verdict.UNKNOWN, reason, None)


def test_a_distance_between_the_two_thresholds_is_unknown_not_a_guess() -> None:
    settings = ProctorSettings()
    enrolled = Descriptor((0.0,) * 128)
    borderline = Descriptor((0.55,) + (0.0,) * 127)
    far = Descriptor((0.7,) + (0.0,) * 127)
    assert compare(enrolled, borderline, settings).reason is UnknownReason.BORDERLINE
    assert compare(enrolled, far, settings).verdict is Verdict.DIFFERENT
    assert compare(Descriptor(None, UnknownReason.NO_FACE), far, settings).reason is UnknownReason.NO_ENROLMENT


def test_a_tiny_face_is_not_identified(enrolment: Descriptor) -> None:
    tiny = sc.place(sc.wall(), sc.crop(sc.astronaut(), sc.ASTRONAUT_FACE), 300, 200, 90)
    report = analyze_frame(tiny, enrolment=enrolment)
    assert report.face_count == 1
    assert report.identity is not None and report.identity.reason is UnknownReason.FACE_TOO_SMALL
    assert FlagKind.IDENTITY_MISMATCH not in report.checked


def test_identical_frames_are_frozen_and_live_noise_is_not() -> None:
    tracker = StillnessTracker(ProctorSettings())
    image = sc.person()
    thumbs = [analyze_frame(sc.live(image, seed)).thumb for seed in (1, 2)]
    same = analyze_frame(sc.live(image, 2)).thumb
    assert tracker.feed(thumbs[0])[0] == frozenset()
    assert tracker.feed(thumbs[1])[0] == frozenset()
    assert tracker.feed(same)[0] == {FlagKind.CAMERA_FROZEN}


def test_a_picture_seen_before_but_not_just_now_is_a_replay() -> None:
    tracker = StillnessTracker(ProctorSettings())
    a, b = (analyze_frame(sc.live(sc.person(x=x), x)).thumb for x in (40, 90))
    tracker.feed(a)
    tracker.feed(b)
    assert tracker.feed(a)[0] == {FlagKind.CAMERA_REPLAYED}


def _face_count_in_worker(frame: bytes) -> tuple[int, str]:
    report = analyze_frame(frame)
    return report.face_count, report.detector


def test_analysis_runs_in_a_freshly_spawned_worker_process() -> None:
    frame = sc.jpeg(sc.person())
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        assert pool.submit(_face_count_in_worker, frame).result(timeout=60) == (1, "yuface")


def _threads_of_this_process() -> tuple[int, int]:
    """(OpenMP threads of the detector's own libgomp, OpenCV threads) as the process runs them."""
    import ctypes

    import cv2
    import yuface

    libs = Path(yuface.__file__).resolve().parent.parent / "yuface.libs"
    gomp = ctypes.CDLL(str(next(libs.glob("libgomp*"))))  # the copy the detector loaded: same handle
    return gomp.omp_get_max_threads(), cv2.getNumThreads()


@pytest.mark.parametrize(("operator", "expected"), [(None, (1, 1)), ("2", (2, 2))])
def test_an_analysis_process_runs_one_thread_unless_the_operator_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, operator: str | None, expected: tuple[int, int]
) -> None:
    """Processes are the parallelism (pool, proctor-worker × cores): OpenMP's one spinning thread
    per core in each of them halved the throughput of two workers on two cores."""
    from proctor.jobs import initialise_worker

    if operator is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", operator)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=initialise_worker) as pool:
        assert pool.submit(_threads_of_this_process).result(timeout=60) == expected


def test_analyze_images_reports_each_file_for_the_cli(tmp_path: Path) -> None:
    enrol_photo, me, stranger, broken = (tmp_path / n for n in ("enrol.jpg", "me.jpg", "other.jpg", "x.jpg"))
    enrol_photo.write_bytes(sc.jpeg(sc.astronaut()))
    me.write_bytes(sc.live(sc.person(), 3))
    stranger.write_bytes(sc.jpeg(sc.place(sc.wall(), sc.cameraman(), 80, 0, 480)))
    broken.write_bytes(b"\xff\xd8garbage")
    results = analyze_images([me, stranger, me, broken], enrol_path=enrol_photo)
    assert [r.get("face_count") for r in results] == [1, 1, 1, None]
    assert results[0]["identity"]["verdict"] == "same" and results[0]["identity"]["distance"] < 0.5
    assert results[1]["identity"]["verdict"] == "different"
    assert "head_turned" in results[1]["findings"] and abs(results[1]["yaw_deg"]) > 30
    assert results[2]["findings"] == ["camera_replayed"]
    assert results[3] == {"path": str(broken), "error": "image_unreadable"}
    assert "identity=same" in format_result(results[0])
    assert set(results[0]) >= {"brightness", "covered", "dark", "yaw_deg", "findings"}


def test_a_covered_frame_is_not_also_reported_as_no_face_or_frozen() -> None:
    tracker = StillnessTracker(ProctorSettings())
    frames = [analyze_frame(sc.jpeg(sc.flat((6, 6, 6), 0))) for _ in range(2)]
    assert frames[0].found == {FlagKind.CAMERA_COVERED}
    assert [tracker.observe(f)[0] for f in frames] == [frozenset(), frozenset()]
    assert np.array_equal(frames[0].thumb, frames[1].thumb)


@pytest.mark.parametrize("height", [300, 240, 200, 160])
def test_the_default_detector_size_finds_a_second_face_down_to_about_27_px(height: int) -> None:
    """A second person further back, shrinking (face 45 → 27 px wide in the 640 px frame): the
    ordinary pass (detection at 320 px, weak boxes checked on full-resolution crops) counts two
    faces, as detection on the whole frame does (docs/proctoring.md, "Finding a second person")."""
    frame = sc.place(sc.person(x=0, height=420), sc.astronaut(), 420, 10, height)
    default, full = ProctorSettings(), ProctorSettings(detect_max_side_px=640)
    assert default.detect_max_side_px < full.detect_max_side_px
    assert analyze_frame(frame, default).face_count == analyze_frame(frame, full).face_count == 2
