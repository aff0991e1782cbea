"""The bounds of typed numbers (exam_engine/bounds.py) and the settings of the bounded waits."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from exam_engine import bounds
from exam_engine.config import load_settings
from exam_engine.errors import ConfigError, InvalidInput
from exam_engine.i18n import translate


@pytest.mark.parametrize("value", [-1, 601, 2**53 - 1, 10**400])
def test_an_integer_out_of_range_is_refused_naming_the_field_and_the_range(value):
    with pytest.raises(InvalidInput) as refused:
        bounds.EXTRA_MINUTES.check(value, "extra_minutes")
    assert refused.value.code == "out_of_range"
    assert (
        translate("ru", refused.value.msgid, **refused.value.params)
        == "Поле «extra_minutes» должно быть целым числом от 0 до 600."
    )
    assert (
        translate("kk", refused.value.msgid, **refused.value.params)
        == "«extra_minutes» өрісі 0 мен 600 аралығындағы бүтін сан болуы керек."
    )


@pytest.mark.parametrize("value", [True, 2.0, "5", None, [5], math.nan])
def test_anything_but_an_integer_is_a_type_refusal(value):
    with pytest.raises(InvalidInput) as refused:
        bounds.EXTRA_MINUTES.check(value, "extra_minutes")
    assert refused.value.code == "invalid_field" and refused.value.params["expected"] == "integer"
    assert (
        translate("ru", refused.value.msgid, **refused.value.params) == "Поле «extra_minutes» должно быть: целое число."
    )
    assert (
        translate("kk", refused.value.msgid, **refused.value.params)
        == "«extra_minutes» өрісінің түрі бүтін сан болуы керек."
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.99, 4.01])
def test_a_number_bound_refuses_nan_infinity_and_the_outside(value):
    with pytest.raises(InvalidInput) as refused:
        bounds.MULTIPLIER.check(value, "multiplier")
    assert refused.value.code == "out_of_range"


def test_the_edges_are_inside():
    assert bounds.EXTRA_MINUTES.check(0, "x") == 0 and bounds.EXTRA_MINUTES.check(600, "x") == 600
    assert bounds.MULTIPLIER.check(4, "x") == 4 and bounds.MULTIPLIER.check(1.5, "x") == 1.5
    assert bounds.EXTRA_MINUTES.schema() == {
        "type": "integer",
        "minimum": 0,
        "maximum": 600,
        "description": bounds.EXTRA_MINUTES.description,
    }


def test_a_moment_outside_2000_to_2100_is_refused():
    plus5 = timezone(timedelta(hours=5))
    assert bounds.moment(datetime(2026, 6, 1, 9, tzinfo=plus5), "opens_at").year == 2026
    for year in (1, 1999, 2101, 9999):
        with pytest.raises(InvalidInput) as refused:
            bounds.moment(datetime(year, 6, 1, 9, tzinfo=plus5), "opens_at")
        assert refused.value.code == "out_of_range"


def test_the_wait_settings_are_read_and_a_bad_value_names_its_variable(tmp_path):
    base = {"EXAM_SECRET_KEY": "x" * 40, "EXAM_DATA_DIR": str(tmp_path)}
    settings = load_settings({**base, "EXAM_BODY_TIMEOUT_S": "12", "EXAM_DB_WAIT_S": "3", "EXAM_HEADER_TIMEOUT_S": "7"})
    assert (settings.body_timeout_s, settings.db_wait_s, settings.header_timeout_s) == (12.0, 3.0, 7.0)
    defaults = load_settings(base)
    assert (defaults.body_timeout_s, defaults.db_wait_s, defaults.header_timeout_s) == (30.0, 10.0, 20.0)
    for name, bad in (("EXAM_BODY_TIMEOUT_S", "0"), ("EXAM_DB_WAIT_S", "soon"), ("EXAM_HEADER_TIMEOUT_S", "0.5")):
        with pytest.raises(ConfigError, match=name):
            load_settings({**base, name: bad})


def test_the_evidence_quota_is_configured_from_the_environment(tmp_path):
    from proctor.config import MIB, ProctorConfigError, load_config

    defaults = load_config({}, tmp_path, None)
    assert (defaults.max_uploads_per_min, defaults.max_attempt_bytes) == (150, 2048 * MIB)
    config = load_config({"EXAM_EVIDENCE_UPLOADS_PER_MIN": "30", "EXAM_EVIDENCE_MAX_MB": "256"}, tmp_path, None)
    assert (config.max_uploads_per_min, config.max_attempt_bytes) == (30, 256 * MIB)
    with pytest.raises(ProctorConfigError, match="EXAM_EVIDENCE_UPLOADS_PER_MIN"):
        load_config({"EXAM_EVIDENCE_UPLOADS_PER_MIN": "0"}, tmp_path, None)


@pytest.mark.parametrize("kind", [int, str, bool, list, dict])
@pytest.mark.parametrize("language", ["kk", "ru"])
def test_a_wrong_type_is_named_in_the_readers_language(kind, language):
    from exam_engine.web.http import field

    wrong = {int: "x", str: 5, bool: "yes", list: 5, dict: 5}[kind]
    with pytest.raises(InvalidInput) as refused:
        field({"f": wrong}, "f", kind)
    text = translate(language, refused.value.msgid, **refused.value.params)
    assert "«f»" in text
    for english in ("integer", "string", "boolean", "list", "object"):
        assert english not in text, text
