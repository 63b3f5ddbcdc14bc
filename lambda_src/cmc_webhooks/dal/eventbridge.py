"""EventBridge adapter: PutEvents in batches of 10, re-sending the entries that failed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cmc_webhooks import contract
from cmc_webhooks.dal.backoff import jittered_backoff

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=2, read_timeout=5)
FAILED_ENTRY_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0


class EventBridgePublisher:
    def __init__(self, *, client: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    @cached_property
    def client(self) -> EventBridgeClient:
        return self._client or boto3.client("events", config=CLIENT_CONFIG)

    def publish(self, entries: Sequence[dict[str, Any]]) -> list[int]:
        """Publish every entry; the indexes of those that still failed.

        botocore retries a failing call; this loop re-sends only the entries EventBridge refused
        (FailedEntryCount); what still fails goes back to the stream mapping, which retries the rest.
        """
        failed_calls: list[int] = []
        pending = list(range(len(entries)))
        for attempt in range(FAILED_ENTRY_ATTEMPTS):
            if not pending:
                break
            if attempt:
                self._sleep(jittered_backoff(attempt - 1, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS))
            refused: list[int] = []
            for start in range(0, len(pending), contract.PUT_EVENTS_LIMIT):
                indexes = pending[start : start + contract.PUT_EVENTS_LIMIT]
                try:
                    response = self.client.put_events(Entries=[entries[index] for index in indexes])  # type: ignore[misc]
                except (ClientError, BotoCoreError):
                    failed_calls.extend(indexes)  # after botocore's own retries
                    continue
                results = response["Entries"]
                refused.extend(
                    index for index, result in zip(indexes, results, strict=True) if "ErrorCode" in result
                )
            pending = refused
        return sorted(failed_calls + pending)
