from __future__ import annotations

from typing import Any, cast

import pytest

from cmc_webhooks.logic.lookup import message_history
from cmc_webhooks.logic.status import current_statuses
from cmc_webhooks.models.store import StoredItem


def event(status: str, at: str, recipient: str = "user@example.jp", **extra: Any) -> StoredItem:
    item: StoredItem = {
        "message_id": "m@example.com",
        "sk": f"EVENT#{at}#{status}",
        "kind": "event",
        "event_id": f"{status}-{at}",
        "event_type": "bounces" if status == "bounced" else "deliveries",
        "received_at": "2026-11-26T00:00:00.000Z",
        "expires_at": 0,
        "status": status,
        "occurred_at": f"2023-01-25T{at}+09:00",
        "recipient": recipient,
        "recipient_key": recipient.lower(),
    }
    item.update(extra)  # type: ignore[typeddict-item]
    return item


def status_of(*events: StoredItem, recipient: str = "user@example.jp") -> str:
    return current_statuses(events)[recipient]["status"]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([("queued", "14:03:06"), ("succeeded", "14:03:09")], "succeeded", id="latest-wins"),
        pytest.param(
            [("succeeded", "14:03:09"), ("queued", "14:03:06")], "succeeded", id="arrival-order-moot"
        ),
        pytest.param([("deferred", "14:00:00"), ("queued", "14:05:00")], "queued", id="later-nonfinal-wins"),
        pytest.param([("succeeded", "14:03:09"), ("deferred", "14:09:00")], "succeeded", id="late-deferred"),
        pytest.param([("failed", "14:03:09"), ("queued", "15:00:00")], "failed", id="late-queued"),
        pytest.param([("failed", "14:06:06"), ("bounced", "14:06:07")], "bounced", id="bounce-after-failure"),
        pytest.param([("bounced", "14:06:06"), ("failed", "14:06:06")], "bounced", id="equal-times-final"),
        pytest.param([("succeeded", "14:06:06"), ("failed", "14:06:06")], "failed", id="equal-times-rank"),
        pytest.param([("queued", "14:06:06"), ("deferred", "14:06:06")], "deferred", id="equal-nonfinal"),
        pytest.param(
            [("bounced", "14:06:07"), ("succeeded", "14:10:00")], "succeeded", id="later-final-wins"
        ),
    ],
)
def test_current_status_rule(events: list[tuple[str, str]], expected: str) -> None:
    assert status_of(*(event(status, at) for status, at in events)) == expected


def test_each_recipient_has_its_own_status_and_unknown_types_do_not_count() -> None:
    events = [
        event("queued", "14:00:00", "a@example.jp"),
        event("succeeded", "14:00:05", "a@example.jp"),
        event("deferred", "14:00:05", "b@example.jp"),
        event("10", "14:30:00", "b@example.jp", event_type="blocks"),
    ]
    statuses = current_statuses(events)
    assert {key: item["status"] for key, item in statuses.items()} == {
        "a@example.jp": "succeeded",
        "b@example.jp": "deferred",
    }


def test_message_history_lists_recipients_and_events_oldest_first() -> None:
    events = [event("queued", "14:03:06"), event("succeeded", "14:03:09", subject="件名", reason="")]
    history = message_history("<m@example.com>", events)

    assert history.message_id == "m@example.com"
    assert [(r.address, r.status, r.updated_at) for r in history.recipients] == [
        ("user@example.jp", "succeeded", "2023-01-25T14:03:09+09:00")
    ]
    assert [e.status for e in history.events] == ["queued", "succeeded"]
    assert history.events[1].subject == "件名"


@pytest.mark.parametrize("event_type", ["blocks", "Deliveries", "opens"])
def test_an_event_type_we_do_not_model_never_changes_the_status(event_type: str) -> None:
    queued = event("queued", "14:03:06")
    unmodelled = event("bounced", "14:03:09", event_type=event_type)
    unmodelled_success = event("succeeded", "14:03:10", event_type=event_type)
    assert status_of(queued, unmodelled, unmodelled_success) == "queued"


def without(item: StoredItem, field: str) -> StoredItem:
    return cast(StoredItem, {name: value for name, value in item.items() if name != field})


@pytest.mark.parametrize(
    "unreadable",
    [
        pytest.param(event("expired", "15:00:00"), id="status-not-modelled"),
        pytest.param(without(event("failed", "15:00:00"), "status"), id="no-status"),
        pytest.param(without(event("failed", "15:00:00"), "occurred_at"), id="no-time"),
        pytest.param(without(event("failed", "15:00:00"), "recipient_key"), id="no-recipient"),
    ],
)
def test_given_a_record_without_a_readable_status_first_then_the_records_after_it_still_decide(
    unreadable: StoredItem,
) -> None:
    statuses = current_statuses([unreadable, event("queued", "14:03:06"), event("succeeded", "14:03:09")])

    assert {key: item["status"] for key, item in statuses.items()} == {"user@example.jp": "succeeded"}


def test_given_records_tied_on_status_and_second_then_the_first_stored_keeps_deciding() -> None:
    first = event("succeeded", "14:03:09", event_id="first")
    repeat = event("succeeded", "14:03:09", event_id="repeat")

    assert current_statuses([first, repeat])["user@example.jp"]["event_id"] == "first"
