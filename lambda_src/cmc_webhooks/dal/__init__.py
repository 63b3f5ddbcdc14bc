"""Data access: the store interface the logic and handler depend on, and its adapters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cmc_webhooks.models.store import StoredItem


class EventStore(Protocol):
    def write(self, items: Sequence[StoredItem]) -> None:
        """Durably store all items, or raise StorageUnavailable. Items with the same key are the same."""

    def message_events(self, message_id: str) -> list[StoredItem]:
        """The events of one message (normalized id), oldest first."""

    def recipient_events(self, recipient_key: str, *, limit: int) -> list[StoredItem]:
        """The newest `limit` events of one recipient (normalized address), newest first."""
