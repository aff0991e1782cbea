"""The vocabulary of proctoring: what can be found, flagged and how badly.

Each kind's value is its stable code; :data:`TITLES` holds the English msgid a
proctor reads (translated at the edge with the ``proctor`` gettext catalog).
"""

from __future__ import annotations

from enum import StrEnum


def N_(msgid: str) -> str:
    """Mark a msgid for the catalog; translation happens at the edge."""
    return msgid


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


class FlagKind(StrEnum):
    # from webcam frames
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    IDENTITY_MISMATCH = "identity_mismatch"
    IDENTITY_UNCONFIRMED = "identity_unconfirmed"
    HEAD_TURNED = "head_turned"
    CAMERA_DARK = "camera_dark"
    CAMERA_COVERED = "camera_covered"
    CAMERA_FROZEN = "camera_frozen"
    CAMERA_REPLAYED = "camera_replayed"
    # from the microphone
    LOUD_NOISE = "loud_noise"
    # from the browser
    TAB_HIDDEN = "tab_hidden"
    WINDOW_BLUR = "window_blur"
    FULLSCREEN_EXIT = "fullscreen_exit"
    PASTE = "paste"
    COPY = "copy"
    PRINT = "print"
    CONTEXT_MENU = "context_menu"
    CAMERA_LOST = "camera_lost"
    SCREEN_SHARE_STOPPED = "screen_share_stopped"
    SECOND_MONITOR = "second_monitor"
    SECOND_TAB = "second_tab"
    DEVTOOLS_RESIZE = "devtools_resize"
    PAGE_RELOAD = "page_reload"
    RECORDING_FAILED = "recording_failed"
    RECORDING_PAUSED = "recording_paused"
    # from screenshots
    OTHER_APPLICATION_ON_SCREEN = "other_application_on_screen"


BROWSER_EVENT_KINDS: frozenset[FlagKind] = frozenset(
    {
        FlagKind.TAB_HIDDEN,
        FlagKind.WINDOW_BLUR,
        FlagKind.FULLSCREEN_EXIT,
        FlagKind.PASTE,
        FlagKind.COPY,
        FlagKind.PRINT,
        FlagKind.CONTEXT_MENU,
        FlagKind.CAMERA_LOST,
        FlagKind.SCREEN_SHARE_STOPPED,
        FlagKind.SECOND_MONITOR,
        FlagKind.SECOND_TAB,
        FlagKind.DEVTOOLS_RESIZE,
        FlagKind.PAGE_RELOAD,
        FlagKind.RECORDING_FAILED,
        FlagKind.RECORDING_PAUSED,
    }
)

TITLES: dict[FlagKind, str] = {
    FlagKind.NO_FACE: N_("No face in view"),
    FlagKind.SEVERAL_FACES: N_("Several faces in view"),
    FlagKind.IDENTITY_MISMATCH: N_("The face does not match the enrolment photo"),
    FlagKind.IDENTITY_UNCONFIRMED: N_("Identity could not be confirmed on two checks in a row"),
    FlagKind.HEAD_TURNED: N_("Head turned away from the screen"),
    FlagKind.CAMERA_DARK: N_("Camera picture too dark"),
    FlagKind.CAMERA_COVERED: N_("Camera covered"),
    FlagKind.CAMERA_FROZEN: N_("Camera picture frozen"),
    FlagKind.CAMERA_REPLAYED: N_("Camera picture replayed from earlier"),
    FlagKind.LOUD_NOISE: N_("Loud noise"),
    FlagKind.TAB_HIDDEN: N_("Exam tab hidden"),
    FlagKind.WINDOW_BLUR: N_("Exam window lost focus"),
    FlagKind.FULLSCREEN_EXIT: N_("Full screen left"),
    FlagKind.PASTE: N_("Paste attempt"),
    FlagKind.COPY: N_("Copy attempt"),
    FlagKind.PRINT: N_("Print attempt"),
    FlagKind.CONTEXT_MENU: N_("Context menu opened"),
    FlagKind.CAMERA_LOST: N_("Camera lost"),
    FlagKind.SCREEN_SHARE_STOPPED: N_("Screen sharing stopped"),
    FlagKind.SECOND_MONITOR: N_("Second monitor connected"),
    FlagKind.SECOND_TAB: N_("Exam opened in a second tab or browser"),
    FlagKind.DEVTOOLS_RESIZE: N_("Window resized as if developer tools opened"),
    FlagKind.PAGE_RELOAD: N_("Exam page reloaded"),
    FlagKind.RECORDING_FAILED: N_("Video recording failed on the student's computer"),
    FlagKind.RECORDING_PAUSED: N_("Video recording paused: the student's computer is waiting for the connection"),
    FlagKind.OTHER_APPLICATION_ON_SCREEN: N_("Another application on screen"),
}
