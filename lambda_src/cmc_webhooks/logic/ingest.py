"""From a webhook's JSON document to the items to store. No AWS in here.

Every record ends up somewhere: a valid record as an event of its message, a record of an event
type we do not model (e.g. `blocks`) as a raw event of its message, and a record that fails
validation in the quarantine with its error. Only a broken envelope is refused, and then nothing is
stored. Keys derive from content (docs/data-model.md): the same event posted twice is one item.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cache, lru_cache
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from pydantic import TypeAdapter, ValidationError

from cmc_webhooks import contract
from cmc_webhooks.errors import InvalidEnvelope, TooManyRecords
from cmc_webhooks.logic.classify import FAILURE_STATUSES, classify
from cmc_webhooks.logic.identity import (
    canonical_json,
    content_id,
    normalize_address,
    normalize_message_id,
)
from cmc_webhooks.logic.storage import StoragePolicy
from cmc_webhooks.logic.text import REPAIRED, has_lone_surrogate, without_lone_surrogates
from cmc_webhooks.models.cmc import KNOWN_FIELDS, RECORD_TYPES, WebhookEnvelope
from cmc_webhooks.models.store import (
    StoredItem,
    event_sort_key,
    extra_problem,
    index_api_data,
    key_problem,
    size_problem,
)

BOUNCED = "bounced"
# A quarantined record keeps at most this much of its JSON (4 bytes a character at most: it fits).
QUARANTINE_RAW_CHARS = 90_000
MAX_ERROR_CHARS = 2000
MISSING_RECIPIENT = "to: Field required (data format v1: envelopeTo)"
# Item attributes copied from a record's text fields when not empty: (attribute, CMC's field).
_COMMON_TEXT = (("subject", "subject"), ("reason", "reason"), ("api_data", "apiData"))
_TEXT_FIELDS = {
    "deliveries": (("sender_ip", "senderIp"), ("source_ip", "sourceIp"), *_COMMON_TEXT),
    "bounces": _COMMON_TEXT,
}


@dataclass(frozen=True, kw_only=True)
class IngestOptions(StoragePolicy):
    """How records become items; the storage levers (retention per class, the recipient index) inherited."""

    time_zone: tzinfo
    max_records: int


@dataclass
class Batch:
    """What one webhook turns into. `received == written + quarantined + duplicates`."""

    event_type: str  # as the sender named it
    items: list[StoredItem] = field(default_factory=list)
    received: int = 0
    duplicates: int = 0  # repeats of a record within this request
    quarantined: int = 0
    unrecognized: int = 0
    with_unknown_fields: int = 0
    keys: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @property
    def written(self) -> int:
        return len(self.items) - self.quarantined

    def add(self, item: StoredItem) -> bool:
        key = (item["message_id"], item["sk"])
        if key in self.keys:
            self.duplicates += 1
            return False
        self.keys.add(key)
        self.items.append(item)
        return True

    def summary(self) -> dict[str, int]:
        """The webhook's answer."""
        return {
            "received": self.received,
            "written": self.written,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "unrecognized": self.unrecognized,
        }


def parse_envelope(document: dict[str, Any]) -> WebhookEnvelope:
    """The envelope of a decoded webhook, or InvalidEnvelope naming what is wrong with it."""
    if not isinstance(document.get("event"), dict):
        raise InvalidEnvelope(
            '`event` must be an object keyed by event type, e.g. {"deliveries": [...]}'
            if "event" in document
            else "the webhook has no `event` object"
        )
    # The envelope's text is repaired as the records' is; the records themselves one by one (build_batch).
    envelope = {name: without_lone_surrogates(value) for name, value in document.items() if name != "event"}
    envelope["event"] = {without_lone_surrogates(name): value for name, value in document["event"].items()}
    if len(envelope["event"]) != len(document["event"]):
        raise InvalidEnvelope("two event types of `event` differ only in lone surrogates")
    try:
        return parse(event=envelope, model=WebhookEnvelope)  # Powertools Parser
    except ValidationError as exc:
        raise InvalidEnvelope(f"invalid webhook envelope: {describe(exc)}") from exc


