"""The names shared by the CDK stack, the Lambda runtime, the local emulator and the tests.

Change a name here and every side follows; the infrastructure tests check that the
synthesized table matches these names, and the local emulator creates its table from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

# --- DynamoDB event store -------------------------------------------------------------
# Partition key: the messageId without its angle brackets, so another system can run a
# plain `Query` with `message_id = :id` (see docs/data-model.md).
PARTITION_KEY: Final = "message_id"
# Sort key: "EVENT#<recipient_key>#<occurred_at in UTC>#<event_id>" keeps a message's events by
# recipient, then in time order: a page of a message holds each recipient's events together.
SORT_KEY: Final = "sk"
# Epoch seconds after which DynamoDB deletes the item (retention from settings).
TTL_ATTRIBUTE: Final = "expires_at"

# Events of one recipient, newest first: partition on the normalized address and reuse
# the table's time-ordered sort key.
RECIPIENT_INDEX: Final = "by_recipient"
RECIPIENT_INDEX_PARTITION_KEY: Final = "recipient_key"
RECIPIENT_INDEX_SORT_KEY: Final = SORT_KEY
# What the recipient index holds (the stage's `recipient_index`): every event with all its attributes
# (projection ALL), or only the events the suppression verdict reads (sparse: only they carry
# `recipient_key`) with the attributes below (projection INCLUDE, besides the table's and index's keys).
RECIPIENT_INDEX_ALL: Final = "all"
RECIPIENT_INDEX_SUPPRESSION: Final = "suppression"
RECIPIENT_INDEX_MODES: Final = (RECIPIENT_INDEX_ALL, RECIPIENT_INDEX_SUPPRESSION)
SUPPRESSION_INDEX_ATTRIBUTES: Final = (
    "event_type",
    "status",
    "occurred_at",
    "received_at",
    "recipient",
    "server_composition",
    "bounce_code",
    "bounce_type",
    "bounce_category",
    "smtp_code",
    "enhanced_status",
    "diagnostic",
)

EVENT_SORT_KEY_PREFIX: Final = "EVENT#"
QUARANTINE_SORT_KEY_PREFIX: Final = "QUARANTINE#"
# Quarantined records live in one partition per UTC day. A real messageId always holds an
# "@", these keys never do, so the two cannot collide.
QUARANTINE_PARTITION_PREFIX: Final = "quarantine#"

# Per-day counters of stored delivery events (reconciliation, docs/reconcile.md): partition
# "daycount#<server_composition>#<YYYY-MM-DD in the console's zone>", sort key "COUNT#<status>", the
# number in DAY_COUNT_ATTRIBUTE. No "@" either, and not EVENT#: neither lookups nor the publisher see them.
DAY_COUNT_PARTITION_PREFIX: Final = "daycount#"
DAY_COUNT_SORT_KEY_PREFIX: Final = "COUNT#"
DAY_COUNT_ATTRIBUTE: Final = "count"

# DynamoDB refuses a partition key value longer than this, and a sort key value longer than that.
PARTITION_KEY_MAX_BYTES: Final = 2048
SORT_KEY_MAX_BYTES: Final = 1024

# Messages by the sender's own id (CMC's apiData, the X-Api-Data header): a sparse index of the events
# that carry one. Its partition key is the value (or, past PARTITION_KEY_MAX_BYTES, "sha256:" and its
# digest); its sort key groups a message's events ("<digest of message_id>#<sk>"). Both attributes are
# written only when apiData is non-empty: DynamoDB refuses an empty string as an index key.
API_DATA_INDEX: Final = "by_api_data"
API_DATA_INDEX_PARTITION_KEY: Final = "api_data_key"
API_DATA_INDEX_SORT_KEY: Final = "api_data_sk"
# What the index keeps beside its keys: what a recipient's current status is derived from.
API_DATA_INDEX_PROJECTION: Final = ("event_type", "status", "occurred_at", "recipient", "recipient_key")
MESSAGE_DIGEST_CHARS: Final = 16

# DynamoDB BatchGetItem takes at most 100 keys per call.
BATCH_GET_LIMIT: Final = 100

# DynamoDB BatchWriteItem takes at most 25 put requests per call.
BATCH_WRITE_LIMIT: Final = 25

# The lookups answer in pages: `limit` events (or statuses) a page, this many unless the caller asks,
# at most PAGE_LIMIT_MAX; a page also ends before its answer would pass PAGE_MAX_BYTES of JSON.
PAGE_LIMIT_DEFAULT: Final = 100
PAGE_LIMIT_MAX: Final = 1000
PAGE_MAX_BYTES: Final = 800_000

# --- Powertools ------------------------------------------------------------------------
SERVICE_NAME: Final = "cmc-webhooks"
METRICS_NAMESPACE: Final = "CmcWebhooks"
# What X-Ray traces: the AWS SDK's calls. Tracer's default patches every library the SDK supports
# that is installed (sqlite3, http.client, requests, ...): more to import on a cold start, and each
# AWS call traced twice (botocore's subsegment and http.client's under it).
TRACED_MODULES: Final = ("botocore",)


# Metric names (CloudWatch EMF), emitted by the functions and alarmed on by infra/monitoring.py.
class Metric:
    RECORDS_RECEIVED: Final = "RecordsReceived"
    RECORDS_WRITTEN: Final = "RecordsWritten"
    RECORDS_DUPLICATED: Final = "RecordsDuplicated"
    RECORDS_QUARANTINED: Final = "RecordsQuarantined"
    RECORDS_UNRECOGNIZED: Final = "RecordsUnrecognized"
    RECORDS_WITH_UNKNOWN_FIELDS: Final = "RecordsWithUnknownFields"
    MESSAGE_LOOKUPS: Final = "MessageLookups"
    RECIPIENT_LOOKUPS: Final = "RecipientLookups"
    API_DATA_LOOKUPS: Final = "ApiDataLookups"
    REQUESTS_REFUSED: Final = "RequestsRefused"
    AUTH_FAILURES: Final = "AuthFailures"
    STORAGE_FAILURES: Final = "StorageFailures"
    EVENTS_PUBLISHED: Final = "EventsPublished"
    EVENTS_PUBLISH_FAILED: Final = "EventsPublishFailed"
    INBOUND_RECEIVED: Final = "InboundReceived"
    INBOUND_DUPLICATED: Final = "InboundDuplicated"
    INBOUND_TOO_LARGE: Final = "InboundTooLarge"
    INBOUND_LOOKUPS: Final = "InboundLookups"
    SUPPRESSION_CHANGES: Final = "SuppressionStatesWritten"
    WEBHOOKS_SPILLED: Final = "WebhooksSpilled"  # the table refused, the spill queue took it
    WEBHOOKS_DRAINED: Final = "WebhooksDrained"  # spilled webhooks the drain stored
    RECONCILE_FAILURES: Final = "ReconcileFailures"  # dates a run could not reconcile
    RECONCILE_WRITTEN: Final = "ReconcileWritten"  # events the webhooks had missed, stored by a run
    RECONCILE_API_REQUESTS: Final = "ReconcileApiRequests"


# --- HTTP API --------------------------------------------------------------------------
WEBHOOK_PATH: Final = "/webhooks/events"
MESSAGE_LOOKUP_PATH: Final = "/messages/{message_id}"
RECIPIENT_LOOKUP_PATH: Final = "/recipients/{address}"
INBOUND_WEBHOOK_PATH: Final = "/webhooks/inbound"
INBOUND_LOOKUP_PATH: Final = "/inbound/{inbound_id}"
MESSAGES_BY_API_DATA_PATH: Final = "/messages"  # ?api_data=VALUE, or ?message_id=ID
# The lookups by query parameter: an id or address holding "/" cannot travel in a path API Gateway routes.
RECIPIENTS_PATH: Final = "/recipients"  # ?address=ADDRESS
# Request Content-Types API Gateway hands the function base64-encoded; every other body arrives as
# UTF-8 text, invalid bytes replaced by U+FFFD. multipart/form-data: inbound mail's attachments are raw
# bytes (the event webhook's multipart fields decode the same from base64).
BINARY_MEDIA_TYPES: Final[tuple[str, ...]] = ("multipart/form-data",)

# --- Inbound mail (docs/inbound.md) -----------------------------------------------------
# One item per received mail in the event table: partition "inbound#<inbound_id>" (no "@", so never a
# messageId's), sort key INBOUND_SORT_KEY. Its bodies, headers and attachments are S3 objects.
INBOUND_PARTITION_PREFIX: Final = "inbound#"
INBOUND_SORT_KEY: Final = "INBOUND"
INBOUND_DETAIL_TYPE: Final = "Email Received"
INBOUND_DETAIL_SCHEMA_VERSION: Final = "1.0"
# Newly stored inbound mail, whatever the published kinds: every new INBOUND item is published once.
INBOUND_STREAM_FILTER_PATTERN: Final[dict[str, Any]] = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {SORT_KEY: {"S": [INBOUND_SORT_KEY]}}},
}

# --- EventBridge fan-out ----------------------------------------------------------------
DEFAULT_EVENT_SOURCE: Final = "customers-mail-cloud"
DETAIL_SCHEMA_VERSION: Final = "1.0"
# PutEvents takes at most 10 entries per call.
PUT_EVENTS_LIMIT: Final = 10
# The stream -> publisher mapping (deployed by the stack, emulated by `make local`'s poller): records
# per invocation, and how often a batch whose records keep failing is retried before their stream
# location goes to the on-failure queue.
STREAM_BATCH_SIZE: Final = 100
STREAM_RETRY_ATTEMPTS: Final = 5

# --- Spill (docs/reliability.md) --------------------------------------------------------------
# The spill queue -> drain mapping (deployed by infra/spill.py, emulated by `make local`): messages per
# invocation, and how often a message is handed out before it moves to the drain's dead-letter queue.
SPILL_BATCH_SIZE: Final = 10
SPILL_MAX_RECEIVE_COUNT: Final = 10


@dataclass(frozen=True)
class PublishableKind:
    """Which stored events are published, and under which EventBridge detail-type."""

    event_type: str
    status: str | None  # None: every record of the event type
    detail_type: str


PUBLISHABLE_KINDS: Final = {
    "bounced": PublishableKind("bounces", None, "Email Bounced"),
    "failed": PublishableKind("deliveries", "failed", "Email Delivery Failed"),
    "blocked": PublishableKind("blocks", None, "Email Blocked"),
    "deferred": PublishableKind("deliveries", "deferred", "Email Delivery Deferred"),
    "succeeded": PublishableKind("deliveries", "succeeded", "Email Delivered"),
    "queued": PublishableKind("deliveries", "queued", "Email Queued"),
}
DEFAULT_PUBLISHED_KINDS: Final = ("bounced", "failed", "blocked")


def stream_filter_patterns(kind_names: Iterable[str]) -> list[dict[str, Any]]:
    """Event-source-mapping filters: only newly inserted events of the published kinds.

    One pattern per event type (a mapping takes at most 5), statuses OR-ed inside it, and one for
    inbound mail.
    """
    by_type: dict[str, list[PublishableKind]] = {}
    for name in kind_names:
        kind = PUBLISHABLE_KINDS[name]
        by_type.setdefault(kind.event_type, []).append(kind)
    patterns = []
    for event_type, kinds in sorted(by_type.items()):
        image: dict[str, Any] = {
            SORT_KEY: {"S": [{"prefix": EVENT_SORT_KEY_PREFIX}]},
            "event_type": {"S": [event_type]},
        }
        statuses = {kind.status for kind in kinds}
        if None not in statuses:
            image["status"] = {"S": sorted(status for status in statuses if status)}
        patterns.append({"eventName": ["INSERT"], "dynamodb": {"NewImage": image}})
    patterns.append(INBOUND_STREAM_FILTER_PATTERN)
    return patterns


# --- Suppressions (docs/suppressions.md) ----------------------------------------------------
# Each address's manual decisions and its current state share one partition, apart from the messages:
# "suppression#<normalized address>". Decisions: sort key DECISION#<decided UTC>#<decision_id>, each
# its own item, never overwritten. The current state: sort key STATE, one item per address ever
# suppressed, written by the suppression tracker only when the state changes.
SUPPRESSION_PARTITION_PREFIX: Final = "suppression#"
DECISION_SORT_KEY_PREFIX: Final = "DECISION#"
SUPPRESSION_STATE_SORT_KEY: Final = "STATE"
# A sparse index of the state items of the addresses suppressed now (the lifted ones carry no key):
# one partition, sorted by address, read a page at a time by GET /suppressions.
SUPPRESSED_INDEX: Final = "suppressed"
SUPPRESSED_INDEX_PARTITION_KEY: Final = "suppressed_list"
SUPPRESSED_INDEX_SORT_KEY: Final = "suppressed_address"
SUPPRESSED_INDEX_PARTITION_VALUE: Final = "suppressed"
# Set on a state item only by the write that turned the address suppressed or unsuppressed (to one of
# these values): its stream record is what announces the change.
STATE_CHANGE_ATTRIBUTE: Final = "state_change"
STATE_CHANGES: Final = ("suppressed", "unsuppressed")

SUPPRESSION_PATH: Final = "/recipients/{address}/suppression"
SUPPRESSIONS_PATH: Final = "/suppressions"

SUPPRESSED_DETAIL_TYPE: Final = "Recipient Suppressed"
UNSUPPRESSED_DETAIL_TYPE: Final = "Recipient Unsuppressed"
SUPPRESSION_DETAIL_SCHEMA_VERSION: Final = "1.0"


def suppression_filter_patterns() -> list[dict[str, Any]]:
    """The suppression tracker's stream filters (at most 5 per mapping): what can change an address's
    state (new hard and soft bounces, failures and blocks; new decisions; such events deleted by TTL),
    every new delivery event (successful ones clear soft bounces; all of them feed the day counters of
    the reconciliation), and the state items whose write changed the state (to announce)."""
    new_event = {"eventName": ["INSERT"]}
    event_key = {SORT_KEY: {"S": [{"prefix": EVENT_SORT_KEY_PREFIX}]}}
    return [
        {**new_event, "dynamodb": {"NewImage": {**event_key, "bounce_type": {"S": ["hard", "soft"]}}}},
        {
            **new_event,
            "dynamodb": {"NewImage": {**event_key, "event_type": {"S": ["deliveries"]}}},
        },
        {**new_event, "dynamodb": {"NewImage": {SORT_KEY: {"S": [{"prefix": DECISION_SORT_KEY_PREFIX}]}}}},
        {  # an event TTL deleted: the address may no longer be suppressed
            "eventName": ["REMOVE"],
            "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
            "dynamodb": {"OldImage": {**event_key, "bounce_type": {"S": ["hard", "soft"]}}},
        },
        {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {
                "NewImage": {
                    SORT_KEY: {"S": [SUPPRESSION_STATE_SORT_KEY]},
                    STATE_CHANGE_ATTRIBUTE: {"S": list(STATE_CHANGES)},
                }
            },
        },
    ]
