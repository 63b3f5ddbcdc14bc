"""`make local` with the stages' storage levers (CMC_RECIPIENT_INDEX=suppression and a clean retention):
the table it creates holds the sparse index, the lookups answer, and bounces still reach the subscriber."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import SEED_FIXTURES, fixture_text
from tests.e2e.test_local_server import LocalServer, launch, stop

FAILED_MESSAGE = "9e7e564c-ac83-8cd8-2cb4-b9ff2a9f168d@example.com"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    started = launch({"CMC_RECIPIENT_INDEX": "suppression", "CMC_CLEAN_RETENTION_DAYS": "14"})
    yield started
    stop(started)


def test_the_sparse_index_answers_the_verdict_and_the_message_keeps_everything(server: LocalServer) -> None:
    for name in SEED_FIXTURES:
        status, body = server.request(
            "POST", "/webhooks/events", fixture_text(name).encode(), "application/json"
        )
        assert status == 200, body

    status, view = server.request("GET", "/recipients/no-user%40example.jp")
    assert status == 200
    assert (view["suppressed"], view["suppression_reason"]) == (True, "hard_bounce:user_unknown")
    assert [(e["event_type"], e["status"]) for e in view["events"]] == [
        ("bounces", "bounced"),
        ("deliveries", "failed"),
    ]
    assert all(e["subject"] is None and e["classification"]["bounce_type"] == "hard" for e in view["events"])

    status, delivered = server.request("GET", "/recipients/user%40example.jp")
    assert [e["status"] for e in delivered["events"]] == ["succeeded"]  # queued is not in the index

    status, message = server.request(
        "GET", "/messages/" + view["events"][0]["message_id"].replace("@", "%40")
    )
    assert status == 200
    assert message["message_id"] == FAILED_MESSAGE
    assert message["events"][0]["subject"]
    assert message["recipients"][0]["status"] == "bounced"

    assert server.output.wait_for(lambda lines: any("subscriber-event" in line for line in lines), 30)