def build_batch(envelope: WebhookEnvelope, *, options: IngestOptions, received_at: datetime) -> Batch:
    groups = _record_groups(envelope)
    total = sum(len(records) for _, records in groups)
    if total > options.max_records:
        raise TooManyRecords(f"{total} records in one request; the limit is {options.max_records}")
    builder = _ItemBuilder(envelope.server_composition, options, received_at)
    batch = Batch(event_type=envelope.event_type, received=total)
    for event_type, records in groups:
        record_type = RECORD_TYPES.get(event_type)
        for sent in records:
            record = sent
            builder.repaired = False
            try:
                if record_type is None:
                    batch.unrecognized += 1
                    builder.add_unrecognized(batch, event_type, record)
                    continue
                valid, error = _validated(record_type, record)
                if valid is None and has_lone_surrogate(record):
                    # A text field with a lone surrogate fails validation: repaired, the record may pass.
                    record = builder.repair(record)
                    valid, error = _validated(record_type, record)
                if valid is None:
                    builder.add_quarantine(batch, event_type, record, error)
                else:
                    builder.add_event(batch, event_type, valid)
            except Exception as exc:  # one bad record never costs the records beside it
                error = f"record: could not be stored as an event ({type(exc).__name__})"
                builder.add_quarantine(batch, event_type, record, error)
    return batch


def _record_groups(envelope: WebhookEnvelope) -> list[tuple[str, list[Any]]]:
    """`event` is keyed by event type; each key holds an array of records (or one record)."""
    groups = []
    for event_type, value in envelope.event.items():
        records = [value] if isinstance(value, dict) else value
        if not isinstance(records, list):
            raise InvalidEnvelope(f"`event.{event_type}` must be an array of records")
        groups.append((event_type, records))
    return groups


@cache
def _adapter(record_type: Any) -> TypeAdapter[dict[str, Any]]:
    return TypeAdapter(record_type)


def _validated(record_type: Any, record: Any) -> tuple[dict[str, Any] | None, str]:
    """The validated record, or None and what is wrong with it."""
    try:
        return _adapter(record_type).validate_python(record), ""
    except ValidationError as exc:
        return None, describe(exc)


