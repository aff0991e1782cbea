"""Findings and events → flags with a severity; flags → a risk score per attempt.

Pure rules: episodes are built from time-ordered observations, then each episode is
judged by its kind's :class:`~proctor.settings.FlagRule`. Nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from proctor.kinds import TITLES, FlagKind, Severity
from proctor.settings import FlagRule, ProctorSettings
from proctor.signals import BrowserEvent, Episode, FrameObservation, NoiseSample


@dataclass(frozen=True)
class Flag:
    kind: FlagKind
    severity: Severity
    start: float
    end: float
    evidence_ids: tuple[str, ...]
    count: int
    """How many frames, events or loud samples the flag merges."""
    occurrence: int
    """This is the n-th flag of its kind in the attempt (1-based)."""
    peak: float | None = None

    @property
    def code(self) -> str:
        return self.kind.value

    @property
    def title(self) -> str:
        """English msgid; translate at the edge."""
        return TITLES[self.kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "title": self.title,
            "severity": self.severity.value,
            "start": self.start,
            "end": self.end,
            "evidence_ids": list(self.evidence_ids),
            "count": self.count,
            "occurrence": self.occurrence,
            "peak": self.peak,
        }


@dataclass
class _Open:
    start: float
    end: float
    ids: list[str] = field(default_factory=list)
    count: int = 0


def frame_episodes(observations: Sequence[FrameObservation], settings: ProctorSettings) -> list[Episode]:
    """Runs of consecutive frames showing one kind.

    A frame that checked the kind and did not find it ends the run; a frame that did
    not check it is neutral; a gap longer than ``merge_gap_seconds`` also ends it.
    """
    episodes: list[Episode] = []
    open_runs: dict[FlagKind, _Open] = {}

    def close(kind: FlagKind) -> None:
        run = open_runs.pop(kind)
        episodes.append(Episode(kind, run.start, run.end, tuple(run.ids), run.count))

    for obs in sorted(observations, key=lambda o: o.t):
        for kind in obs.found:
            run = open_runs.get(kind)
            if run is not None and obs.t - run.end > settings.merge_gap_seconds:
                close(kind)
                run = None
            if run is None:
                run = open_runs[kind] = _Open(obs.t, obs.t)
            run.end = obs.t
            run.ids.append(obs.frame_id)
            run.count += 1
        for kind in obs.checked - obs.found:
            if kind in open_runs:
                close(kind)
    for kind in list(open_runs):
        close(kind)
    return episodes


def event_episodes(events: Iterable[BrowserEvent], settings: ProctorSettings) -> list[Episode]:
    """Browser events of one kind merged when they overlap or follow within the gap."""
    by_kind: dict[FlagKind, list[BrowserEvent]] = defaultdict(list)
    for event in events:
        by_kind[event.kind].append(event)
    episodes = []
    for kind, group in by_kind.items():
        run: _Open | None = None
        for event in sorted(group, key=lambda e: e.t):
            end = event.t + max(0.0, event.duration)
            if run is not None and event.t - run.end > settings.event_merge_gap_seconds:
                episodes.append(Episode(kind, run.start, run.end, tuple(run.ids), run.count))
                run = None
            if run is None:
                run = _Open(event.t, end)
            run.end = max(run.end, end)
            run.count += 1
            if event.event_id:
                run.ids.append(event.event_id)
        if run is not None:
            episodes.append(Episode(kind, run.start, run.end, tuple(run.ids), run.count))
    return episodes


def noise_episodes(samples: Sequence[NoiseSample], settings: ProctorSettings) -> list[Episode]:
    """Stretches at or above ``noise_min_dbfs`` lasting at least ``noise_min_seconds``.

    A stretch runs from its first loud sample to its last; a quiet sample, or a gap
    in the samples longer than ``noise_max_gap_seconds``, ends it.
    """
    episodes: list[Episode] = []
    run: list[NoiseSample] = []

    def close() -> None:
        if run and run[-1].t - run[0].t >= settings.noise_min_seconds:
            peak = max(sample.dbfs for sample in run)
            episodes.append(Episode(FlagKind.LOUD_NOISE, run[0].t, run[-1].t, (), len(run), peak))
        run.clear()

    for sample in sorted(samples, key=lambda s: s.t):
        if run and sample.t - run[-1].t > settings.noise_max_gap_seconds:
            close()
        if sample.dbfs >= settings.noise_min_dbfs:
            run.append(sample)
        else:
            close()
    close()
    return episodes


def _level(value: float, medium: float | None, high: float | None) -> Severity | None:
    if high is not None and value >= high:
        return Severity.HIGH
    if medium is not None and value >= medium:
        return Severity.MEDIUM
    return None


def severity_of(rule: FlagRule, duration: float, occurrence: int) -> Severity:
    levels = [
        rule.base,
        _level(duration, rule.medium_seconds, rule.high_seconds),
        _level(occurrence, rule.medium_repeat, rule.high_repeat),
    ]
    return max((lv for lv in levels if lv is not None), key=lambda lv: lv.rank)


def episodes_to_flags(episodes: Iterable[Episode], settings: ProctorSettings) -> list[Flag]:
    """Judge each episode by its kind's rule; too-short episodes are dropped."""
    flags = []
    seen: dict[FlagKind, int] = defaultdict(int)
    for episode in sorted(episodes, key=lambda e: (e.start, e.kind.value)):
        rule = settings.rule(episode.kind)
        if episode.duration < rule.min_seconds or episode.count < rule.min_count:
            continue
        seen[episode.kind] += 1
        occurrence = seen[episode.kind]
        flags.append(
            Flag(
                kind=episode.kind,
                severity=severity_of(rule, episode.duration, occurrence),
                start=episode.start,
                end=episode.end,
                evidence_ids=episode.evidence_ids,
                count=episode.count,
                occurrence=occurrence,
                peak=episode.peak,
            )
        )
    return flags


def attempt_flags(
    observations: Sequence[FrameObservation] = (),
    events: Iterable[BrowserEvent] = (),
    noise: Sequence[NoiseSample] = (),
    settings: ProctorSettings | None = None,
) -> list[Flag]:
    """All flags of an attempt, in time order, from its frames, events and loudness."""
    settings = settings or ProctorSettings()
    episodes = (
        frame_episodes(observations, settings) + event_episodes(events, settings) + noise_episodes(noise, settings)
    )
    return episodes_to_flags(episodes, settings)


@dataclass(frozen=True)
class RiskScore:
    score: int
    """0–100; ranks the review queue."""
    raw: float
    by_kind: dict[FlagKind, float]


def risk_score(flags: Iterable[Flag], settings: ProctorSettings | None = None) -> RiskScore:
    """Σ weight × severity factor, squashed to 0–100: monotone, never past 100."""
    settings = settings or ProctorSettings()
    by_kind: dict[FlagKind, float] = defaultdict(float)
    for flag in flags:
        by_kind[flag.kind] += settings.rule(flag.kind).weight * settings.severity_factor[flag.severity]
    raw = sum(by_kind.values())
    score = round(100 * (1 - math.exp(-raw / settings.risk_scale)))
    return RiskScore(score=score, raw=raw, by_kind=dict(by_kind))
