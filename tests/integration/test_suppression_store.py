"""The suppression store's DynamoDB adapter against moto and AWS's DynamoDB Local: decisions are never
overwritten, a state write is conditional on the version read, the list holds only suppressed
addresses, a page at a time."""

from __future__ import annotations

import pytest

from cmc_webhooks.dal.suppressions import DynamoDBSuppressionStore
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.logic.suppression import NOT_SUPPRESSED, Decision, Suppression
from cmc_webhooks.logic.suppressions import StateRecord
from tests.integration.conftest import DYNAMODB_BACKENDS, api_for

ACTOR = "arn:aws:iam::111122223333:user/ops"


@pytest.fixture(params=DYNAMODB_BACKENDS)
def store(request: pytest.FixtureRequest) -> DynamoDBSuppressionStore:
    api = api_for(request)
    return DynamoDBSuppressionStore(api.table_name, client=api.backend.dynamodb())


def suppressed(address: str, version: int = 1) -> StateRecord:
    state = Suppression(True, "hard_bounce:user_unknown", "2026-01-01T09:00:00+09:00", cause_event_id="e1")
    return StateRecord(address, state, version=version, changes=1, state_change="suppressed")


def test_decisions_come_back_oldest_first_and_are_never_overwritten(store: DynamoDBSuppressionStore) -> None:
    later = Decision("d2", "lift", "2026-01-02T00:00:00.000000+00:00", ACTOR, note="fixed")
    earlier = Decision("d1", "suppress", "2026-01-01T00:00:00.000000+00:00", ACTOR, reason="complaint")
    store.add_decision("user@example.jp", later)
    store.add_decision("user@example.jp", earlier)

    assert store.decisions("user@example.jp") == [earlier, later]
    assert store.decisions("other@example.jp") == []
    with pytest.raises(StorageUnavailable):
        store.add_decision("user@example.jp", Decision("d1", "lift", earlier.decided_at, "someone-else"))
    assert store.decisions("user@example.jp") == [earlier, later]


def test_a_state_write_is_conditional_on_the_version_read(store: DynamoDBSuppressionStore) -> None:
    assert store.put_state(suppressed("a@example.jp"), expected_version=None)
    assert not store.put_state(suppressed("a@example.jp"), expected_version=None)  # it exists now
    lifted = StateRecord("a@example.jp", NOT_SUPPRESSED, version=2, changes=2, state_change="unsuppressed")
    assert not store.put_state(lifted, expected_version=5)
    assert store.put_state(lifted, expected_version=1)

    assert store.states(["a@example.jp", "never@example.jp"]) == {"a@example.jp": lifted}


def test_the_list_holds_only_the_suppressed_addresses_by_address_in_pages(
    store: DynamoDBSuppressionStore,
) -> None:
    for address in ("c@example.jp", "a@example.jp", "b@example.jp", "d@example.jp"):
        assert store.put_state(suppressed(address), expected_version=None)
    lifted = StateRecord("b@example.jp", NOT_SUPPRESSED, version=2, changes=2)
    assert store.put_state(lifted, expected_version=1)

    seen: list[str] = []
    after = None
    while True:
        page, after = store.suppressed_page(2, after)
        assert len(page) <= 2
        seen += [record.address for record in page]
        if after is None:
            break
    assert seen == ["a@example.jp", "c@example.jp", "d@example.jp"]
    [first, *_] = store.suppressed_page(10, None)[0]
    assert first == suppressed("a@example.jp")