def describe(exc: ValidationError) -> str:
    """The fields and what is wrong with them, without the values (they may be personal data)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "record"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def event_key(  # noqa: PLR0917 - the fields that make the key, in their order
    event_type: str,
    server_composition: str,
    message_id: str,
    recipient_key: str,
    status: str,
    occurred_utc: str,
    reason: str,
) -> str:
    """The id of a delivery or bounce event: the fields that tell one event from another, normalized,
    so that the same event has the same id however it is sent (data format v1 or v2, messageId with or
    without <>, the domain's case). docs/data-model.md says why each field is there."""
    return content_id(event_type, server_composition, message_id, recipient_key, status, occurred_utc, reason)


class _ItemBuilder:
    def __init__(self, server_composition: str, options: IngestOptions, received_at: datetime) -> None:
        self.server_composition = server_composition
        self.tz = options.time_zone
        received_utc = received_at.astimezone(UTC)
        self.received_at = received_utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.received_utc = received_utc
        self.options = options
        # The lasting class's; _add sets each item's own (logic/storage.py).
        self.expires_at = int((received_utc + options.retention).timestamp())
        self.quarantine_partition = contract.QUARANTINE_PARTITION_PREFIX + received_utc.date().isoformat()
        self.repaired = False  # whether the record at hand had text that had to be repaired

    def _event_item(
        self, event_type: str, message_id: str, recipient_key: str, sk_time: str, eid: str
    ) -> StoredItem:
        """The attributes every event item has."""
        item: StoredItem = {
            "message_id": message_id,
            "sk": event_sort_key(recipient_key, sk_time, eid),
            "kind": "event",
            "event_id": eid,
            "event_type": event_type,
            "received_at": self.received_at,
            "expires_at": self.expires_at,
            "server_composition": self.server_composition,
        }
        return item

    def repair(self, value: Any) -> Any:
        """`value` without lone surrogates; the item of the record at hand will say so."""
        if not has_lone_surrogate(value):
            return value
        self.repaired = True
        return without_lone_surrogates(value)

    def _add(self, batch: Batch, item: StoredItem) -> bool:
        if self.repaired:
            item["repaired"] = REPAIRED
        item["expires_at"] = int((self.received_utc + self.options.retention_of(item)).timestamp())
        if "recipient_key" in item and not self.options.in_recipient_index(item):
            del item["recipient_key"]  # the index is sparse: it holds the items that carry its key
        return batch.add(item)

    def add_event(self, batch: Batch, event_type: str, record: dict[str, Any]) -> None:
        """A validated record (models/cmc.py): CMC's field names, either data format version."""
        try:
            occurred_at, occurred_utc = occurrence(record["created"], self.tz)
        except (ValueError, OverflowError) as exc:
            self.add_quarantine(batch, event_type, record, f"created: {exc}")
            return
        message_id = normalize_message_id(record["messageId"])
        if not message_id:
            self.add_quarantine(batch, event_type, record, "messageId: empty once <> are removed")
            return
        # v2 names first; v1 has `envelopeTo`, and `envelopeFrom` for both sender and return path.
        recipient = record.get("to") or record.get("envelopeTo")
        if recipient is None:
            self.add_quarantine(batch, event_type, record, MISSING_RECIPIENT)
            return
        recipient_key = normalize_address(recipient)
        status = record["status"]
        bounce = event_type == "bounces"
        reason = record.get("reason", "")
        eid = event_key(
            event_type, self.server_composition, message_id, recipient_key, status, occurred_utc, reason
        )
        item = self._event_item(event_type, message_id, recipient_key, occurred_utc, eid)
        item["occurred_at"] = occurred_at
        item["message_id_raw"] = record["messageId"]
        item["recipient"] = recipient
        item["recipient_key"] = recipient_key
        item["data_version"] = 1 if "envelopeTo" in record else 2
        item["status"] = BOUNCED if bounce else status
        if bounce:
            item["bounce_code"] = status
        v1_sender = record.get("envelopeFrom")
        if sender := record.get("from", v1_sender):
            item["sender"] = sender
        if return_path := record.get("returnPath", v1_sender):
            item["return_path"] = return_path
        for attribute, name in _TEXT_FIELDS[event_type]:
            if value := record.get(name):
                item[attribute] = value  # type: ignore[literal-required]
        if extra := _extra_fields(record, KNOWN_FIELDS[event_type]):
            item["extra"] = _dumps(self.repair(extra))
            batch.with_unknown_fields += 1
        if bounce or status in FAILURE_STATUSES:
            _classify_into(item, bounce_code=item.get("bounce_code"))
        index_api_data(item)
        # The model bounds every known field, so that only the keys and the unknown fields can overflow.
        if problem := key_problem(item) or extra_problem(item):
            self.add_quarantine(batch, event_type, record, problem)
        else:
            self._add(batch, item)

    def add_unrecognized(self, batch: Batch, event_type: str, record: Any) -> None:
        """An event type we do not model: kept whole under its message, never mis-mapped."""
        record = self.repair(record)
        raw_id = record.get("messageId") if isinstance(record, dict) else None
        message_id = normalize_message_id(raw_id) if isinstance(raw_id, str) else ""
        if not message_id:
            self.add_quarantine(batch, event_type, record, f"a `{event_type}` record without messageId")
            return
        created = record.get("created")
        try:
            occurred_at, occurred_utc = occurrence(created, self.tz) if isinstance(created, str) else ("", "")
        except (ValueError, OverflowError):
            occurred_at, occurred_utc = "", ""
        eid = content_id(event_type, self.server_composition, canonical_json(record))
        to = record.get("to")
        recipient_key = normalize_address(to) if isinstance(to, str) and to else ""
        item = self._event_item(event_type, message_id, recipient_key, occurred_utc or "unknown-time", eid)
        item["message_id_raw"] = raw_id or ""
        item["raw"] = _dumps(record)
        if occurred_at:
            item["occurred_at"] = occurred_at
        for attribute, source in (("status", "status"), ("recipient", "to"), ("reason", "reason")):
            value = record.get(source)
            if isinstance(value, str) and value:
                item[attribute] = value  # type: ignore[literal-required]
        if "recipient" in item:
            item["recipient_key"] = recipient_key
        _classify_into(item, bounce_code=item.get("status"))
        # Unbounded: stored unless DynamoDB would refuse it, which would sink the whole request.
        if problem := key_problem(item) or size_problem(item):
            self.add_quarantine(batch, event_type, record, problem)
        else:
            self._add(batch, item)

    def add_quarantine(self, batch: Batch, event_type: str, record: Any, error: str) -> None:
        record = self.repair(record)
        eid = content_id(event_type, self.server_composition, canonical_json(record))
        raw = _dumps(record)
        item: StoredItem = {
            "message_id": self.quarantine_partition,
            "sk": f"{contract.QUARANTINE_SORT_KEY_PREFIX}{eid}",
            "kind": "quarantine",
            "event_id": eid,
            "event_type": event_type,
            "received_at": self.received_at,
            "expires_at": self.expires_at,
            "server_composition": self.server_composition,
            "raw": raw,
            "error": error[:MAX_ERROR_CHARS],
        }
        if len(raw) > QUARANTINE_RAW_CHARS:  # keep what fits in an item, and say what it was
            item["raw"] = raw[:QUARANTINE_RAW_CHARS]
            item["raw_chars"] = len(raw)
            item["raw_sha256"] = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
            item["error"] = (
                f"{item['error']}; raw truncated to {QUARANTINE_RAW_CHARS} of {len(raw)} characters"
            )
        if self._add(batch, item):
            batch.quarantined += 1


def _extra_fields(record: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields of a validated record that its item does not map, kept as `extra`, by name. A v1 name
    beside the v2 one it stands for is not used (the v2 one is), so it is one of them."""
    unused = record.keys() - known
    if "envelopeTo" in record and "to" in record:
        unused.add("envelopeTo")
    if "envelopeFrom" in record and "from" in record and "returnPath" in record:
        unused.add("envelopeFrom")
    return {name: record[name] for name in sorted(unused)} if unused else {}


def _classify_into(item: StoredItem, *, bounce_code: str | None) -> None:
    """Bounces, failures, deferrals and blocks carry what a sender should do about them."""
    classification = classify(
        event_type=item["event_type"],
        status=item.get("status", ""),
        bounce_code=bounce_code,
        reason=item.get("reason", ""),
    )
    if classification is not None:
        for name, value in classification.as_dict().items():
            if value:
                item[name] = value  # type: ignore[literal-required]


# Cached: the records of one webhook (what CMC queued within a second or so) share a few `created`
# values; over a quarter of cpu_100_ratio in make bench.
@lru_cache(maxsize=1024)
def occurrence(created: str, tz: tzinfo) -> tuple[str, str]:
    """`created` (`YYYY-MM-DD HH:MM:SS` in the console's time zone) as ISO-8601 with its offset, and in
    UTC as the sort key writes it."""
    local = datetime.fromisoformat(created)
    if local.tzinfo is None:  # as CMC writes it: in the console's zone
        local = local.replace(tzinfo=tz)
    return local.isoformat(), local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
