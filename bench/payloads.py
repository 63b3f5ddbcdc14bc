"""The webhooks the benchmarks send: CMC deliveries webhooks of N distinct records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cmc_dev.gateway import rest_proxy_event
from cmc_webhooks import contract

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_FIXTURE = ROOT / "tests" / "fixtures" / "cmc" / "seed_deliveries_queued.json"
# Every mail is `queued` then (mostly) `succeeded`; one record in ten is a failure or a deferral,
# with the receiving server's reply as CMC passes it on (the classification reads it).
STATUS_MIX = ("queued", "succeeded") * 4 + ("failed", "deferred")
REASONS = {
    "failed": "550 5.1.1 The email account that you tried to reach does not exist. Please try "
    "double-checking the recipient's email address for typos or unnecessary spaces.",
    "deferred": "421 4.7.0 Temporary System Problem. Try again later.",
}


def deliveries_webhook(records: int, *, tag: str = "bench") -> dict[str, Any]:
    """A `deliveries` webhook of `records` records, each its own message, as CMC batches them.

    CMC posts what queued up within its notify interval (default 1 s) or 100 records, whichever
    comes first, so one webhook's `created` values are close together; here, ten records share
    each second (late `deferred`/`succeeded` records can be older: ten, not all, is on purpose).
    """
    seed = json.loads(TEMPLATE_FIXTURE.read_text(encoding="utf-8"))
    template = seed["event"]["deliveries"][0]
    deliveries = []
    for n in range(records):
        record = dict(
            template,
            messageId=f"<{tag}-{n:06d}-0e5a8f3c@example.com>",
            to=f"user{n % 97}@Example.JP",
            created=f"2023-01-25 14:{(n // 600) % 60:02d}:{(n // 10) % 60:02d}",
            status=STATUS_MIX[n % len(STATUS_MIX)],
        )
        if record["status"] != "queued":
            record.update(sourceIp="", senderIp="203.0.113.25")
        record["reason"] = REASONS.get(record["status"], "")
        deliveries.append(record)
    return {"event_type": "deliveries", "server_composition": "pro", "event": {"deliveries": deliveries}}


def webhook_body(records: int, *, tag: str = "bench") -> bytes:
    return json.dumps(deliveries_webhook(records, tag=tag), ensure_ascii=False).encode("utf-8")


def webhook_event(records: int, *, tag: str) -> dict[str, Any]:
    """The API Gateway event of a `deliveries` webhook of `records` records."""
    return rest_proxy_event(
        method="POST",
        target=contract.WEBHOOK_PATH,
        headers=[("Content-Type", "application/json")],
        body=webhook_body(records, tag=tag),
        source_ip="127.0.0.1",
    )
