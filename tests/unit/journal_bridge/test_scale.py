"""An institution's grading scale: loading, round trip and precise validation errors."""

import copy
import json

import pytest

from journal_bridge.errors import ScaleInvalid
from journal_bridge.grading import grade_outcome
from journal_bridge.scale import DEFAULT_SCALE, GradingScale


def _config():
    return copy.deepcopy(DEFAULT_SCALE.to_dict())


def _band(config, letter):
    return next(b for b in config["bands"] if b["letter"] == letter)


def test_a_scale_survives_a_round_trip_through_json():
    assert GradingScale.from_json(json.dumps(DEFAULT_SCALE.to_dict())) == DEFAULT_SCALE


def test_missing_fields_take_the_defaults_and_given_ones_apply():
    scale = GradingScale.from_dict({"exam_threshold": 50, "admission_weights": {"current": 1}})
    assert scale.bands == DEFAULT_SCALE.bands and scale.admission_weights.current == 1


def test_an_institution_can_move_the_letter_edges():
    config = _config()
    _band(config, "A")["low"], _band(config, "A-")["high"] = 96, 95
    scale = GradingScale.from_dict(config)
    assert grade_outcome(95, 95, scale).letter == "A-"
    assert grade_outcome(95, 95).letter == "A"


@pytest.mark.parametrize(
    ("change", "code", "params"),
    [
        (lambda c: _band(c, "B").update(low=81), "scale_gap", {"low": 80, "high": 80}),
        (
            lambda c: _band(c, "B").update(high=86),
            "scale_overlap",
            {"first": "B", "second": "B+", "low": 85, "high": 86},
        ),
        (lambda c: _band(c, "F").update(low=1), "scale_gap", {"low": 0, "high": 0}),
        (lambda c: _band(c, "A").update(high=99), "scale_gap", {"low": 100, "high": 100}),
        (lambda c: _band(c, "C").update(low=70), "scale_band_inverted", {"letter": "C", "low": 70, "high": 69}),
        (lambda c: _band(c, "C").update(letter="c+"), "scale_duplicate_letter", {"letter": "c+"}),
        (lambda c: _band(c, "B").update(gpa="3.5"), "scale_gpa_not_monotonic", {"letter": "B", "better": "B+"}),
        (lambda c: _band(c, "B").update(gpa="many"), "scale_value_invalid", {"field": "bands[4].gpa"}),
        (lambda c: _band(c, "B").pop("high"), "scale_field_missing", {"index": 4, "field": "high"}),
        (
            lambda c: _band(c, "B").update(traditional={"kk": "жақсы"}),
            "scale_traditional_missing",
            {"letter": "B", "language": "ru"},
        ),
        (lambda c: c.update(admission_share=100), "scale_value_invalid", {"field": "admission_share"}),
        (lambda c: c.update(exam_threshold=50.5), "scale_value_invalid", {"field": "exam_threshold"}),
        (lambda c: c.update(exam_treshold=50), "scale_unknown_field", {"field": "exam_treshold"}),
        (lambda c: c.update(admission_threshold=60), "scale_pass_edge_misaligned", {"total": 56}),
        (lambda c: c.update(bands=[]), "scale_empty", {}),
        (
            lambda c: c.update(admission_weights={"current": 0, "midterm1": 0, "midterm2": 0}),
            "scale_value_invalid",
            {"field": "admission_weights"},
        ),
    ],
)
def test_a_broken_scale_is_refused_with_a_precise_error(change, code, params):
    config = _config()
    change(config)
    with pytest.raises(ScaleInvalid) as error:
        GradingScale.from_dict(config)
    assert error.value.code == code
    assert params.items() <= error.value.params.items()


def test_text_that_is_not_json_or_not_an_object_is_refused():
    for text, code in (("{bands", "scale_json_invalid"), ("[1, 2]", "scale_not_object")):
        with pytest.raises(ScaleInvalid) as error:
            GradingScale.from_json(text)
        assert error.value.code == code
