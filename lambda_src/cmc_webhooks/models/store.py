"""The item kept in DynamoDB for each record (see docs/data-model.md).

A TypedDict: the items are plain dicts of strings and integers as the DynamoDB adapter writes
them; mypy checks their shape.
"""

from __future__ import annotations

import hashlib
from typing import Literal, Required, TypedDict

from cmc_webhooks import contract

ItemKind = Literal["event", "quarantine"]


class StoredItem(TypedDict, total=False):
    message_id: Required[str]  # partition key: messageId without <>, or quarantine#<day>
    sk: Required[str]  # EVENT#<recipient_key>#<occurred UTC>#<event_id> or QUARANTINE#<event_id>
    kind: Required[ItemKind]
    event_id: Required[str]  # hash of the record's content: the same record, the same id
    event_type: Required[str]  # deliveries | bounces | anything else CMC sends, as sent
    received_at: Required[str]  # ISO-8601 UTC, when this receiver accepted the request
    expires_at: Required[int]  # TTL, epoch seconds
    server_composition: str
    status: str  # queued|succeeded|failed|deferred|bounced, or as sent for other types
    occurred_at: str  # ISO-8601 with the offset of the configured time zone
    recipient: str
    recipient_key: str  # GSI partition key: the address with its domain in lower case
    sender: str
    return_path: str
    subject: str
    reason: str
    api_data: str
    api_data_key: str  # by_api_data index, only when api_data is non-empty: api_data_key(api_data)
    api_data_sk: str  # by_api_data index sort key: api_data_sort_key(message_id, sk)
    bounce_code: str  # CMC's bounce code, bounces only
    sender_ip: str
    source_ip: str
    message_id_raw: str  # as CMC sent it, with <>
    data_version: int  # 1 or 2, CMC's data format
    # Bounce classification (logic/classify.py) of bounces, failed and deferred deliveries, blocks
    bounce_type: str  # hard | soft | undetermined
    bounce_category: str
    smtp_code: str
    enhanced_status: str
    diagnostic: str
    extra: str  # JSON object of fields CMC sent that the model does not know
    raw: str  # JSON of the whole record: unrecognized event types and quarantine
    raw_chars: int  # quarantine: the length of a raw that was truncated
    raw_sha256: str  # quarantine: the SHA-256 of a raw that was truncated
    error: str  # why a record is in quarantine
    repaired: str  # set when text had to be repaired to be stored (lone surrogates)


# The classification's attributes of an item (logic/classify.py's Classification, flattened).
CLASSIFICATION_ATTRIBUTES = ("bounce_type", "bounce_category", "smtp_code", "enhanced_status", "diagnostic")


def classification_of(item: StoredItem) -> dict[str, str | None] | None:
    """An item's bounce classification as one object, or None if it has none."""
    if "bounce_type" not in item:
        return None
    return {name: item.get(name) for name in CLASSIFICATION_ATTRIBUTES}  # type: ignore[misc]


def utf8_size(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def fits_partition_key(value: str) -> bool:
    """DynamoDB takes a partition key value of 1 to PARTITION_KEY_MAX_BYTES bytes of UTF-8."""
    return 0 < utf8_size(value) <= contract.PARTITION_KEY_MAX_BYTES


def event_sort_key(recipient_key: str, occurred_utc: str, event_id: str) -> str:
    """A message's events by recipient, then time. Neither the time nor the id holds a `#`, so the
    recipient key is what lies between the prefix and the last two `#`; a recipient key too long for
    DynamoDB's sort key (no real address is) stands there as its SHA-256."""
    if utf8_size(recipient_key) > RECIPIENT_IN_SORT_KEY_MAX_BYTES:
        recipient_key = "sha256:" + hashlib.sha256(recipient_key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{contract.EVENT_SORT_KEY_PREFIX}{recipient_key}#{occurred_utc}#{event_id}"


def recipient_group(sort_key: str) -> str:
    """The part of an event's sort key that one recipient's events share: `EVENT#<recipient_key>#`."""
    return sort_key.rsplit("#", 2)[0] + "#"


def api_data_key(api_data: str) -> str:
    """The by_api_data partition key of a value: the value itself when DynamoDB takes it as a key."""
    if fits_partition_key(api_data):
        return api_data
    return "sha256:" + hashlib.sha256(api_data.encode("utf-8", "surrogatepass")).hexdigest()


def message_digest(message_id: str) -> str:
    """A short fixed-size stand-in for a message id (which may be ~1,000 characters) in a sort key."""
    return hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[
        : contract.MESSAGE_DIGEST_CHARS
    ]


def api_data_sort_key(message_id: str, sort_key: str) -> str:
    """By message, then as the message's own sort key: by recipient, then time."""
    return f"{message_digest(message_id)}#{sort_key}"


def index_api_data(item: StoredItem) -> None:
    """Put an event that carries an apiData in the by_api_data index (an item without one stays out)."""
    if api_data := item.get("api_data"):
        item["api_data_key"] = api_data_key(api_data)
        item["api_data_sk"] = api_data_sort_key(item["message_id"], item["sk"])


# The longest event sort key leaves room for api_data_sort_key's digest and `#` within DynamoDB's limit:
# the prefix, the recipient, `#`, a time (at most 20 characters), `#` and the 32-digit event id.
EVENT_SORT_KEY_MAX_BYTES = contract.SORT_KEY_MAX_BYTES - contract.MESSAGE_DIGEST_CHARS - 1
RECIPIENT_IN_SORT_KEY_MAX_BYTES = (
    EVENT_SORT_KEY_MAX_BYTES - len(contract.EVENT_SORT_KEY_PREFIX) - 1 - 20 - 1 - 32
)


# What DynamoDB takes. An item is at most 400 KB; leave room for its per-attribute overhead.
ITEM_MAX_BYTES = 390_000
# An event's unknown fields, as JSON, beside its bounded known ones (models/cmc.py): together under 390 KB.
EXTRA_MAX_CHARS = 50_000


def key_problem(item: StoredItem) -> str | None:
    """What DynamoDB would refuse in the item's keys."""
    if not fits_partition_key(item["message_id"]):
        return f"messageId: longer than {contract.PARTITION_KEY_MAX_BYTES} bytes"
    if "recipient_key" in item and not item["recipient_key"]:
        return "to: empty once spaces are removed"
    if "recipient_key" in item and not fits_partition_key(item["recipient_key"]):
        return f"to: longer than {contract.PARTITION_KEY_MAX_BYTES} bytes"
    return None


def extra_problem(item: StoredItem) -> str | None:
    if len(item.get("extra", "")) > EXTRA_MAX_CHARS:
        return f"record: its unknown fields are longer than {EXTRA_MAX_CHARS} characters as JSON"
    return None


def size_problem(item: StoredItem) -> str | None:
    """An item larger than DynamoDB takes: it counts the names, a string's UTF-8 bytes and at most 21
    bytes for a number."""
    texts = [value for value in item.values() if isinstance(value, str)]
    size = sum(map(len, item)) + len("".join(texts).encode()) + 21 * (len(item) - len(texts))
    if size > ITEM_MAX_BYTES:
        return f"record: {size} bytes stored, more than the {ITEM_MAX_BYTES} an item can hold"
    return None
