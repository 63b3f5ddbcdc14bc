"""The event store as a dict: what DynamoDB would hold, by key, read as DynamoDB reads it (key order,
pages that resume after the last key read)."""

from __future__ import annotations

from collections.abc import Sequence

from cmc_webhooks.logic.lookup import ItemPage
from cmc_webhooks.models.store import StoredItem, recipient_group


def _page(ordered: list[StoredItem], limit: int) -> ItemPage:
    # DynamoDB hands back a LastEvaluatedKey whenever a Query stops at its Limit.
    return ItemPage(ordered[:limit], more=len(ordered) >= limit)


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], StoredItem] = {}

    def write(self, items: Sequence[StoredItem]) -> None:
        for item in items:
            self.items[(item["message_id"], item["sk"])] = item

    def _message(self, message_id: str, after: str | None) -> list[StoredItem]:
        found = [
            item
            for (pk, sk), item in self.items.items()
            if pk == message_id and sk.startswith("EVENT#") and (after is None or sk > after)
        ]
        return sorted(found, key=lambda item: item["sk"])

    def message_page(self, message_id: str, *, after: str | None, limit: int) -> ItemPage:
        return _page(self._message(message_id, after), limit)

    def message_group_rest(self, message_id: str, after: str) -> list[StoredItem]:
        group = recipient_group(after)
        return [item for item in self._message(message_id, after) if recipient_group(item["sk"]) == group]

    def _recipient(self, recipient_key: str) -> list[StoredItem]:
        found = [item for item in self.items.values() if item.get("recipient_key") == recipient_key]
        return sorted(found, key=lambda item: (item["sk"], item["message_id"]))

    def recipient_page(self, recipient_key: str, *, after: str | None, limit: int) -> ItemPage:
        newest_first = self._recipient(recipient_key)[::-1]
        if after is not None:
            newest_first = [item for item in newest_first if item["sk"] < after]
        return _page(newest_first, limit)

    def recipient_all(self, recipient_key: str) -> list[StoredItem]:
        return self._recipient(recipient_key)

    def _api_data(self, key: str, after: str | None) -> list[StoredItem]:
        found = sorted(
            (item for item in self.items.values() if item.get("api_data_key") == key),
            key=lambda item: item["api_data_sk"],
        )
        return [item for item in found if after is None or item["api_data_sk"] > after]

    def api_data_page(self, key: str, *, after: str | None, limit: int) -> ItemPage:
        return _page(self._api_data(key, after), limit)

    def api_data_group_rest(self, key: str, after: str) -> list[StoredItem]:
        group = recipient_group(after)
        return [item for item in self._api_data(key, after) if recipient_group(item["api_data_sk"]) == group]
