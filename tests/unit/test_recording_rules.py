"""The recording's pure rules: byte ranges, a flag's moment in the recording, the settings' bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exam_engine.domain.attempts import AttemptStatus
from exam_engine.errors import Conflict
from exam_engine.services.recording import (
    ChunkPlace,
    RangeNotSatisfiable,
    check_tail_chunk,
    flag_moment,
    parse_range,
    recording_end,
)
from proctor.config import MIB, ProctorConfigError, load_config


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("items=0-5", None),  # no range, or a unit we do not serve: the whole
        ("bytes=0-", (0, 999)),
        ("bytes=0-0", (0, 0)),
        ("bytes=10-19", (10, 19)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=-1", (999, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        (" bytes = 5 - 9 ", (5, 9)),
    ],
)
def test_a_range_is_the_bytes_it_names_within_the_recording(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-",
        "bytes=1000-1001",
        "bytes=20-10",
        "bytes=-0",
        "bytes=-",
        "bytes=a-b",
        "bytes=0-1,4-5",
        "bytes=5",
        "bytes=--5",
    ],
)
def test_a_range_outside_the_recording_or_malformed_is_refused_with_the_size(header):
    with pytest.raises(RangeNotSatisfiable) as refused:
        parse_range(header, 1000)
    assert refused.value.total == 1000 and refused.value.status == 416


def test_an_empty_recording_satisfies_no_range():
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-10", 0)


SEGMENTS = [{"segment": 1, "t_start": 5.0, "duration_s": 30.0}, {"segment": 2, "t_start": 40.0, "duration_s": 60.0}]


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (5.0, {"segment": 1, "offset_s": 0.0}),
        (20.5, {"segment": 1, "offset_s": 15.5}),
        (35.0, {"segment": 2, "offset_s": 0.0}),  # the page was reloading: the next part from its start
        (41.25, {"segment": 2, "offset_s": 1.25}),
        (2.0, {"segment": 1, "offset_s": 0.0}),
        (100.0, None),
        (500.0, None),
    ],
)
def test_a_flags_moment_is_the_part_that_covers_it_and_the_offset_in_it(t, expected):
    assert flag_moment(t, SEGMENTS) == expected


def test_recording_settings_have_bounds_and_the_chunk_limit_follows_the_bit_rate(tmp_path: Path):
    config = load_config({}, tmp_path, None)
    assert (config.recording, config.recording_kbps, config.recording_chunk_s) == (True, 250, 5.0)
    assert config.max_chunk_bytes == MIB  # 4 × 156 kB is under the 1 MB floor
    fast = load_config({"EXAM_RECORDING_KBPS": "2000", "EXAM_RECORDING_CHUNK_S": "30"}, tmp_path, None)
    assert fast.max_chunk_bytes == 10 * MIB
    assert not load_config({"EXAM_RECORDING": "0"}, tmp_path, None).recording
    assert config.recording_queue_bytes == 48 * MIB
    assert config.recording_view_audit_s == 300
    assert load_config({"EXAM_RECORDING_VIEW_AUDIT_MIN": "0"}, tmp_path, None).recording_view_audit_s == 0
    assert load_config({"EXAM_RECORDING_QUEUE_MB": "200"}, tmp_path, None).recording_queue_bytes == 200 * MIB
    assert config.recording_tail_s == 120
    assert load_config({"EXAM_RECORDING_TAIL_S": "0"}, tmp_path, None).recording_tail_s == 0
    for env in (
        {"EXAM_RECORDING_KBPS": "5000"},
        {"EXAM_RECORDING_KBPS": "10"},
        {"EXAM_RECORDING_CHUNK_S": "60"},
        {"EXAM_RECORDING_QUEUE_MB": "1"},
        {"EXAM_RECORDING_QUEUE_MB": "5000"},
        {"EXAM_RECORDING_VIEW_AUDIT_MIN": "61"},
        {"EXAM_RECORDING_TAIL_S": "901"},
        {"EXAM_RECORDING_TAIL_S": "-1"},
        {"EXAM_RECORDING": "maybe"},
    ):
        with pytest.raises(ProctorConfigError) as bad:
            load_config(env, tmp_path, None)
        assert next(iter(env)) in str(bad.value)


T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(hours=1)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("status", "submitted", "now", "expected"),
    [
        # Running: the rule of every upload (until the deadline and its 1 s grace), no tail.
        (AttemptStatus.IN_PROGRESS, None, _at(600), None),
        (AttemptStatus.IN_PROGRESS, None, DEADLINE + timedelta(seconds=1), None),
        # Handed in at 10:00: chunks until 120 s after the hand-in, the end being the hand-in.
        (AttemptStatus.SUBMITTED, _at(600), _at(600), _at(600)),
        (AttemptStatus.SUBMITTED, _at(600), _at(720), _at(600)),
        # Closed at the deadline (by the sweeper, or still open past the grace): the deadline is the end.
        (AttemptStatus.TIMED_OUT, DEADLINE, DEADLINE + timedelta(seconds=100), DEADLINE),
        (AttemptStatus.IN_PROGRESS, None, DEADLINE + timedelta(seconds=100), DEADLINE),
    ],
)
def test_a_finished_attempt_takes_recording_chunks_for_the_tail_after_its_end(status, submitted, now, expected):
    assert recording_end(status, DEADLINE, submitted, now, grace_s=1, tail_s=120) == expected


@pytest.mark.parametrize(
    ("status", "submitted", "now", "code"),
    [
        (AttemptStatus.SUBMITTED, _at(600), _at(720.001), "attempt_finished"),
        (AttemptStatus.TIMED_OUT, DEADLINE, DEADLINE + timedelta(seconds=121), "attempt_finished"),
        (AttemptStatus.IN_PROGRESS, None, DEADLINE + timedelta(seconds=121), "deadline_passed"),
        (AttemptStatus.ANNULLED, _at(600), _at(601), "attempt_finished"),  # no tail after an annulment
        (AttemptStatus.PAUSED, None, _at(601), "attempt_paused"),
    ],
)
def test_after_the_tail_and_without_one_chunks_get_the_refusal_of_every_upload(status, submitted, now, code):
    with pytest.raises(Conflict) as refused:
        recording_end(status, DEADLINE, submitted, now, grace_s=1, tail_s=120)
    assert refused.value.code == code


def test_a_tail_of_zero_is_no_tail():
    with pytest.raises(Conflict) as refused:
        recording_end(AttemptStatus.SUBMITTED, DEADLINE, _at(600), _at(600), grace_s=1, tail_s=0)
    assert refused.value.code == "attempt_finished"


def test_after_the_end_only_chunks_recorded_before_it_are_taken():
    end = _at(600)
    started = _at(500)  # the segment started 100 s before the end: 20 chunks of 5 s, the last one partial
    check_tail_chunk(end, started, ChunkPlace(1, 21, 100_000, 300), 5.0)  # the recorder's stop chunk
    check_tail_chunk(end, started, ChunkPlace(1, 22, 100_000, 300), 5.0)  # one chunk of slack
    for refused in (
        ChunkPlace(1, 30, 100_000, 5000),  # more chunks than 100 s can hold
        ChunkPlace(1, 5, 200_000, 5000),  # a chunk that starts 100 s after the end
    ):
        with pytest.raises(Conflict) as after:
            check_tail_chunk(end, started, refused, 5.0)
        assert after.value.code == "recording_after_end"
    for late_start in (_at(600), _at(600.5)):  # a part that started at the end or after it
        with pytest.raises(Conflict) as started_after:
            check_tail_chunk(end, late_start, ChunkPlace(2, 1, 0, 300), 5.0)
        assert started_after.value.code == "recording_after_end"


def test_after_the_end_a_part_opened_after_it_ends_the_part_before_it():
    end = _at(600)
    started = _at(580)  # 20 s before the end: up to chunk 6 (with the slack) when nothing follows
    check_tail_chunk(end, started, ChunkPlace(1, 5, 20_000, 300), 5.0)
    nxt = _at(585)  # the next part starts 5 s after this one: chunk 1, the stop chunk and one of slack
    check_tail_chunk(end, started, ChunkPlace(1, 1, 0, 5000), 5.0, nxt)
    check_tail_chunk(end, started, ChunkPlace(1, 3, 10_000, 300), 5.0, nxt)
    for refused in (ChunkPlace(1, 4, 15_000, 5000), ChunkPlace(1, 2, 15_000, 5000)):
        with pytest.raises(Conflict) as after:
            check_tail_chunk(end, started, refused, 5.0, nxt)
        assert after.value.code == "recording_after_end"
        assert after.value.params["next_at"] == nxt.isoformat(), after.value.params
    # A later part that starts at the end or after it (opened in the grace) bounds nothing more than the end.
    check_tail_chunk(end, started, ChunkPlace(1, 5, 20_000, 300), 5.0, _at(601))
