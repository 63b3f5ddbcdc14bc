"""The storage levers as the ingest applies them: each item's retention class and TTL, and which items the
sparse recipient index holds (exactly what the suppression verdict reads)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from cmc_webhooks import contract
from cmc_webhooks.logic.ingest import IngestOptions, build_batch, parse_envelope
from cmc_webhooks.logic.storage import read_by_suppression, retention_class
from cmc_webhooks.logic.suppression import SuppressionPolicy, suppression
from cmc_webhooks.models.store import StoredItem
from cmc_webhooks.settings import IngestSettings, IngestTunables, parse_time_zone
from tests.conftest import load_fixture

RECEIVED = datetime(2026, 11, 26, 6, 0, 0, tzinfo=UTC)
TOKYO = parse_time_zone("Asia/Tokyo")
LEVERS = IngestOptions(
    time_zone=TOKYO,
    max_records=5000,
    retention=timedelta(days=400),
    clean_retention=timedelta(days=30),
    quarantine_retention=timedelta(days=90),
)
FULL = "452 4.2.2 The email account that you tried to reach is over quota."
UNKNOWN = "550 5.1.1 <x@example.jp>: Recipient address rejected: User unknown"


def items_of(document: dict[str, Any], options: IngestOptions = LEVERS) -> list[StoredItem]:
    return build_batch(parse_envelope(document), options=options, received_at=RECEIVED).items


def one(fixture: str, **changes: str) -> dict[str, Any]:
    document = load_fixture(fixture)
    event_type = document["event_type"]
    record = dict(copy.deepcopy(document["event"][event_type][0]), **changes)
    return {**document, "event": {event_type: [record]}}


def days_kept(item: StoredItem) -> int:
    return round((item["expires_at"] - RECEIVED.timestamp()) / 86400)


@pytest.mark.parametrize(
    ("document", "kind", "days"),
    [
        pytest.param(one("seed_deliveries_queued"), "clean", 30, id="queued"),
        pytest.param(one("seed_deliveries_succeeded"), "clean", 30, id="succeeded"),
        pytest.param(one("v1_deliveries", status="deferred"), "clean", 30, id="deferred"),
        pytest.param(one("seed_bounces_user_unknown"), "lasting", 400, id="hard-bounce"),
        pytest.param(
            one("seed_bounces_user_unknown", reason=FULL, status="5"), "clean", 30, id="soft-bounce"
        ),
        pytest.param(one("seed_deliveries_failed_user_unknown"), "lasting", 400, id="hard-failure"),
        pytest.param(one("seed_deliveries_failed_user_unknown", reason=FULL), "clean", 30, id="soft-failure"),
        pytest.param(one("seed_bounces_user_unknown", status="10"), "lasting", 400, id="suppressed-code"),
        pytest.param(one("blocks"), "lasting", 400, id="block"),
        pytest.param(one("seed_deliveries_queued", created="yesterday"), "quarantine", 90, id="quarantine"),
    ],
)
def test_each_item_expires_after_the_days_of_its_class(
    document: dict[str, Any], kind: str, days: int
) -> None:
    [item] = items_of(document)
    assert retention_class(item) == kind
    assert days_kept(item) == days


def test_without_the_class_settings_every_item_keeps_the_retention() -> None:
    options = IngestOptions(time_zone=TOKYO, max_records=10, retention=timedelta(days=7))
    documents = [one("seed_deliveries_queued"), one("seed_deliveries_queued", created="x"), one("blocks")]
    assert [days_kept(item) for document in documents for item in items_of(document, options)] == [7, 7, 7]


# One recipient's events as CMC posts them: (what, day).
KINDS = {
    "queued": ("seed_deliveries_queued", {}),
    "succeeded": ("seed_deliveries_succeeded", {}),
    "deferred": ("v1_deliveries", {"status": "deferred", "reason": FULL}),
    "soft_bounce": ("seed_bounces_user_unknown", {"reason": FULL, "status": "5"}),
    "hard_bounce": ("seed_bounces_user_unknown", {"reason": UNKNOWN, "status": "2"}),
    "soft_failure": ("seed_deliveries_failed_user_unknown", {"reason": FULL}),
    "hard_failure": ("seed_deliveries_failed_user_unknown", {"reason": UNKNOWN}),
    "unsubscribed": ("seed_bounces_user_unknown", {"status": "11"}),
    "block": ("blocks", {}),
}


def history(sequence: list[tuple[str, int, int]], options: IngestOptions) -> list[StoredItem]:
    """The items of one recipient's events, oldest first: (kind, day, message)."""
    items: list[StoredItem] = []
    for kind, day, message in sequence:
        fixture, changes = KINDS[kind]
        address = {"envelopeTo": "who@example.jp"} if fixture == "v1_deliveries" else {"to": "who@example.jp"}
        created = f"2023-02-{day:02d} 10:00:00"
        items += items_of(
            one(fixture, messageId=f"<m{message}@example.com>", created=created, **changes, **address),
            options,
        )
    return sorted(items, key=lambda item: item["sk"])


