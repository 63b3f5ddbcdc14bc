"""Stage settings: chosen with `-c stage=...`, validated once, before any construct is built; a wrong
value stops the synth with a message that names the stage and every wrong key."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from cmc_webhooks.settings import MAX_BODY_BYTES_LIMIT, IngestSettings, IngestTunables, PublisherSettings
from infra.settings import (
    DEFAULT_MAX_EVENT_AGE_HOURS,
    DEFAULT_RETRY_ATTEMPTS,
    ApiKeyAuth,
    BasicAuth,
    FunctionSubscriber,
    HttpSubscriber,
    QueueSubscriber,
    SettingsError,
    StageSettings,
    SubscriberRule,
    TopicSubscriber,
    load_settings,
)
from tests.infrastructure.conftest import FUNCTION_ARN, TEST_STAGES, TOPIC_ARN


def settings_of(context: dict[str, Any]) -> StageSettings:
    return load_settings(cdk.App(context=context).node)


def dev(**change: Any) -> StageSettings:
    return StageSettings.from_context("dev", TEST_STAGES["dev"] | change)


def problems(change: dict[str, Any], *, without: str = "") -> list[str]:
    """The lines of the SettingsError for the dev test stage with `change` (and key `without` removed)."""
    raw = {key: value for key, value in (TEST_STAGES["dev"] | change).items() if key != without}
    with pytest.raises(SettingsError) as raised:
        StageSettings.from_context("dev", raw)
    first, *lines = str(raised.value).splitlines()
    assert first == "stage 'dev': invalid settings in cdk.json:"
    return [line.strip() for line in lines]


def test_dev_is_the_default_stage() -> None:
    assert settings_of({"stages": TEST_STAGES}).stage == "dev"


def test_a_stage_is_chosen_by_context() -> None:
    settings = settings_of({"stages": TEST_STAGES, "stage": "prod"})

    assert settings.stage == "prod"
    assert settings.time_zone == "UTC"
    assert settings.removal_policy == RemovalPolicy.RETAIN
    assert settings.log_retention_days == logs.RetentionDays.THREE_MONTHS
    assert settings_of({"stages": TEST_STAGES}).removal_policy == RemovalPolicy.DESTROY


def test_an_unknown_stage_names_the_known_ones() -> None:
    with pytest.raises(SettingsError, match=r"^unknown stage 'qa'; cdk.json defines \['dev', 'prod'\]$"):
        settings_of({"stages": TEST_STAGES, "stage": "qa"})


def test_missing_stages_object_is_reported() -> None:
    with pytest.raises(SettingsError, match="no 'stages' object"):
        settings_of({})


def test_every_wrong_key_is_named_on_its_own_line() -> None:
    lines = problems({"retention_days": 0, "waf": True, "log_level": "TRACE"})

    assert len(lines) == 3
    assert lines[0].startswith("retention_days: Input should be greater than or equal to 1 (got 0)")
    assert lines[1].startswith("log_level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'")
    assert lines[2] == "waf: Extra inputs are not permitted"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        # The function's own fields, bounds and checks (cmc_webhooks.settings).
        ({"time_zone": "Asia/Tokio"}, "time_zone"),
        ({"time_zone": "+9:00"}, "time_zone"),
        ({"retention_days": 36501}, "retention_days"),
        ({"max_body_bytes": 6 * 1024 * 1024 + 1}, "max_body_bytes"),
        ({"max_body_bytes": 1023}, "max_body_bytes"),
        ({"soft_bounce_threshold": 0}, "soft_bounce_threshold"),
        ({"event_source": "aws.ses"}, "event_source"),
        ({"event_source": ""}, "event_source"),
        ({"published_kinds": []}, "published_kinds"),
        ({"published_kinds": ["bounced", "opened"]}, "published_kinds"),
        ({"published_kinds": ["bounced", "bounced"]}, "published_kinds"),
        # The stack's.
        ({"log_retention": "FOREVER"}, "log_retention"),
        ({"log_retention": 14}, "log_retention"),
        ({"throttling_rate_limit": 0}, "throttling_rate_limit"),
        ({"throttling_rate_limit": True}, "throttling_rate_limit"),
        ({"throttling_burst_limit": "20"}, "throttling_burst_limit"),
        ({"retain_data": "yes"}, "retain_data"),
        ({"powertools_layer_version": "latest"}, "powertools_layer_version"),
        ({"powertools_layer_version": "3.37"}, "powertools_layer_version"),
        ({"archive_retention_days": 0}, "archive_retention_days"),
        ({"subscribers": {"name": "default"}}, "subscribers"),
        ({"allowed_source_cidrs": None}, "allowed_source_cidrs"),
        ({"allowed_source_cidrs": ["192.0.2.0/24"] * 2}, "allowed_source_cidrs"),
        ({"waf_rate_limit_per_5min": 9}, "waf_rate_limit_per_5min"),
        ({"waf_rate_limit_per_5min": 2_000_000_001}, "waf_rate_limit_per_5min"),
        ({"waf_rate_limit_per_5min": "2000"}, "waf_rate_limit_per_5min"),
        ({"alarm_email": "ops"}, "alarm_email"),
        ({"alarm_email": ["ops@example.com"]}, "alarm_email"),
        ({"api_5xx_rate_percent": 101}, "api_5xx_rate_percent"),
        ({"auth_failures_per_5min": 0}, "auth_failures_per_5min"),
        # An environment variable's name is not a cdk.json key.
        ({"CMC_TIME_ZONE": "UTC"}, "CMC_TIME_ZONE"),
    ],
)
def test_a_wrong_value_is_refused_and_its_key_named(change: dict[str, Any], key: str) -> None:
    (line,) = problems(change)
    assert line.startswith(f"{key}: ") or line.startswith(f"{key}[")


def test_the_body_limit_is_the_functions_own() -> None:
    # The largest body the function accepts is the largest a stage may set, and no larger.
    assert dev(max_body_bytes=MAX_BODY_BYTES_LIMIT).max_body_bytes == MAX_BODY_BYTES_LIMIT
    (line,) = problems({"max_body_bytes": MAX_BODY_BYTES_LIMIT + 1})
    assert line.startswith(f"max_body_bytes: Input should be less than or equal to {MAX_BODY_BYTES_LIMIT}")


@pytest.mark.parametrize("cidr", ["192.0.2.1/24", "cmc.example.jp", ""])
def test_a_network_must_be_a_network_without_host_bits(cidr: str) -> None:
    (line,) = problems({"allowed_source_cidrs": [cidr]})
    assert line.startswith("allowed_source_cidrs[0]: ")


def test_the_allowlist_takes_ipv4_and_ipv6_networks_and_is_off_when_empty() -> None:
    assert dev().allowed_source_cidrs == ()
    prod = StageSettings.from_context("prod", TEST_STAGES["prod"])
    assert [str(network) for network in prod.allowed_source_cidrs] == TEST_STAGES["prod"][
        "allowed_source_cidrs"
    ]


def test_a_required_setting_left_out_is_named() -> None:
    assert problems({}, without="log_level") == ["log_level: Field required"]


def test_the_functions_settings_left_out_take_the_functions_defaults() -> None:
    raw = {key: value for key, value in TEST_STAGES["dev"].items() if key not in IngestTunables.model_fields}
    settings = StageSettings.from_context("dev", raw)

    assert settings.ingest_environment() == IngestTunables().ingest_environment()


def test_the_soft_bounce_window_must_fit_in_the_retention() -> None:
    # dev keeps events 30 days: a longer window would count bounces that are already deleted.
    (line,) = problems({"soft_bounce_window_days": 31})
    assert "soft_bounce_window_days" in line
    assert "retention_days" in line


@pytest.mark.parametrize("time_zone", ["Asia/Tokyo", "UTC", "+09:00", "-03:30"])
def test_time_zone_takes_what_the_function_takes(time_zone: str) -> None:
    assert dev(time_zone=time_zone).time_zone == time_zone


def test_waf_and_alarm_email_are_off_when_null_or_left_out() -> None:
    # CDK drops null context values, so cdk.json's `null` arrives as a missing key.
    optional = {"waf_rate_limit_per_5min", "alarm_email"}
    left_out = {key: value for key, value in TEST_STAGES["prod"].items() if key not in optional}
    null = TEST_STAGES["prod"] | dict.fromkeys(optional)

    for raw in (left_out, null):
        settings = StageSettings.from_context("prod", raw)
        assert settings.waf_rate_limit_per_5min is None
        assert settings.alarm_email is None


def test_a_stage_name_must_fit_a_stack_name() -> None:
    with pytest.raises(SettingsError, match="stage: String should match pattern"):
        StageSettings.from_context("Prod_1", TEST_STAGES["prod"])


def test_the_environments_are_what_the_functions_read_back() -> None:
    settings = StageSettings.from_context("prod", TEST_STAGES["prod"])
    ingest = IngestSettings.from_env(settings.ingest_environment() | {"CMC_TABLE_NAME": "events"})
    publisher = PublisherSettings.from_env(settings.publisher_environment() | {"CMC_EVENT_BUS_NAME": "bus"})

    for name in IngestTunables.model_fields:
        assert getattr(ingest, name) == getattr(settings, name), name
    assert publisher.event_source == settings.event_source
    assert publisher.published_kinds == settings.published_kinds


def with_subscribers(*entries: dict[str, Any], **stage: Any) -> StageSettings:
    return dev(**stage, subscribers=list(entries))


AUTH = {"type": "basic", "username": "cmc", "secret_name": "cmc/hook"}
HTTP = {"name": "x", "kind": "http", "endpoint": "https://h.example", "auth": AUTH}


def test_a_subscriber_of_each_kind_parses_with_default_retries() -> None:
    settings = with_subscribers(
        {"name": "default", "kind": "queue"},
        {"name": "crm", "kind": "function", "function_arn": FUNCTION_ARN},
        {"name": "alerts", "kind": "topic", "topic_arn": TOPIC_ARN, "retry_attempts": 0},
        {
            "name": "orders",
            "kind": "http",
            "endpoint": "https://hooks.example.com/cmc",
            "rule": {"detail_types": ["Email Bounced"], "bounce_codes": ["2"], "api_data_prefix": "order-"},
            "auth": {"type": "api_key", "header": "X-Api-Key", "secret_name": "cmc/orders"},
        },
        {
            "name": "legacy",
            "kind": "http",
            "endpoint": "https://l.example",
            "auth": AUTH,
            "http_method": "PUT",
        },
    )

    queue, function, topic, orders, legacy = settings.subscribers
    assert isinstance(queue, QueueSubscriber)
    assert queue.rule == SubscriberRule()
    assert (queue.retry_attempts, queue.max_event_age_hours) == (
        DEFAULT_RETRY_ATTEMPTS,
        DEFAULT_MAX_EVENT_AGE_HOURS,
    )
    assert isinstance(function, FunctionSubscriber)
    assert function.function_arn == FUNCTION_ARN
    assert isinstance(topic, TopicSubscriber)
    assert topic.retry_attempts == 0
    assert isinstance(orders, HttpSubscriber)
    assert orders.http_method == "POST"
    assert orders.auth == ApiKeyAuth(type="api_key", header="X-Api-Key", secret_name="cmc/orders")
    assert orders.rule.bounce_codes == ("2",)
    assert isinstance(legacy, HttpSubscriber)
    assert legacy.auth == BasicAuth(type="basic", username="cmc", secret_name="cmc/hook")


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


def test_an_unknown_kind_is_named_with_the_known_ones() -> None:
    (line,) = problems({"subscribers": [{"name": "x", "kind": "sqs"}]})

    assert line.startswith("subscribers[0]: ")
    assert "'sqs'" in line
    for kind in ("queue", "function", "topic", "http"):
        assert f"'{kind}'" in line


def test_an_unknown_auth_type_is_named_with_the_known_ones() -> None:
    (line,) = problems({"subscribers": [HTTP | {"auth": AUTH | {"type": "oauth"}}]})

    assert line.startswith("subscribers[0].http.auth: ")
    assert "'oauth'" in line
    assert "'api_key', 'basic'" in line


@pytest.mark.parametrize(
    ("entry", "path"),
    [
        ({"name": "Default", "kind": "queue"}, "subscribers[0].queue.name"),
        ({"kind": "queue"}, "subscribers[0].queue.name"),
        ({"name": "x", "kind": "queue", "function_arn": FUNCTION_ARN}, "subscribers[0].queue.function_arn"),
        ({"name": "x", "kind": "function"}, "subscribers[0].function.function_arn"),
        (
            {"name": "x", "kind": "function", "function_arn": "crm-sync"},
            "subscribers[0].function.function_arn",
        ),
        ({"name": "x", "kind": "topic", "topic_arn": FUNCTION_ARN}, "subscribers[0].topic.topic_arn"),
        ({"name": "x", "kind": "queue", "retry_attempts": 186}, "subscribers[0].queue.retry_attempts"),
        (
            {"name": "x", "kind": "queue", "max_event_age_hours": 25},
            "subscribers[0].queue.max_event_age_hours",
        ),
        (
            {"name": "x", "kind": "queue", "rule": {"detail_type": []}},
            "subscribers[0].queue.rule.detail_type",
        ),
        (
            {"name": "x", "kind": "queue", "rule": {"detail_types": ["Email Opened"]}},
            "subscribers[0].queue.rule.detail_types",
        ),
        (
            {"name": "x", "kind": "queue", "rule": {"bounce_codes": [2]}},
            "subscribers[0].queue.rule.bounce_codes",
        ),
        (
            {"name": "x", "kind": "queue", "rule": {"bounce_codes": ["12"]}},
            "subscribers[0].queue.rule.bounce_codes",
        ),
        (
            {"name": "x", "kind": "queue", "rule": {"server_compositions": []}},
            "subscribers[0].queue.rule.server_compositions",
        ),
        ({key: value for key, value in HTTP.items() if key != "endpoint"}, "subscribers[0].http.endpoint"),
        (HTTP | {"endpoint": "http://h.example"}, "subscribers[0].http.endpoint"),
        ({key: value for key, value in HTTP.items() if key != "auth"}, "subscribers[0].http.auth"),
        (HTTP | {"http_method": "GET"}, "subscribers[0].http.http_method"),
        (HTTP | {"rate_limit_per_second": 301}, "subscribers[0].http.rate_limit_per_second"),
        (HTTP | {"auth": AUTH | {"password": "hunter2"}}, "subscribers[0].http.auth.basic.password"),
        (HTTP | {"auth": {"type": "basic", "username": "u"}}, "subscribers[0].http.auth.basic.secret_name"),
        (
            HTTP
            | {"auth": AUTH | {"secret_name": "arn:aws:secretsmanager:ap-northeast-1:111122223333:secret:x"}},
            "subscribers[0].http.auth.basic.secret_name",
        ),
        (
            HTTP | {"auth": {"type": "api_key", "header": "X Key", "secret_name": "k"}},
            "subscribers[0].http.auth.api_key.header",
        ),
    ],
)
def test_a_wrong_subscriber_is_refused_and_the_key_named(entry: dict[str, Any], path: str) -> None:
    lines = problems({"subscribers": [entry]})
    assert any(line.startswith(f"{path}") for line in lines), lines


def test_bounce_codes_need_the_bounced_detail_type_when_detail_types_are_given() -> None:
    rule = {"detail_types": ["Email Blocked"], "bounce_codes": ["2"]}
    (line,) = problems({"subscribers": [{"name": "x", "kind": "queue", "rule": rule}]})

    assert line.startswith("subscribers[0].queue.rule: bounce_codes match only 'Email Bounced' events")


def test_subscriber_names_are_unique() -> None:
    (line,) = problems({"subscribers": [{"name": "a", "kind": "queue"}, {"name": "a", "kind": "queue"}]})
    assert line == "subscribers: names must be unique, repeated: ['a']"


def test_a_subscriber_listens_only_for_published_kinds() -> None:
    entry = {"name": "x", "kind": "queue", "rule": {"detail_types": ["Email Delivered"]}}

    (line,) = problems({"subscribers": [entry]})
    assert line.startswith("subscriber 'x' listens for ['Email Delivered'], which published_kinds")
    settings = with_subscribers(entry, published_kinds=["bounced", "succeeded"])
    assert settings.published_detail_types == ("Email Bounced", "Email Delivered", "Email Received")


def test_a_subscriber_may_listen_for_received_mail_whatever_the_kinds() -> None:
    entry = {"name": "x", "kind": "queue", "rule": {"detail_types": ["Email Received"]}}
    assert with_subscribers(entry).subscribers[0].rule.detail_types == ("Email Received",)


def test_no_subscribers_is_allowed() -> None:
    assert with_subscribers().subscribers == ()
