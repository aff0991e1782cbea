"""Findings and browser events become flags by pure rules; flags rank attempts by risk."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proctor.flags import attempt_flags, event_episodes, frame_episodes, noise_episodes, risk_score
from proctor.kinds import BROWSER_EVENT_KINDS, TITLES, FlagKind, Severity
from proctor.settings import ProctorSettings
from proctor.signals import BrowserEvent, FrameObservation, NoiseSample

S = ProctorSettings()
K = FlagKind
FRAME_CHECKS = frozenset({K.NO_FACE, K.SEVERAL_FACES, K.CAMERA_DARK, K.CAMERA_COVERED})


def frame(i: int, *found: FlagKind, checked: frozenset[FlagKind] = FRAME_CHECKS) -> FrameObservation:
    return FrameObservation(f"f{i}", 5.0 * i, frozenset(found), checked | frozenset(found))


def test_consecutive_no_face_frames_merge_into_one_flag_with_their_frame_ids() -> None:
    frames = [frame(0), frame(1, K.NO_FACE), frame(2, K.NO_FACE), frame(3, K.NO_FACE), frame(4)]
    [flag] = attempt_flags(frames)
    assert (flag.kind, flag.start, flag.end, flag.evidence_ids) == (K.NO_FACE, 5.0, 15.0, ("f1", "f2", "f3"))
    assert flag.count == 3 and flag.severity is Severity.LOW


def test_a_frame_with_a_face_between_two_empty_ones_splits_the_episode() -> None:
    frames = [frame(0, K.NO_FACE), frame(1), frame(2, K.NO_FACE)]
    assert [f.evidence_ids for f in attempt_flags(frames)] == [("f0",), ("f2",)]


def test_a_frame_that_did_not_check_a_kind_neither_ends_nor_extends_its_episode() -> None:
    idc = frozenset({K.IDENTITY_MISMATCH})
    frames = [
        frame(0, K.IDENTITY_MISMATCH, checked=FRAME_CHECKS | idc),
        frame(1),
        frame(2, K.IDENTITY_MISMATCH, checked=FRAME_CHECKS | idc),
    ]
    [flag] = attempt_flags(frames)
    assert flag.evidence_ids == ("f0", "f2") and flag.severity is Severity.HIGH


def test_findings_further_apart_than_the_merge_gap_are_separate_flags() -> None:
    frames = [frame(0, K.SEVERAL_FACES), frame(10, K.SEVERAL_FACES)]
    flags = attempt_flags(frames)
    assert [f.occurrence for f in flags] == [1, 2]


def test_a_short_head_turn_is_not_a_flag_and_a_long_one_grows_in_severity() -> None:
    checked = FRAME_CHECKS | {K.HEAD_TURNED}
    glance = [frame(i, K.HEAD_TURNED, checked=checked) for i in range(2)]
    assert attempt_flags(glance) == []
    long_turn = [frame(i, K.HEAD_TURNED, checked=checked) for i in range(8)]
    [flag] = attempt_flags(long_turn)
    assert flag.severity is Severity.MEDIUM and flag.end - flag.start == 35.0


def test_no_face_for_a_minute_is_high_severity() -> None:
    [flag] = attempt_flags([frame(i, K.NO_FACE) for i in range(13)])
    assert flag.severity is Severity.HIGH


def test_tab_hidden_severity_follows_its_duration() -> None:
    events = [BrowserEvent(K.TAB_HIDDEN, 0, 2), BrowserEvent(K.TAB_HIDDEN, 100, 8), BrowserEvent(K.TAB_HIDDEN, 200, 45)]
    assert [f.severity for f in attempt_flags(events=events)] == [Severity.LOW, Severity.MEDIUM, Severity.HIGH]


def test_repeated_tab_hiding_escalates_even_when_each_is_brief() -> None:
    events = [BrowserEvent(K.TAB_HIDDEN, 60.0 * i, 1, f"e{i}") for i in range(6)]
    severities = [f.severity for f in attempt_flags(events=events)]
    assert severities == [Severity.LOW] * 2 + [Severity.MEDIUM] * 3 + [Severity.HIGH]


def test_a_burst_of_pastes_is_one_flag_that_counts_them() -> None:
    events = [BrowserEvent(K.PASTE, 10.0 + i, 0, f"p{i}") for i in range(4)]
    [flag] = attempt_flags(events=events)
    assert (flag.count, flag.evidence_ids, flag.severity) == (4, ("p0", "p1", "p2", "p3"), Severity.MEDIUM)


def test_a_brief_window_blur_is_ignored() -> None:
    assert attempt_flags(events=[BrowserEvent(K.WINDOW_BLUR, 5, 0.5)]) == []
    assert len(attempt_flags(events=[BrowserEvent(K.WINDOW_BLUR, 5, 3)])) == 1


def test_a_second_tab_print_and_second_monitor_are_high_at_once() -> None:
    events = [BrowserEvent(K.SECOND_TAB, 1), BrowserEvent(K.PRINT, 2), BrowserEvent(K.SECOND_MONITOR, 3)]
    assert {f.severity for f in attempt_flags(events=events)} == {Severity.HIGH}


def test_every_browser_event_kind_has_a_rule_and_a_title() -> None:
    for kind in FlagKind:
        assert S.rule(kind).weight > 0 and TITLES[kind]
    for kind in BROWSER_EVENT_KINDS:
        assert attempt_flags(events=[BrowserEvent(kind, 0, 3)])


def test_camera_lost_for_half_a_minute_is_high() -> None:
    [flag] = attempt_flags(events=[BrowserEvent(K.CAMERA_LOST, 10, 40, "c1")])
    assert (flag.start, flag.end, flag.severity) == (10, 50, Severity.HIGH)


def test_loud_noise_must_last_the_minimum_duration() -> None:
    loud, quiet = -15.0, -50.0
    samples = [NoiseSample(t, loud if 3 <= t <= 5 else quiet) for t in range(10)]
    assert noise_episodes(samples, S) == []
    samples = [NoiseSample(t, loud if 3 <= t <= 9 else quiet) for t in range(12)]
    [episode] = noise_episodes(samples, S)
    assert (episode.start, episode.end, episode.count, episode.peak) == (3, 9, 7, loud)


def test_a_gap_in_the_loudness_samples_ends_a_noise_episode() -> None:
    samples = [NoiseSample(t, -10) for t in (0, 1, 2, 10, 11, 12, 13)]
    assert [(e.start, e.end) for e in noise_episodes(samples, S)] == [(10, 13)]


def test_loud_noise_becomes_a_flag_with_its_peak() -> None:
    samples = [NoiseSample(float(t), -20.0 - (t == 4) * -12) for t in range(20)]
    [flag] = attempt_flags(noise=samples)
    assert flag.kind is K.LOUD_NOISE and flag.peak == -8.0 and flag.severity is Severity.MEDIUM


def test_a_clean_attempt_scores_zero_and_a_serious_one_ranks_above_a_minor_one() -> None:
    assert risk_score([]).score == 0
    minor = attempt_flags(events=[BrowserEvent(K.CONTEXT_MENU, 1)])
    serious = attempt_flags([frame(i, K.SEVERAL_FACES) for i in range(4)], [BrowserEvent(K.SECOND_TAB, 3)])
    assert 0 < risk_score(minor).score < risk_score(serious).score <= 100


@given(st.lists(st.sampled_from(sorted(FlagKind, key=str)), max_size=30), st.sampled_from(sorted(FlagKind, key=str)))
def test_one_more_flag_never_lowers_the_risk(kinds: list[FlagKind], extra: FlagKind) -> None:
    events = [BrowserEvent(kind, 100.0 * i, 1) for i, kind in enumerate(kinds)]
    episodes = event_episodes(events, S)
    before = risk_score(attempt_flags(events=events))
    after = risk_score(attempt_flags(events=[*events, BrowserEvent(extra, 100.0 * len(kinds), 1)]))
    assert after.raw >= before.raw and after.score >= before.score
    assert len(episodes) == len(kinds)


def test_frame_episodes_are_independent_of_the_order_observations_arrive_in() -> None:
    frames = [frame(i, K.NO_FACE) if i % 4 else frame(i) for i in range(12)]
    assert frame_episodes(frames, S) == frame_episodes(list(reversed(frames)), S)
