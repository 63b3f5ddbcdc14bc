from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from cmc_webhooks import contract
from cmc_webhooks.logic.identity import event_id, normalize_address, normalize_message_id
from cmc_webhooks.settings import Settings, parse_time_zone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("<a@b.example>", "a@b.example"), ("a@b.example", "a@b.example"), (" <a@b> ", "a@b"), ("<a@b", "<a@b")],
)
def test_message_ids_lose_their_angle_brackets(raw: str, expected: str) -> None:
    assert normalize_message_id(raw) == expected


def test_addresses_compare_case_insensitively_in_the_domain_only() -> None:
    assert normalize_address(" User@Example.JP ") == "User@example.jp"
    assert normalize_address("no-at-sign") == "no-at-sign"


def test_event_id_depends_on_content_not_key_order() -> None:
    assert event_id("deliveries", "pro", {"a": 1, "b": "x"}) == event_id(
        "deliveries", "pro", {"b": "x", "a": 1}
    )
    assert event_id("deliveries", "pro", {"a": 1}) != event_id("bounces", "pro", {"a": 1})
    assert event_id("deliveries", "pro", {"a": 1}) != event_id("deliveries", "sandbox", {"a": 1})


def test_settings_from_env_defaults_and_overrides() -> None:
    defaults = Settings.from_env({contract.ENV_TABLE_NAME: "events"})
    assert (defaults.time_zone, defaults.retention_days) == ("Asia/Tokyo", contract.DEFAULT_RETENTION_DAYS)

    custom = Settings.from_env(
        {
            contract.ENV_TABLE_NAME: "events",
            contract.ENV_TIME_ZONE: "+05:30",
            contract.ENV_RETENTION_DAYS: "7",
            contract.ENV_MAX_RECORDS: "10",
        }
    )
    assert parse_time_zone(custom.time_zone).utcoffset(None) == timedelta(hours=5, minutes=30)
    assert (custom.retention_days, custom.max_records) == (7, 10)


@pytest.mark.parametrize(
    "env",
    [{}, {contract.ENV_TABLE_NAME: "events", contract.ENV_TIME_ZONE: "Mars/Olympus"}],
)
def test_bad_settings_fail_at_start_with_a_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env(env)
