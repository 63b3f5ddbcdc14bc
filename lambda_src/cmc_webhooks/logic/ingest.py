"""From a decoded webhook document to the items to store. No AWS in here.

Every record ends up somewhere: a valid record as an event of its message, a record of an
event type we do not model (e.g. `blocks`) as a raw event of its message, and a record
that fails validation in the quarantine with its error. Only a broken envelope is refused.

The common case, every record valid and of a known type, is validated with its envelope in one
pass of pydantic over the JSON text (`read_webhook`); anything else is validated record by record.
Both give the same items (tests/unit/test_ingest_paths.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache, lru_cache
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from pydantic import TypeAdapter, ValidationError

from cmc_webhooks import contract
from cmc_webhooks.errors import InvalidEnvelope, TooManyRecords
from cmc_webhooks.logic.classify import FAILURE_STATUSES, classify
from cmc_webhooks.logic.decode import load_document
from cmc_webhooks.logic.identity import (
    event_id,
    fits_partition_key,
    normalize_address,
    normalize_message_id,
    record_key,
)
from cmc_webhooks.models.cmc import KNOWN_FIELDS, RECORD_TYPES, CheckedWebhook, WebhookEnvelope
from cmc_webhooks.models.store import StoredItem

BOUNCED = "bounced"
# DynamoDB's item limit is 400 KB; leave room for its per-attribute overhead.
ITEM_MAX_BYTES = 390_000
SAFE_RECORD_CHARS = 40_000  # 2 copies x 4 bytes x 40,000 characters, well under ITEM_MAX_BYTES
SAFE_KEY_CHARS = contract.PARTITION_KEY_MAX_BYTES // 4  # a character is at most 4 bytes of UTF-8
MISSING_RECIPIENT = "to: Field required (data format v1: envelopeTo)"
QUARANTINE_RAW_CHARS = 90_000
# Item attributes copied from a record's text fields when not empty: (attribute, CMC's field).
_COMMON_TEXT = (("subject", "subject"), ("reason", "reason"), ("api_data", "apiData"))
_TEXT_FIELDS = {
    "deliveries": (("sender_ip", "senderIp"), ("source_ip", "sourceIp"), *_COMMON_TEXT),
    "bounces": _COMMON_TEXT,
}


@dataclass(frozen=True)
class IngestOptions:
    time_zone: tzinfo
    retention: timedelta
    max_records: int


@dataclass(frozen=True)
class Webhook:
    """A decoded webhook: `checked` when every record is valid and of a known type (validated with
    the envelope in one pass), else the `document` as it came, to be validated record by record."""

    checked: CheckedWebhook | None = None
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def api_key(self) -> str | None:
        value = self.checked.api_key if self.checked is not None else self.document.get("api_key")
        return value if isinstance(value, str) else None

    @property
    def event_type(self) -> Any:
        return self.checked.event_type if self.checked is not None else self.document.get("event_type")


def read_webhook(source: str | dict[str, Any]) -> Webhook:
    """`source`: the body's JSON text, or the document a form carried (logic/decode.py). JSON text is
    parsed and validated by pydantic in one pass, which costs about what `json.loads` alone does."""
    try:
        return Webhook(checked=parse(event=source, model=CheckedWebhook))  # type: ignore[arg-type]  # text: validate_json
    except ValidationError:
        return Webhook(document=source if isinstance(source, dict) else load_document(source))


@dataclass
class Batch:
    """What one webhook turns into. `received == written + quarantined + duplicates`."""

    items: list[StoredItem] = field(default_factory=list)
    received: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unrecognized: int = 0
    with_unknown_fields: int = 0
    _keys: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @property
    def written(self) -> int:
        return len(self.items) - self.quarantined

    def add(self, item: StoredItem) -> bool:
        key = (item["message_id"], item["sk"])
        if key in self._keys:
            self.duplicates += 1
            return False
        self._keys.add(key)
        self.items.append(item)
        return True

    def summary(self) -> dict[str, int]:
        return {
            "received": self.received,
            "written": self.written,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "unrecognized": self.unrecognized,
        }


def build_batch(webhook: Webhook | dict[str, Any], *, options: IngestOptions, received_at: datetime) -> Batch:
    if not isinstance(webhook, Webhook):
        webhook = read_webhook(webhook)
    checked = webhook.checked
    envelope = checked if checked is not None else _parse_envelope(webhook.document)
    groups: list[tuple[str, list[Any]]] = (
        list(checked.event.items()) if checked is not None else _record_groups(envelope)  # type: ignore[arg-type]
    )
    total = sum(len(records) for _, records in groups)
    if total > options.max_records:
        raise TooManyRecords(f"{total} records in one request; the limit is {options.max_records}")

    builder = _ItemBuilder(envelope.server_composition, options, received_at)
    batch = Batch(received=total)
    for event_type, records in groups:
        known = KNOWN_FIELDS.get(event_type)
        if known is None:
            for record in records:
                batch.unrecognized += 1
                builder.add_unrecognized(batch, event_type, record)
        elif checked is not None:
            builder.add_events(batch, event_type, records, known)
        else:
            for record, valid, error in _validate(RECORD_TYPES[event_type], records):
                if valid is None:
                    builder.add_quarantine(batch, event_type, record, error)
                else:
                    builder.add_events(batch, event_type, (valid,), known)
    return batch


def _parse_envelope(document: dict[str, Any]) -> WebhookEnvelope:
    if "event" not in document:
        raise InvalidEnvelope("the webhook has no `event` object")
    if not isinstance(document["event"], dict):
        raise InvalidEnvelope('`event` must be an object keyed by event type, e.g. {"deliveries": [...]}')
    try:
        return parse(event=document, model=WebhookEnvelope)  # Powertools Parser
    except ValidationError as exc:
        raise InvalidEnvelope(f"invalid webhook envelope: {describe(exc)}") from exc


def _record_groups(envelope: WebhookEnvelope) -> list[tuple[str, list[Any]]]:
    """`event` is keyed by event type; each key holds an array of records."""
    groups = []
    for event_type, value in envelope.event.items():
        records = [value] if isinstance(value, dict) else value
        if not isinstance(records, list):
            raise InvalidEnvelope(f"`event.{event_type}` must be an array of records")
        groups.append((event_type, records))
    return groups


def _validate(record_type: Any, records: list[Any]) -> Iterable[tuple[Any, dict[str, Any] | None, str]]:
    """Each record, validated (None if it is not valid), and what is wrong with it."""
    adapter = _adapter(record_type)
    for record in records:
        try:
            yield record, adapter.validate_python(record), ""
        except ValidationError as exc:
            yield record, None, describe(exc)


@cache
def _adapter(record_type: Any) -> TypeAdapter[dict[str, Any]]:
    return TypeAdapter(record_type)


@cache
def validated_records_come_sorted() -> bool:
    """Whether this pydantic returns a validated record's keys in declaration order (code-point order,
    models/cmc.py), which lets ids skip the sort. Checked once per process, on a record sent in reverse
    order: in AWS the code runs on the layer's pydantic, not the version the tests pin."""
    probe = {name: "x" for name in sorted(KNOWN_FIELDS["deliveries"], reverse=True)}
    probe.update({"created": "2000-01-01 00:00:00", "messageId": "<m@x>", "status": "queued", "to": "a@x"})
    # Through the webhook's own validator: it is built already (a record adapter would cost a cold
    # start ~1.5 ms to build) and it is the one the common case runs.
    webhook = CheckedWebhook.model_validate({"event_type": "deliveries", "event": {"deliveries": [probe]}})
    validated = webhook.event["deliveries"][0]
    return list(validated) == sorted(validated)


