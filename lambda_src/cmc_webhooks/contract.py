"""The names shared by the CDK stack, the Lambda runtime, the local emulator and the tests.

Change a name here and every side follows; the infrastructure tests check that the
synthesized table matches these names, and the local emulator creates its table from them.
"""

from __future__ import annotations

from typing import Final

# --- DynamoDB event store -------------------------------------------------------------
# Partition key: the messageId without its angle brackets, so another system can run a
# plain `Query` with `message_id = :id` (see docs/data-model.md).
PARTITION_KEY: Final = "message_id"
# Sort key: "EVENT#<occurred_at in UTC>#<event_id>" keeps a message's events in time order.
SORT_KEY: Final = "sk"
# Epoch seconds after which DynamoDB deletes the item (retention from settings).
TTL_ATTRIBUTE: Final = "expires_at"

# Events of one recipient, newest first: partition on the normalized address and reuse
# the table's time-ordered sort key.
RECIPIENT_INDEX: Final = "by_recipient"
RECIPIENT_INDEX_PARTITION_KEY: Final = "recipient_key"
RECIPIENT_INDEX_SORT_KEY: Final = SORT_KEY

EVENT_SORT_KEY_PREFIX: Final = "EVENT#"
QUARANTINE_SORT_KEY_PREFIX: Final = "QUARANTINE#"
# Quarantined records live in one partition per UTC day. A real messageId always holds an
# "@", these keys never do, so the two cannot collide.
QUARANTINE_PARTITION_PREFIX: Final = "quarantine#"

# DynamoDB BatchWriteItem takes at most 25 put requests per call.
BATCH_WRITE_LIMIT: Final = 25

# --- Environment variables of the ingest/lookup function ------------------------------
ENV_TABLE_NAME: Final = "CMC_TABLE_NAME"
ENV_TIME_ZONE: Final = "CMC_TIME_ZONE"
ENV_RETENTION_DAYS: Final = "CMC_RETENTION_DAYS"
ENV_MAX_RECORDS: Final = "CMC_MAX_RECORDS_PER_REQUEST"

DEFAULT_TIME_ZONE: Final = "Asia/Tokyo"
DEFAULT_RETENTION_DAYS: Final = 400
DEFAULT_MAX_RECORDS: Final = 5000

# --- Powertools ------------------------------------------------------------------------
SERVICE_NAME: Final = "cmc-webhooks"
METRICS_NAMESPACE: Final = "CmcWebhooks"

# --- HTTP API --------------------------------------------------------------------------
WEBHOOK_PATH: Final = "/webhooks/events"
MESSAGE_LOOKUP_PATH: Final = "/messages/{message_id}"
