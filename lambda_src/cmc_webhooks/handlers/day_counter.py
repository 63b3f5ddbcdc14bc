"""The day counter: newly stored delivery events (the stream mapping's filter passes only their INSERTs)
-> per-day, per-status counter items, which the reconciliation compares with CMC's statistics.

One UpdateItem ADD per distinct (composition, day, status) of a batch; the webhook path is untouched.
A batch that fails is retried by the mapping; a counter that ends up off only makes the reconciliation
page through that day (docs/reconcile.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import deserialize
from cmc_webhooks.dal.reconcile_store import ReconcileTableStore
from cmc_webhooks.logic.day_counts import DayCounterStore, count_inserted
from cmc_webhooks.settings import DayCounterSettings

logger = Logger(service=contract.SERVICE_NAME)


@cache
def counter_store() -> DayCounterStore:
    settings = DayCounterSettings.from_env(os.environ)
    return ReconcileTableStore(settings.table_name, retention=timedelta(days=settings.retention_days))


def make_handler(get_store: Callable[[], DayCounterStore]) -> Callable[[dict[str, Any], Any], None]:
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> None:
        records = event.get("Records", [])
        items = [
            deserialize(record["dynamodb"]["NewImage"])
            for record in records
            if record.get("eventName") == "INSERT" and "NewImage" in record.get("dynamodb", {})
        ]
        counts = count_inserted(items)
        get_store().add_day_counts(counts)
        logger.info("day counters updated", extra={"records": len(records), "counters": len(counts)})

    return handler


lambda_handler = make_handler(counter_store)