def describe(exc: ValidationError) -> str:
    """The fields and what is wrong with them, without the values (they may be personal data)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "record"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


class _ItemBuilder:
    def __init__(self, server_composition: str, options: IngestOptions, received_at: datetime) -> None:
        self.server_composition = server_composition
        self.tz = options.time_zone
        received_utc = received_at.astimezone(UTC)
        self.received_at = received_utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.expires_at = int((received_utc + options.retention).timestamp())
        self.quarantine_partition = contract.QUARANTINE_PARTITION_PREFIX + received_utc.date().isoformat()

    def _event_item(self, event_type: str, message_id: str, sk_time: str, eid: str) -> StoredItem:
        """The attributes every event item has."""
        return {
            "message_id": message_id,
            "sk": f"{contract.EVENT_SORT_KEY_PREFIX}{sk_time}#{eid}",
            "kind": "event",
            "event_id": eid,
            "event_type": event_type,
            "received_at": self.received_at,
            "expires_at": self.expires_at,
            "server_composition": self.server_composition,
        }

    def add_events(  # noqa: PLR0912 - one loop on purpose (the hot path)
        self, batch: Batch, event_type: str, records: Iterable[dict[str, Any]], known: frozenset[str]
    ) -> None:
        """Validated records (models/cmc.py): CMC's field names, both data format versions.

        This runs for every record of every webhook, so it is one loop: the cheap bounds checked
        inline, the classifier called only for failures."""
        bounce = event_type == "bounces"
        text_fields = _TEXT_FIELDS[event_type]
        composition = self.server_composition
        come_sorted = validated_records_come_sorted()
        for record in records:
            try:
                occurred_at, sk_time = _occurrence(record["created"], self.tz)
            except ValueError as exc:
                self.add_quarantine(batch, event_type, record, f"created: {exc}")
                continue
            raw_id = record["messageId"]
            message_id = normalize_message_id(raw_id)
            if not message_id:
                self.add_quarantine(batch, event_type, record, "messageId: empty once <> are removed")
                continue
            # v2 names first; v1 has `envelopeTo`, and `envelopeFrom` for both sender and return path.
            recipient = record.get("to") or record.get("envelopeTo")  # validated non-empty when present
            if recipient is None:
                self.add_quarantine(batch, event_type, record, MISSING_RECIPIENT)
                continue
            plain = known.issuperset(record) and "envelopeTo" not in record and "envelopeFrom" not in record
            extra = None if plain else _extra_fields(record, known)
            # Without extras, a validated record's keys are in canonical order (models/cmc.py).
            eid, record_chars = record_key(
                event_type, composition, record, canonical_order=come_sorted and not extra
            )
            recipient_key = normalize_address(recipient)
            status = record["status"]
            item = self._event_item(event_type, message_id, sk_time, eid)
            item["occurred_at"] = occurred_at
            item["message_id_raw"] = raw_id
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
            for attribute, name in text_fields:
                if value := record.get(name):
                    item[attribute] = value  # type: ignore[literal-required]
            if extra:
                item["extra"] = _dumps(extra)
                batch.with_unknown_fields += 1
            if bounce or status in FAILURE_STATUSES:
                _classify_into(item, bounce_code=item.get("bounce_code"))
            # Far below every limit (almost every item) or checked in full.
            if (
                record_chars <= SAFE_RECORD_CHARS
                and len(message_id) <= SAFE_KEY_CHARS
                and 0 < len(recipient_key) <= SAFE_KEY_CHARS
            ):
                batch.add(item)
            else:
                self._admit(batch, event_type, record, item, record_chars)

    def add_unrecognized(self, batch: Batch, event_type: str, record: Any) -> None:
        """An event type we do not model: keep it whole under its message, never mis-mapped."""
        raw_id = record.get("messageId") if isinstance(record, dict) else None
        message_id = normalize_message_id(raw_id) if isinstance(raw_id, str) else ""
        if not message_id:
            self.add_quarantine(batch, event_type, record, f"a `{event_type}` record without messageId")
            return
        created = record.get("created")
        try:
            occurred_at, sk_time = _occurrence(created, self.tz) if isinstance(created, str) else ("", "")
        except ValueError:
            occurred_at, sk_time = "", ""
        eid, record_chars = record_key(event_type, self.server_composition, record)
        item = self._event_item(event_type, message_id, sk_time or "unknown-time", eid)
        item["message_id_raw"] = raw_id or ""
        item["raw"] = _dumps(record)
        if occurred_at:
            item["occurred_at"] = occurred_at
        for attribute, source in (("status", "status"), ("recipient", "to"), ("reason", "reason")):
            value = record.get(source)
            if isinstance(value, str) and value:
                item[attribute] = value  # type: ignore[literal-required]
        if "recipient" in item:
            item["recipient_key"] = normalize_address(item["recipient"])
        _classify_into(item, bounce_code=item.get("status"))
        self._admit(batch, event_type, record, item, record_chars)

    def _admit(self, batch: Batch, event_type: str, record: Any, item: StoredItem, record_chars: int) -> None:
        """Store the item unless DynamoDB would refuse it, which would sink the whole request."""
        problem = storage_limit_problem(item, record_chars)
        if problem:
            self.add_quarantine(batch, event_type, record, problem)
        else:
            batch.add(item)

    def add_quarantine(self, batch: Batch, event_type: str, record: Any, error: str) -> None:
        eid = event_id(event_type, self.server_composition, record)
        item: StoredItem = {
            "message_id": self.quarantine_partition,
            "sk": f"{contract.QUARANTINE_SORT_KEY_PREFIX}{eid}",
            "kind": "quarantine",
            "event_id": eid,
            "event_type": event_type,
            "received_at": self.received_at,
            "expires_at": self.expires_at,
            "server_composition": self.server_composition,
            "raw": _dumps(record),
            "error": error,
        }
        if len(item["raw"]) > QUARANTINE_RAW_CHARS:  # keep what fits in an item, and say so
            item["raw"] = item["raw"][:QUARANTINE_RAW_CHARS]
            item["error"] = f"{error}; raw truncated to {QUARANTINE_RAW_CHARS} characters"
        if batch.add(item):
            batch.quarantined += 1


def _extra_fields(record: dict[str, Any], known: frozenset[str]) -> dict[str, Any] | None:
    """The fields of a validated record that its item does not map, kept as `extra`; None if none.
    A v1 name beside the v2 one it stands for is not used (the v2 one is), so it is one of them."""
    unused = set()
    if "to" in record:
        unused.add("envelopeTo")
    if "from" in record and "returnPath" in record:
        unused.add("envelopeFrom")
    extra = {name: value for name, value in record.items() if name not in known or name in unused}
    return extra or None


def storage_limit_problem(item: StoredItem, record_chars: int) -> str | None:
    """What DynamoDB would refuse in this item: key sizes and the 400 KB item limit.

    An item holds each field of its record at most twice (e.g. `to` as `recipient` and
    `recipient_key`) plus bounded attributes, and a character is at most 4 bytes of UTF-8: a
    record under SAFE_RECORD_CHARS cannot overflow, so most items skip the byte count.
    """
    if not fits_partition_key(item["message_id"]):
        return f"messageId: longer than {contract.PARTITION_KEY_MAX_BYTES} bytes"
    if "recipient_key" in item and not item["recipient_key"]:
        return "to: empty once spaces are removed"
    if "recipient_key" in item and not fits_partition_key(item["recipient_key"]):
        return f"to: longer than {contract.PARTITION_KEY_MAX_BYTES} bytes"
    if record_chars <= SAFE_RECORD_CHARS:
        return None
    size = sum(
        len(name) + (len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else 8)
        for name, value in item.items()
    )
    if size > ITEM_MAX_BYTES:
        return f"record: {size} bytes stored, more than the {ITEM_MAX_BYTES} an item can hold"
    return None


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


def _local_time(created: str, tz: tzinfo) -> datetime:
    """`YYYY-MM-DD HH:MM:SS` in the console's time zone (sliced: strptime is slow)."""
    if len(created) != 19 or created[4] != "-" or created[10] != " ":
        raise ValueError("expected YYYY-MM-DD HH:MM:SS")
    return datetime(
        int(created[0:4]),
        int(created[5:7]),
        int(created[8:10]),
        int(created[11:13]),
        int(created[14:16]),
        int(created[17:19]),
        tzinfo=tz,
    )


@lru_cache(maxsize=4096)
def _occurrence(created: str, tz: tzinfo) -> tuple[str, str]:
    """`occurred_at` and the sort key's UTC time of a `created`. Cached: the records of one webhook
    (CMC posts what queued up within a second or so) mostly share a few `created` values."""
    occurred = _local_time(created, tz)
    return occurred.isoformat(), _utc_key(occurred)


def _utc_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
