from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from cmc_webhooks.logic.lookup import recipient_history
from cmc_webhooks.logic.suppression import SuppressionPolicy, suppression
from cmc_webhooks.models.store import StoredItem
from cmc_webhooks.settings import IngestSettings

POLICY = SuppressionPolicy(soft_bounce_threshold=3, soft_bounce_window=timedelta(days=7))


def event(day: int, kind: str, message: str = "m1", **extra: Any) -> StoredItem:
    """`kind`: hard | soft | success | deferred | blocked | unsubscribed, as a bounce record or delivery."""
    item: StoredItem = {
        "message_id": f"{message}@example.com",
        "sk": f"EVENT#2026-01-{day:02d}T00:00:00Z#{kind}",
        "kind": "event",
        "event_id": f"{message}-{day}-{kind}",
        "event_type": "bounces",
        "received_at": "2026-01-01T00:00:00.000Z",
        "expires_at": 0,
        "status": "bounced",
        "occurred_at": f"2026-01-{day:02d}T09:00:00+09:00",
        "recipient": "user@example.jp",
        "recipient_key": "user@example.jp",
    }
    fields: dict[str, Any] = {
        "hard": {"bounce_type": "hard", "bounce_category": "user_unknown"},
        "soft": {"bounce_type": "soft", "bounce_category": "mailbox_full"},
        "success": {"event_type": "deliveries", "status": "succeeded"},
        "deferred": {
            "event_type": "deliveries",
            "status": "deferred",
            "bounce_type": "soft",
            "bounce_category": "rate_limited",
        },
        "blocked": {
            "event_type": "blocks",
            "status": "10",
            "bounce_type": "hard",
            "bounce_category": "suppressed",
        },
        "unsubscribed": {"bounce_type": "hard", "bounce_category": "unsubscribed"},
    }[kind]
    item.update({**fields, **extra})  # type: ignore[typeddict-item]
    return item


def without(item: StoredItem, *fields: str) -> StoredItem:
    return cast(StoredItem, {name: value for name, value in item.items() if name not in fields})


def verdict(*events: StoredItem) -> tuple[bool, str | None, str | None]:
    result = suppression(events, POLICY)
    return result.suppressed, result.reason, result.since


def test_a_hard_bounce_suppresses_at_once_and_a_later_success_does_not_clear_it() -> None:
    assert verdict(event(1, "hard")) == (True, "hard_bounce:user_unknown", "2026-01-01T09:00:00+09:00")
    assert verdict(event(1, "hard"), event(2, "success"))[0] is True


def test_three_soft_bounces_within_the_window_suppress() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 3, 5)]
    assert verdict(*soft[:2]) == (False, None, None)
    assert verdict(*soft) == (True, "soft_bounces:3_in_7_days", "2026-01-05T09:00:00+09:00")


def test_soft_bounces_spread_wider_than_the_window_do_not_suppress() -> None:
    assert verdict(*(event(day, "soft", message=f"m{day}") for day in (1, 9, 17)))[0] is False


def test_a_failure_and_its_bounce_record_count_as_one_soft_bounce() -> None:
    pairs = []
    for day in (1, 2):
        pairs += [event(day, "soft", message=f"m{day}", event_type="deliveries", status="failed")]
        pairs += [event(day, "soft", message=f"m{day}")]
    assert verdict(*pairs)[0] is False


def test_deferrals_never_count_as_bounces() -> None:
    assert verdict(*(event(day, "deferred", message=f"m{day}") for day in (1, 2, 3, 4)))[0] is False


def test_a_later_success_clears_a_soft_bounce_suppression() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    assert verdict(*soft, event(4, "success")) == (False, None, None)
    # and the count starts again
    assert verdict(*soft, event(4, "success"), event(5, "soft", message="m5"))[0] is False


def test_a_block_or_an_unsubscribe_suppresses_for_good() -> None:
    assert verdict(event(1, "blocked"), event(2, "success")) == (True, "blocked", "2026-01-01T09:00:00+09:00")
    assert verdict(event(1, "unsubscribed"), event(2, "success"))[:2] == (True, "unsubscribed")


def test_the_first_permanent_reason_is_kept() -> None:
    assert verdict(event(1, "hard"), event(2, "blocked"))[1] == "hard_bounce:user_unknown"