@example(  # three soft bounces, then a success that clears them
    [("soft_bounce", 1, 1), ("soft_bounce", 2, 2), ("soft_failure", 3, 3), ("succeeded", 4, 4)], True, True
)
@example([("queued", 1, 1), ("unsubscribed", 2, 1), ("deferred", 3, 2)], True, False)
@given(
    st.lists(st.tuples(st.sampled_from(sorted(KINDS)), st.integers(1, 28), st.integers(1, 4)), max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_the_sparse_index_gives_the_verdict_of_every_event(
    sequence: list[tuple[str, int, int]], clears: bool, hard_suppresses: bool
) -> None:
    options = IngestOptions(
        time_zone=TOKYO,
        max_records=10,
        retention=timedelta(days=400),
        recipient_index=contract.RECIPIENT_INDEX_SUPPRESSION,
        index_successes=clears,
    )
    policy = SuppressionPolicy(success_clears_soft_bounces=clears, hard_bounce_suppresses=hard_suppresses)
    items = history(sequence, options)

    indexed = [item for item in items if contract.RECIPIENT_INDEX_PARTITION_KEY in item]

    assert suppression(indexed, policy) == suppression(items, policy)
    assert indexed == [item for item in items if read_by_suppression(item, successes=clears)]


def test_the_full_index_holds_every_event_with_a_recipient() -> None:
    items = history([("queued", 1, 1), ("deferred", 2, 1), ("succeeded", 3, 1)], LEVERS)
    assert all(item["recipient_key"] == "who@example.jp" for item in items)


def test_without_success_clearing_the_sparse_index_leaves_successes_out() -> None:
    sequence = [("queued", 1, 1), ("succeeded", 1, 1), ("soft_bounce", 2, 2), ("block", 3, 3)]
    sparse = IngestOptions(
        time_zone=TOKYO, max_records=10, retention=timedelta(days=1), recipient_index="suppression"
    )
    keyed = [item["status"] for item in history(sequence, sparse) if "recipient_key" in item]
    keyed_without_successes = [
        item["status"]
        for item in history(sequence, IngestOptions(**{**vars(sparse), "index_successes": False}))
        if "recipient_key" in item
    ]
    assert keyed == ["succeeded", "bounced", "10"]
    assert keyed_without_successes == ["bounced", "10"]


def test_the_class_settings_travel_through_the_environment() -> None:
    tunables = IngestTunables(
        retention_days=400,
        clean_retention_days=30,
        quarantine_retention_days=90,
        recipient_index="suppression",
    )
    environment = tunables.ingest_environment()
    settings = IngestSettings.from_env({**environment, "CMC_TABLE_NAME": "events"})

    assert environment["CMC_CLEAN_RETENTION_DAYS"] == "30"
    assert environment["CMC_RECIPIENT_INDEX"] == "suppression"
    assert (settings.clean_retention, settings.quarantine_retention) == (
        timedelta(days=30),
        timedelta(days=90),
    )
    unset = IngestTunables(retention_days=20)
    assert "CMC_CLEAN_RETENTION_DAYS" not in unset.ingest_environment()
    assert (unset.clean_retention, unset.quarantine_retention) == (timedelta(days=20), timedelta(days=20))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CMC_RETENTION_DAYS": "30", "CMC_CLEAN_RETENTION_DAYS": "31"}, "clean_retention_days"),
        ({"CMC_CLEAN_RETENTION_DAYS": "5", "CMC_SOFT_BOUNCE_WINDOW_DAYS": "7"}, "soft_bounce_window_days"),
        ({"CMC_CLEAN_RETENTION_DAYS": "0"}, "CMC_CLEAN_RETENTION_DAYS"),
        ({"CMC_QUARANTINE_RETENTION_DAYS": "36501"}, "CMC_QUARANTINE_RETENTION_DAYS"),
        ({"CMC_RECIPIENT_INDEX": "some"}, "CMC_RECIPIENT_INDEX"),
    ],
)
def test_a_clean_class_outliving_the_lasting_one_or_the_window_or_a_bad_value_is_refused(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        IngestSettings.from_env({"CMC_TABLE_NAME": "events", **env})
