"""Stage settings: chosen with `-c stage=...`, validated once, before any construct is built."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from infra.settings import SettingsError, StageSettings, load_settings
from tests.infrastructure.conftest import TEST_STAGES


def settings_of(context: dict[str, Any]) -> StageSettings:
    return load_settings(cdk.App(context=context).node)


def test_dev_is_the_default_stage() -> None:
    assert settings_of({"stages": TEST_STAGES}).stage == "dev"


def test_a_stage_is_chosen_by_context() -> None:
    settings = settings_of({"stages": TEST_STAGES, "stage": "prod"})

    assert settings == StageSettings(stage="prod", **TEST_STAGES["prod"])
    assert settings.removal_policy == RemovalPolicy.RETAIN
    assert settings.log_retention_days == logs.RetentionDays.THREE_MONTHS


def test_a_disposable_stage_is_destroyed_with_its_stack() -> None:
    assert settings_of({"stages": TEST_STAGES}).removal_policy == RemovalPolicy.DESTROY


def test_an_unknown_stage_names_the_known_ones() -> None:
    with pytest.raises(SettingsError, match=r"unknown stage 'qa'; cdk.json defines \['dev', 'prod'\]"):
        settings_of({"stages": TEST_STAGES, "stage": "qa"})


def test_missing_stages_object_is_reported() -> None:
    with pytest.raises(SettingsError, match="no 'stages' object"):
        settings_of({})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"time_zone": "Asia/Tokio"}, "time_zone must be an IANA name or"),
        ({"time_zone": "+9:00"}, "time_zone must be an IANA name or"),
        ({"retention_days": 36501}, "retention_days must be at most 36500"),
        ({"log_level": "TRACE"}, "log_level must be one of"),
        ({"log_retention": "FOREVER"}, "RetentionDays"),
        ({"log_retention": 14}, "log_retention must be str"),
        ({"retention_days": 0}, "retention_days must be at least 1"),
        ({"throttling_rate_limit": True}, "throttling_rate_limit must be int"),
        ({"throttling_burst_limit": "20"}, "throttling_burst_limit must be int"),
        ({"retain_data": "yes"}, "retain_data must be bool"),
        ({"powertools_layer_version": ""}, "powertools_layer_version must not be empty"),
        ({"alarm_email": "ops@example.com"}, r"unknown settings \['alarm_email'\]"),
    ],
)
def test_invalid_values_fail_the_synth_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        StageSettings.from_mapping("dev", TEST_STAGES["dev"] | change)


@pytest.mark.parametrize("time_zone", ["Asia/Tokyo", "UTC", "+09:00", "-03:30"])
def test_time_zone_takes_what_the_function_takes(time_zone: str) -> None:
    settings = StageSettings.from_mapping("dev", TEST_STAGES["dev"] | {"time_zone": time_zone})
    assert settings.time_zone == time_zone


def test_a_missing_setting_is_named() -> None:
    raw = {key: value for key, value in TEST_STAGES["dev"].items() if key != "time_zone"}
    with pytest.raises(SettingsError, match=r"missing settings \['time_zone'\]"):
        StageSettings.from_mapping("dev", raw)


def test_a_stage_name_must_fit_a_stack_name() -> None:
    with pytest.raises(SettingsError, match="stage must match"):
        StageSettings.from_mapping("Prod_1", TEST_STAGES["prod"])