def test_recipient_history_lists_events_newest_first_with_their_classification() -> None:
    newest_first = [event(3, "hard"), event(1, "success")]
    history = recipient_history("user@example.jp", newest_first, POLICY)
    assert history.suppressed is True
    assert [e.status for e in history.events] == ["bounced", "succeeded"]
    assert history.events[0].classification == {
        "bounce_type": "hard",
        "bounce_category": "user_unknown",
        "smtp_code": None,
        "enhanced_status": None,
        "diagnostic": None,
    }
    assert history.events[1].classification is None


def test_an_address_never_seen_is_not_suppressed() -> None:
    history = recipient_history("new@example.jp", [], POLICY)
    assert (history.suppressed, history.events) == (False, [])


def test_each_rule_can_be_switched_off_in_settings() -> None:
    lenient = SuppressionPolicy(
        hard_bounce_suppresses=False, block_suppresses=False, success_clears_soft_bounces=False
    )
    assert suppression([event(1, "hard")], lenient).suppressed is False
    assert suppression([event(1, "blocked"), event(2, "unsubscribed")], lenient).suppressed is False
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    assert suppression([*soft, event(4, "success")], lenient).reason == "soft_bounces:3_in_7_days"


def test_the_function_reads_the_rules_from_its_environment() -> None:
    settings = IngestSettings.from_env(
        {
            "CMC_TABLE_NAME": "events",
            "CMC_SUPPRESS_ON_HARD_BOUNCE": "false",
            "CMC_SUPPRESS_ON_BLOCK": "true",
            "CMC_SUCCESS_CLEARS_SOFT_BOUNCES": "false",
            "CMC_SOFT_BOUNCE_THRESHOLD": "5",
        }
    )
    policy = settings.suppression_policy
    assert (policy.hard_bounce_suppresses, policy.block_suppresses, policy.success_clears_soft_bounces) == (
        False,
        True,
        False,
    )
    assert policy.soft_bounce_threshold == 5
    assert IngestSettings.from_env({"CMC_TABLE_NAME": "events"}).suppression_policy == SuppressionPolicy()


def test_a_succeeded_or_failed_status_of_an_unmodelled_event_type_neither_clears_nor_counts() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    unmodelled_success = event(4, "success", event_type="opens")
    assert verdict(*soft, unmodelled_success)[0] is True
    failures = [
        event(day, "soft", message=f"f{day}", event_type="Deliveries", status="failed") for day in (1, 2, 3)
    ]
    assert verdict(*failures)[0] is False


def test_given_a_hard_failed_delivery_with_no_bounce_record_then_it_suppresses_at_once() -> None:
    failed = event(1, "hard", event_type="deliveries", status="failed")
    assert verdict(failed) == (True, "hard_bounce:user_unknown", "2026-01-01T09:00:00+09:00")


def test_given_soft_failed_deliveries_of_three_messages_within_the_window_then_they_suppress() -> None:
    failures = [
        event(day, "soft", message=f"m{day}", event_type="deliveries", status="failed") for day in (1, 2, 3)
    ]
    assert verdict(*failures) == (True, "soft_bounces:3_in_7_days", "2026-01-03T09:00:00+09:00")


def test_given_a_soft_bounce_exactly_one_window_old_then_it_still_counts() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 4, 8)]  # day 8 is 7 days after day 1
    assert verdict(*soft) == (True, "soft_bounces:3_in_7_days", "2026-01-08T09:00:00+09:00")


def test_given_a_record_without_a_time_then_the_records_after_it_still_count() -> None:
    timeless = without(event(1, "success"), "occurred_at")
    assert verdict(timeless, event(2, "hard"))[:2] == (True, "hard_bounce:user_unknown")


def test_given_a_block_record_without_a_classification_then_it_still_suppresses_as_blocked() -> None:
    unclassified = without(event(1, "blocked"), "bounce_type", "bounce_category")
    assert verdict(unclassified, event(2, "success")) == (True, "blocked", "2026-01-01T09:00:00+09:00")


def test_given_a_hard_bounce_without_a_category_then_the_reason_says_other() -> None:
    uncategorised = without(event(1, "hard"), "bounce_category")
    assert verdict(uncategorised)[:2] == (True, "hard_bounce:other")
