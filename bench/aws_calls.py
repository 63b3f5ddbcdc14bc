"""aws_calls: the AWS requests one webhook of 1, 100 and 1,000 records makes, counted with
botocore's event hooks (`before-call`), through the handler against the loopback backend.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from bench.environment import quiet_handler
from bench.payloads import webhook_body
from cmc_dev.gateway import rest_proxy_event
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract

SIZES = (1, 100, 1000)
WRITE_OPERATIONS = frozenset(
    {"PutItem", "BatchWriteItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "PutEvents"}
)


def classify(operations: list[str]) -> dict[str, int]:
    """Writes, and everything else as reads: any other round trip is one a webhook should not make."""
    writes = sum(1 for name in operations if name in WRITE_OPERATIONS)
    return {"write": writes, "read": len(operations) - writes}


def measure() -> dict[str, dict[str, int]]:
    from cmc_webhooks.handlers import api  # noqa: PLC0415 - after the environment is set

    operations: list[str] = []

    def count(model: Any, **_: Any) -> None:
        operations.append(model.name)

    # Every client built from boto3's default session from now on carries the hook; the handler's
    # cached store (and so its client) is rebuilt to be one of them.
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call", count)
    api.event_store.cache_clear()
    figures: dict[str, dict[str, int]] = {}
    try:
        with quiet_handler(api):
            for size in SIZES:
                event = rest_proxy_event(
                    method="POST",
                    target=contract.WEBHOOK_PATH,
                    headers=[("Content-Type", "application/json")],
                    body=webhook_body(size, tag=f"calls{size}"),
                    source_ip="127.0.0.1",
                )
                operations.clear()
                result = api.lambda_handler(event, LocalLambdaContext())
                if result["statusCode"] != 200:
                    raise RuntimeError(f"{size} records: the handler answered {result['statusCode']}")
                if json.loads(result["body"])["written"] != size:
                    raise RuntimeError(f"{size} records: not all were written: {result['body']}")
                figures[str(size)] = classify(operations)
    finally:
        boto3.DEFAULT_SESSION.events.unregister("before-call", count)
        api.event_store.cache_clear()
    return figures
