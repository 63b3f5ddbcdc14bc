"""Stage settings: chosen with `-c stage=...`, validated once, before any construct is built."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from infra.settings import (
    DEFAULT_MAX_EVENT_AGE_HOURS,
    DEFAULT_RETRY_ATTEMPTS,
    HttpAuth,
    SettingsError,
    StageSettings,
    SubscriberRule,
    SubscriberSettings,
    load_settings,
)
from tests.infrastructure.conftest import FUNCTION_ARN, TEST_STAGES


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
        ({"waf": True}, r"unknown settings \['waf'\]"),
        ({"event_source": "aws.ses"}, "event_source must match"),
        ({"event_source": ""}, "event_source must match"),
        ({"published_kinds": []}, "published_kinds must be a non-empty list"),
        ({"published_kinds": "bounced"}, "published_kinds must be a non-empty list"),
        ({"published_kinds": ["bounced", "opened"]}, r"published_kinds: unknown \['opened'\]; known:"),
        ({"published_kinds": ["bounced", "bounced"]}, "published_kinds must not repeat a value"),
        ({"archive_retention_days": 0}, "archive_retention_days must be from 1 to 36500"),
        ({"archive_retention_days": "7"}, "archive_retention_days must be int"),
        ({"subscribers": {"name": "default"}}, "subscribers must be a list"),
        ({"max_body_bytes": 6 * 1024 * 1024 + 1}, "max_body_bytes must be from 1024 to 6291456"),
        ({"max_body_bytes": 1023}, "max_body_bytes must be from 1024 to 6291456"),
        ({"soft_bounce_threshold": 0}, "soft_bounce_threshold must be from 1 to 100"),
        # dev keeps events 30 days: a longer window would count bounces that are already deleted.
        ({"soft_bounce_window_days": 31}, "soft_bounce_window_days must be from 1 to 30"),
        ({"allowed_source_cidrs": "192.0.2.0/24"}, "allowed_source_cidrs must be a list"),
        ({"allowed_source_cidrs": None}, "allowed_source_cidrs must be a list"),
        ({"allowed_source_cidrs": ["192.0.2.1/24"]}, "'192.0.2.1/24' is not a network in CIDR notation"),
        ({"allowed_source_cidrs": ["cmc.example.jp"]}, "is not a network in CIDR notation"),
        ({"allowed_source_cidrs": [""]}, "allowed_source_cidrs must hold non-empty strings"),
        ({"allowed_source_cidrs": ["192.0.2.0/24"] * 2}, "allowed_source_cidrs must not repeat a value"),
        ({"waf_rate_limit_per_5min": 9}, "waf_rate_limit_per_5min must be from 10 to 2000000000"),
        ({"waf_rate_limit_per_5min": "2000"}, "waf_rate_limit_per_5min must be int"),
        ({"waf_rate_limit_per_5min": False}, "waf_rate_limit_per_5min must be int"),
        ({"alarm_email": "ops"}, "alarm_email must be an e-mail address or null"),
        ({"alarm_email": ""}, "alarm_email must be an e-mail address or null"),
        ({"alarm_email": ["ops@example.com"]}, "alarm_email must be str"),
        ({"api_5xx_rate_percent": 0}, "api_5xx_rate_percent must be from 1 to 100"),
        ({"api_5xx_rate_percent": 101}, "api_5xx_rate_percent must be from 1 to 100"),
        ({"auth_failures_per_5min": 0}, "auth_failures_per_5min must be from 1 to 1000000"),
    ],
)
def test_invalid_values_fail_the_synth_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        StageSettings.from_mapping("dev", TEST_STAGES["dev"] | change)


@pytest.mark.parametrize("time_zone", ["Asia/Tokyo", "UTC", "+09:00", "-03:30"])
def test_time_zone_takes_what_the_function_takes(time_zone: str) -> None:
    settings = StageSettings.from_mapping("dev", TEST_STAGES["dev"] | {"time_zone": time_zone})
    assert settings.time_zone == time_zone


def test_waf_and_alarm_email_are_off_when_null_or_left_out() -> None:
    # CDK drops null context values, so cdk.json's `null` arrives as a missing key.
    left_out = {
        key: value
        for key, value in TEST_STAGES["prod"].items()
        if key not in {"waf_rate_limit_per_5min", "alarm_email"}
    }
    null = TEST_STAGES["prod"] | {"waf_rate_limit_per_5min": None, "alarm_email": None}

    for raw in (left_out, null):
        settings = StageSettings.from_mapping("prod", raw)
        assert settings.waf_rate_limit_per_5min is None
        assert settings.alarm_email is None


def test_the_allowlist_takes_ipv4_and_ipv6_networks_and_is_off_when_empty() -> None:
    assert StageSettings.from_mapping("dev", TEST_STAGES["dev"]).allowed_source_cidrs == ()
    assert StageSettings.from_mapping("prod", TEST_STAGES["prod"]).allowed_source_cidrs == (
        "192.0.2.0/24",
        "198.51.100.17/32",
        "2001:db8::/32",
    )


def test_a_missing_setting_is_named() -> None:
    raw = {key: value for key, value in TEST_STAGES["dev"].items() if key != "time_zone"}
    with pytest.raises(SettingsError, match=r"missing settings \['time_zone'\]"):
        StageSettings.from_mapping("dev", raw)


def test_a_stage_name_must_fit_a_stack_name() -> None:
    with pytest.raises(SettingsError, match="stage must match"):
        StageSettings.from_mapping("Prod_1", TEST_STAGES["prod"])


def subscribers(*entries: dict[str, Any], **stage: Any) -> StageSettings:
    return StageSettings.from_mapping("dev", TEST_STAGES["dev"] | stage | {"subscribers": list(entries)})


def test_subscribers_become_typed_settings_with_default_retries() -> None:
    settings = subscribers(
        {"name": "default", "kind": "queue"},
        {
            "name": "orders",
            "kind": "http",
            "endpoint": "https://hooks.example.com/cmc",
            "rule": {"detail_types": ["Email Bounced"], "bounce_codes": ["2"], "api_data_prefix": "order-"},
            "auth": {"type": "api_key", "header": "X-Api-Key", "secret_name": "cmc/orders"},
            "retry_attempts": 0,
        },
    )

    assert settings.subscribers == (
        SubscriberSettings(name="default", kind="queue"),
        SubscriberSettings(
            name="orders",
            kind="http",
            endpoint="https://hooks.example.com/cmc",
            rule=SubscriberRule(
                detail_types=("Email Bounced",), bounce_codes=("2",), api_data_prefix="order-"
            ),
            auth=HttpAuth(type="api_key", header="X-Api-Key", secret_name="cmc/orders"),
            retry_attempts=0,
        ),
    )
    assert settings.subscribers[0].retry_attempts == DEFAULT_RETRY_ATTEMPTS
    assert settings.subscribers[0].max_event_age_hours == DEFAULT_MAX_EVENT_AGE_HOURS
    assert settings.published_kinds == ("bounced", "failed", "blocked")


def test_a_rule_is_an_eventbridge_pattern_on_the_stage_source() -> None:
    rule = SubscriberRule(
        detail_types=("Email Bounced",),
        bounce_codes=("1", "2"),
        server_compositions=("pro",),
        api_data_prefix="o-",
    )

    assert SubscriberRule().event_pattern("cmc") == {"source": ["cmc"]}
    assert rule.event_pattern("cmc") == {
        "source": ["cmc"],
        "detail-type": ["Email Bounced"],
        "detail": {"bounce_code": ["1", "2"], "server_composition": ["pro"], "api_data": [{"prefix": "o-"}]},
    }


AUTH = {"type": "basic", "username": "cmc", "secret_name": "cmc/hook"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "Default", "kind": "queue"}, r"subscribers\[0\].name must match"),
        ({"kind": "queue"}, r"subscribers\[0\].name must be str"),
        ({"name": "x", "kind": "sqs"}, "subscriber 'x': kind must be one of"),
        (
            {"name": "x", "kind": "queue", "function_arn": FUNCTION_ARN},
            r"unknown settings \['function_arn'\]",
        ),
        ({"name": "x", "kind": "function"}, r"missing settings \['function_arn'\]"),
        (
            {"name": "x", "kind": "function", "function_arn": "crm-sync"},
            "function_arn must be a Lambda function ARN",
        ),
        ({"name": "x", "kind": "topic", "topic_arn": FUNCTION_ARN}, "topic_arn must be an SNS topic ARN"),
        ({"name": "x", "kind": "queue", "retry_attempts": 186}, "retry_attempts must be from 0 to 185"),
        (
            {"name": "x", "kind": "queue", "max_event_age_hours": 25},
            "max_event_age_hours must be from 1 to 24",
        ),
        ({"name": "x", "kind": "queue", "rule": {"detail_type": ["Email Bounced"]}}, r"unknown settings"),
        (
            {"name": "x", "kind": "queue", "rule": {"detail_types": ["Email Opened"]}},
            r"rule.detail_types: unknown \['Email Opened'\]",
        ),
        (
            {"name": "x", "kind": "queue", "rule": {"detail_types": ["Email Delivered"]}},
            r"subscriber 'x' listens for \['Email Delivered'\], which published_kinds",
        ),
        (
            {"name": "x", "kind": "queue", "rule": {"bounce_codes": [2]}},
            "bounce_codes must hold non-empty strings",
        ),
        ({"name": "x", "kind": "queue", "rule": {"bounce_codes": ["12"]}}, "are not CMC bounce codes"),
        (
            {
                "name": "x",
                "kind": "queue",
                "rule": {"detail_types": ["Email Blocked"], "bounce_codes": ["2"]},
            },
            "bounce_codes match only 'Email Bounced' events",
        ),
        ({"name": "x", "kind": "queue", "rule": {"server_compositions": []}}, "must be a non-empty list"),
        ({"name": "x", "kind": "http", "auth": AUTH}, r"missing settings \['endpoint'\]"),
        (
            {"name": "x", "kind": "http", "endpoint": "http://h.example", "auth": AUTH},
            "must be an https:// URL",
        ),
        ({"name": "x", "kind": "http", "endpoint": "https://h.example"}, r"missing settings \['auth'\]"),
        (
            {
                "name": "x",
                "kind": "http",
                "endpoint": "https://h.example",
                "auth": AUTH,
                "http_method": "GET",
            },
            "http_method must be one of",
        ),
        (
            {"name": "x", "kind": "http", "endpoint": "https://h.example", "auth": AUTH | {"type": "oauth"}},
            "auth.type must be one of",
        ),
        (
            {
                "name": "x",
                "kind": "http",
                "endpoint": "https://h.example",
                "auth": AUTH | {"password": "hunter2"},
            },
            r"unknown settings \['password'\]",
        ),
        (
            {
                "name": "x",
                "kind": "http",
                "endpoint": "https://h.example",
                "auth": {"type": "basic", "username": "u"},
            },
            r"missing settings \['secret_name'\]",
        ),
        (
            {
                "name": "x",
                "kind": "http",
                "endpoint": "https://h.example",
                "auth": AUTH | {"secret_name": "arn:aws:secretsmanager:ap-northeast-1:111122223333:secret:x"},
            },
            "secret_name must name a Secrets Manager secret",
        ),
        (
            {
                "name": "x",
                "kind": "http",
                "endpoint": "https://h.example",
                "auth": {"type": "api_key", "header": "X Key", "secret_name": "k"},
            },
            "header must be an HTTP header name",
        ),
    ],
)
def test_invalid_subscribers_fail_the_synth_with_a_clear_message(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        subscribers(entry)


def test_subscriber_names_are_unique() -> None:
    with pytest.raises(SettingsError, match=r"names must be unique, repeated: \['a'\]"):
        subscribers({"name": "a", "kind": "queue"}, {"name": "a", "kind": "queue"})


def test_a_subscriber_may_listen_for_a_kind_once_it_is_published() -> None:
    settings = subscribers(
        {"name": "x", "kind": "queue", "rule": {"detail_types": ["Email Delivered"]}},
        published_kinds=["bounced", "succeeded"],
    )
    assert settings.published_detail_types == ("Email Bounced", "Email Delivered")


def test_no_subscribers_is_allowed() -> None:
    assert subscribers().subscribers == ()
