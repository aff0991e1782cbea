"""Shared, once-per-session results of running the labelled scene set."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from proctor.analysis import FrameReport, analyze_frame, enrol, observe_sequence
from proctor.analysis.identity import Descriptor
from proctor.flags import Flag, attempt_flags
from tests.unit.proctor import scenes as sc


@dataclass(frozen=True)
class SceneRun:
    scene: sc.Scene
    reports: list[FrameReport]
    flags: list[Flag]


@pytest.fixture(scope="session")
def enrolment() -> Descriptor:
    return enrol(sc.jpeg(sc.astronaut(), 95))


@pytest.fixture(scope="session")
def scene_runs(enrolment: Descriptor) -> list[SceneRun]:
    runs = []
    for scene in sc.scenes():
        reports = [analyze_frame(frame, enrolment=enrolment) for frame in scene.frames()]
        timed = [(f"{scene.name}#{i}", 5.0 * i, report) for i, report in enumerate(reports)]
        runs.append(SceneRun(scene, reports, attempt_flags(observe_sequence(timed))))
    return runs
