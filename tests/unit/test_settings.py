"""The functions' settings: one model each, read from the environment by the variables' names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from cmc_webhooks import contract
from cmc_webhooks.settings import IngestSettings, IngestTunables, PublisherSettings, PublishTunables

TABLE = "CMC_TABLE_NAME"


def test_defaults_need_only_the_table_name() -> None:
    settings = IngestSettings.from_env({TABLE: "events", "UNRELATED": "x"})
    assert settings.table_name == "events"
    assert settings.time_zone == "Asia/Tokyo"
    assert settings.max_records_per_request == 5000
    assert settings.auth_secret_name is None
    assert settings.suppression_policy.soft_bounce_window == timedelta(days=7)


def test_values_come_from_the_variables_the_stack_writes() -> None:
    tunables = IngestTunables(
        time_zone="+05:30", retention_days=7, max_records_per_request=10, suppress_on_block=False
    )
    environment = tunables.ingest_environment()

    settings = IngestSettings.from_env({**environment, TABLE: "events"})

    assert environment["CMC_TIME_ZONE"] == "+05:30"
    assert environment["CMC_SUPPRESS_ON_BLOCK"] == "false"
    assert settings.tz.utcoffset(None) == timedelta(hours=5, minutes=30)
    assert (settings.retention_days, settings.max_records_per_request) == (7, 10)
    assert settings.suppress_on_block is False
    assert IngestTunables.model_validate(settings.model_dump()) == tunables


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "CMC_TABLE_NAME"),
        ({TABLE: "events", "CMC_TIME_ZONE": "Mars/Olympus"}, "CMC_TIME_ZONE"),
        ({TABLE: "events", "CMC_RETENTION_DAYS": "0"}, "CMC_RETENTION_DAYS"),
        ({TABLE: "events", "CMC_MAX_BODY_BYTES": str(7 * 1024 * 1024)}, "CMC_MAX_BODY_BYTES"),
        ({TABLE: "events", "CMC_SUPPRESS_ON_BLOCK": "perhaps"}, "CMC_SUPPRESS_ON_BLOCK"),
        ({TABLE: "events", "CMC_AUTH_SECRET_NAME": ""}, "CMC_AUTH_SECRET_NAME"),
    ],
)
def test_a_bad_setting_fails_naming_its_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        IngestSettings.from_env(env)


def test_the_soft_bounce_window_must_fit_in_the_retention() -> None:
    with pytest.raises(ValidationError, match="soft_bounce_window_days"):
        IngestTunables(retention_days=5, soft_bounce_window_days=7)


def test_publisher_settings_read_the_kinds_comma_separated() -> None:
    environment = PublishTunables(published_kinds=("bounced", "deferred")).publisher_environment()
    settings = PublisherSettings.from_env({**environment, "CMC_EVENT_BUS_NAME": "bus"})
    assert environment["CMC_PUBLISHED_KINDS"] == "bounced,deferred"
    assert settings.published_kinds == ("bounced", "deferred")
    assert settings.event_source == contract.DEFAULT_EVENT_SOURCE


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CMC_EVENT_BUS_NAME": "bus", "CMC_PUBLISHED_KINDS": "bounced,exploded"}, "exploded"),
        ({"CMC_EVENT_BUS_NAME": "bus", "CMC_PUBLISHED_KINDS": ""}, "CMC_PUBLISHED_KINDS"),
        ({"CMC_EVENT_BUS_NAME": "bus", "CMC_EVENT_SOURCE": "aws.mine"}, "CMC_EVENT_SOURCE"),
        ({}, "CMC_EVENT_BUS_NAME"),
    ],
)
def test_bad_publisher_settings_fail_naming_the_problem(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        PublisherSettings.from_env(env)


def test_the_spill_queue_and_bucket_are_set_together_or_not_at_all() -> None:
    both = {TABLE: "events", "CMC_SPILL_QUEUE_URL": "https://sqs/q", "CMC_SPILL_BUCKET_NAME": "spill"}
    assert IngestSettings.from_env(both).spill_bucket_name == "spill"
    assert IngestSettings.from_env({TABLE: "events"}).spill_queue_url is None
    with pytest.raises(ValidationError, match="set both or neither"):
        IngestSettings.from_env({TABLE: "events", "CMC_SPILL_QUEUE_URL": "https://sqs/q"})
