"""The EventBridge event detail this receiver publishes: a versioned, documented contract.

Subscribers can parse it with Powertools Parser (see docs/events.md). Add fields freely;
bump `schema_version`'s major number only when a field changes meaning or disappears.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cmc_webhooks import contract


class EmailEventDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # subscribers keep working when fields are added

    schema_version: Literal["1.0"] = contract.DETAIL_SCHEMA_VERSION
    event_id: str = Field(description="stable: the same CMC record always has the same id")
    event_type: str = Field(description="CMC's event type: bounces, deliveries, blocks")
    message_id: str = Field(description="messageId without <>, the event table's partition key")
    message_id_raw: str = Field(description="messageId as CMC sent it")
    recipient: str | None
    sender: str | None = None
    return_path: str | None = None
    subject: str | None = None
    api_data: str | None = Field(None, description="the sent mail's X-Api-Data header")
    status: str | None = Field(description="bounced, failed, deferred, succeeded, queued; as sent for blocks")
    reason: str | None = None
    bounce_code: str | None = Field(None, description="CMC's bounce code (1-11, 99), bounces only")
    occurred_at: str | None = Field(description="ISO-8601 with offset")
    received_at: str = Field(description="when this receiver accepted the webhook, ISO-8601 UTC")
    server_composition: str
    classification: dict[str, Any] | None = Field(
        None, description="bounce classification (bounce_type, bounce_category, smtp_code, ...) when known"
    )
    raw: dict[str, Any] | None = Field(None, description="the whole CMC record, for event types not modelled")
