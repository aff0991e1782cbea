"""Plain inputs to the flag rules: what the frames, the browser and the microphone said.

Times are seconds on any one scale per attempt (epoch seconds, or seconds since the
attempt started); the rules only subtract them.
"""

from __future__ import annotations

from dataclasses import dataclass

from proctor.kinds import FlagKind


@dataclass(frozen=True)
class FrameObservation:
    """One analysed frame: which kinds it showed, and which it was able to check.

    A kind that was not checked in a frame (identity skipped, no face to measure a
    head turn on) neither extends nor ends an episode of that kind.
    """

    frame_id: str
    t: float
    found: frozenset[FlagKind]
    checked: frozenset[FlagKind]


@dataclass(frozen=True)
class BrowserEvent:
    """A timed signal from the exam page; ``duration`` is 0 for instant ones (paste)."""

    kind: FlagKind
    t: float
    duration: float = 0.0
    event_id: str = ""


@dataclass(frozen=True)
class NoiseSample:
    """Microphone loudness: RMS in dBFS (0 is full scale, silence is very negative)."""

    t: float
    dbfs: float


@dataclass(frozen=True)
class Episode:
    """A stretch of time during which one kind was observed, with its evidence ids."""

    kind: FlagKind
    start: float
    end: float
    evidence_ids: tuple[str, ...]
    count: int = 1
    """How many frames, events or samples the episode merges."""
    peak: float | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start
