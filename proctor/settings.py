"""Every threshold of the proctoring core, in one frozen value with defaults.

Operators tune these with ``exam-engine proctor analyze`` on their own cameras; the
defaults were measured on the fixture set in ``tests/unit/proctor`` and are written
down there with the reason for each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from proctor.kinds import FlagKind, Severity


@dataclass(frozen=True)
class FlagRule:
    """How episodes of one kind become flags and how much they weigh in the risk.

    An episode shorter than ``min_seconds`` is not a flag (a glance away, a blink of
    the tab). Severity is the highest of ``base``, the level its duration reached
    (``medium_seconds`` / ``high_seconds``) and the level its repetition reached (the
    n-th episode of the kind in the attempt, ``medium_repeat`` / ``high_repeat``).
    ``None`` disables a threshold.
    """

    base: Severity
    weight: float
    min_seconds: float = 0.0
    min_count: int = 1
    """Frames an episode needs to be a flag (2: confirmed on a second frame)."""
    medium_seconds: float | None = None
    high_seconds: float | None = None
    medium_repeat: int | None = None
    high_repeat: int | None = None


def _default_rules() -> Mapping[FlagKind, FlagRule]:
    low, medium, high = Severity.LOW, Severity.MEDIUM, Severity.HIGH
    k = FlagKind
    rules = {
        k.NO_FACE: FlagRule(low, 3, medium_seconds=15, high_seconds=60, high_repeat=10),
        k.SEVERAL_FACES: FlagRule(medium, 5, high_seconds=10, high_repeat=3),
        k.IDENTITY_MISMATCH: FlagRule(medium, 8, min_count=2, high_seconds=10, high_repeat=2),
        k.IDENTITY_UNCONFIRMED: FlagRule(low, 3, min_count=2, medium_repeat=2),
        k.HEAD_TURNED: FlagRule(low, 1, min_seconds=10, medium_seconds=30, high_seconds=120),
        k.CAMERA_DARK: FlagRule(low, 2, medium_seconds=30, high_seconds=120),
        k.CAMERA_COVERED: FlagRule(medium, 4, high_seconds=30),
        k.CAMERA_FROZEN: FlagRule(medium, 5, min_seconds=10, high_seconds=30),
        k.CAMERA_REPLAYED: FlagRule(medium, 6, high_seconds=30),
        k.LOUD_NOISE: FlagRule(low, 1, medium_seconds=10, high_seconds=30, medium_repeat=5),
        k.TAB_HIDDEN: FlagRule(low, 3, medium_seconds=5, high_seconds=30, medium_repeat=3, high_repeat=6),
        k.WINDOW_BLUR: FlagRule(low, 2, min_seconds=2, medium_seconds=10, high_seconds=60, medium_repeat=5),
        k.FULLSCREEN_EXIT: FlagRule(low, 2, medium_seconds=10, high_seconds=60, medium_repeat=3),
        k.PASTE: FlagRule(medium, 3, high_repeat=3),
        k.COPY: FlagRule(medium, 3, high_repeat=3),
        k.PRINT: FlagRule(high, 5),
        k.CONTEXT_MENU: FlagRule(low, 1, medium_repeat=5),
        k.CAMERA_LOST: FlagRule(medium, 4, high_seconds=30, high_repeat=3),
        k.SCREEN_SHARE_STOPPED: FlagRule(medium, 4, high_seconds=30, high_repeat=3),
        k.SECOND_MONITOR: FlagRule(high, 5),
        k.SECOND_TAB: FlagRule(high, 5),
        k.DEVTOOLS_RESIZE: FlagRule(medium, 3, high_repeat=3),
        k.PAGE_RELOAD: FlagRule(low, 1, medium_repeat=3, high_repeat=6),
        k.RECORDING_FAILED: FlagRule(low, 1, medium_repeat=3),
        # A full queue on the student's computer (the connection is down): the recording resumes by itself.
        k.RECORDING_PAUSED: FlagRule(low, 0.5),
        k.OTHER_APPLICATION_ON_SCREEN: FlagRule(medium, 4, high_seconds=20, high_repeat=3),
    }
    return MappingProxyType(rules)


@dataclass(frozen=True)
class ProctorSettings:
    """Thresholds for frame analysis, flag rules and the risk score."""

    # -- face detection -------------------------------------------------------
    detector: str = "auto"
    """``auto`` (YuNet .onnx if ``yunet_model_path`` is set, else ``yuface``, else
    Haar), or force one of ``yunet`` / ``yuface`` / ``haar``."""
    yunet_model_path: str | None = None
    face_min_confidence: float = 0.8
    """A face the detector scores at least this is taken as it is."""
    face_candidate_confidence: float = 0.2
    """Boxes scored between this and ``face_min_confidence`` are candidates: each is looked at
    again on a full-resolution crop around it (3× the box, resized to ``face_verify_crop_px``)
    and kept when that crop scores it ``face_verify_confidence`` or more. Small faces come out
    of the downscaled pass with low scores (0.2–0.7) and score ≥ 0.75 on the crop; texture
    false positives (Hubble deep field, gravel) do not (≤ 0.61 on the single-person frames of
    two generated sets, docs/proctoring.md §6). 0.2 is the lowest score yuface returns: the floor
    is a constant inside its libfacedetection (``detection_output(…, 0.45f, 0.2f, …)``), so a
    lower value here finds nothing more with yuface (the ``yunet`` detector takes any)."""
    face_verify_confidence: float = 0.75
    face_verify_min_crop_px: int = 128
    """With ``face_verify_crop_px`` 0: the crop's smallest side, at the frame's own pixels."""
    face_verify_crop_px: int = 192
    """The crop (3× the candidate's box) is resized to this many pixels before the check, so the
    face measures ~64 px whatever its size in the frame: a 30 px face is looked at twice as large
    (the faces made from 25 px LFW crops score 0.75–0.9 there and 0.4–0.7 at their own pixels),
    and every check costs the same. 0: the crop at its own pixels (the design before)."""
    face_verify_max_side_px: int = 90
    """Only small candidates are checked on a crop: a crop around a large box is the frame
    again (no closer look), and large weak boxes on the generated set were textures or a cat."""
    face_min_side_px: int = 20
    detect_max_side_px: int = 320
    """The ordinary pass: larger frames are downscaled to this before detection (the detector's
    input size), and weak small boxes are checked on full-resolution crops. Cheap (1.0× the old
    320 px default's CPU), but a second face of 30–36 px often gives no box at all at this size:
    those are left to the full pass (``thorough_max_side_px``), which runs on a schedule
    (``thorough_every_n_frames``) and on every frame that matters more (docs/proctoring.md §6)."""
    thorough_max_side_px: int = 640
    """The full-resolution pass: on every ``thorough_every_n_frames``-th frame of an attempt, on
    the frames used for identity (every ``identity_every_n_frames``-th, and after a frame that
    found something), and on room scans."""
    thorough_every_n_frames: int = 4
    """Every n-th frame of an attempt (the first included) gets the full pass: a second person
    who gives no box to the ordinary pass is reported within n frames (20 s at a frame every
    5 s), and from then on every frame is a full one while someone is found (``several_faces``
    makes the next frame a full one). Measured (docs/proctoring.md §6): 320 px every frame +
    640 px every 4th costs ~1.7× the old default per frame on average, against 2.05–2.55× for
    480 px on every frame, which found fewer second faces than the full pass. 0 disables the
    schedule (the full pass then runs only on identity and event frames)."""

    # -- identity -------------------------------------------------------------
    identity_same_max_distance: float = 0.47
    identity_different_min_distance: float = 0.7
    """Measured on the generated set (``exam-engine proctor eval``, docs/proctoring.md): the
    same person 0.20–0.45 (faces 40–120 px), a different person 0.74–0.87, the same person
    with a hand over the mouth 0.42–0.65. dlib's published 0.6 flagged the covered face, so
    "different" needs ≥ 0.7 (and two frames, ``FlagRule.min_count``); the band between is
    "unknown" rather than a guess. "Same" ends at 0.47 (was 0.5): a stranger made from a 25 px
    LFW crop scored 0.497 (the lowest different-person distance on three generated sets:
    0.497, 0.549, 0.614), and a "same" frame ends a pending "different person"; the same person
    scored above 0.47 in 2 of 143 frames (0.49, 0.53, seed 3), which are now "unknown"."""
    identity_min_face_px: int = 36
    """The detector's box of a 40 px face measures 37–41 px; dlib still separates the same
    (≤ 0.45) from a different person (≥ 0.74) at that size on the generated set."""
    identity_every_n_frames: int = 20
    """Identity is checked on every n-th frame of an attempt (the first included): every
    100 s at a frame every 5 s; and at once on the first frame after one without a single
    clear face (someone may have sat down). It costs ~90 ms a face on one core (dlib's
    ResNet, no BLAS in the PyPI wheel) against ~11 ms for the rest of a frame's analysis:
    every 3rd frame capped a core at ~25 frames/s, every 20th keeps it above 60."""

    # -- head pose ------------------------------------------------------------
    head_turn_max_yaw_deg: float = 30.0
    pose_redetect_min_roll_deg: float = 10.0
    """A face tilted more than this is levelled and detected again for its yaw; a level
    one takes the yaw from the first detection's landmarks (half the cost of a frame)."""
    nose_depth_ratio: float = 0.55
    """Nose-tip depth over eye distance of an average face, for the yaw estimate."""

    # -- picture quality --------------------------------------------------------
    dark_max_mean: float = 40.0
    covered_max_std: float = 6.0

    # -- frozen / replayed camera ---------------------------------------------
    still_max_mean_abs_diff: float = 0.1
    """Mean absolute difference (0–255) between 80×60 grey thumbnails under which
    two frames count as the same picture. Measured: the same JPEG twice gives 0;
    sensor noise alone on a perfectly still scene 0.15–0.35; a 1-pixel move ≥ 2.8. A still,
    low-noise room (σ 0.3) falls below it, so only frames that show a face are judged
    (:meth:`proctor.analysis.sequence.StillnessTracker.feed`)."""
    replay_window_frames: int = 60

    # -- microphone -----------------------------------------------------------
    noise_min_dbfs: float = -25.0
    noise_min_seconds: float = 3.0
    noise_max_gap_seconds: float = 2.5

    # -- screenshots ----------------------------------------------------------
    screen_background_bgr: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (249, 247, 246))
    screen_marker_bgr: tuple[int, int, int] = (91, 53, 18)
    """The exam page's background colours (cards #fff, page #f6f7f9) and the colour of its
    ``.exam-bar`` (#12355b), in BGR; they must follow admin_ui/static/app.css. The e2e test
    analyses a real screenshot of the exam page with these values."""
    screen_colour_tolerance: int = 24
    screen_min_background_share: float = 0.5
    screen_min_marker_share: float = 0.01

    # -- flags and risk -------------------------------------------------------
    merge_gap_seconds: float = 12.0
    """Findings of one kind further apart than this are separate episodes (frames
    arrive every ~5 s, so one lost frame does not split an episode)."""
    event_merge_gap_seconds: float = 3.0
    """Browser events of one kind closer than this are one episode (a burst of
    pastes is one flag with a count, not ten flags)."""
    rules: Mapping[FlagKind, FlagRule] = field(default_factory=_default_rules)
    severity_factor: Mapping[Severity, float] = field(
        default_factory=lambda: MappingProxyType({Severity.LOW: 1.0, Severity.MEDIUM: 3.0, Severity.HIGH: 9.0})
    )
    risk_scale: float = 40.0
    """Raw risk (Σ weight × severity factor) at which the score reaches 63 of 100."""

    def rule(self, kind: FlagKind) -> FlagRule:
        return self.rules[kind]
