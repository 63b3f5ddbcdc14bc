"""What the lookup API answers (and what the CLI prints)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cmc_webhooks.models.suppression import DecisionView, SuppressionState


class EventView(BaseModel):
    event_id: str
    message_id: str  # without <>: GET /messages/{message_id} shows the whole message
    event_type: str
    status: str | None
    occurred_at: str | None  # ISO-8601 with offset; None when CMC sent no readable time
    received_at: str
    recipient: str | None
    sender: str | None = None
    return_path: str | None = None
    subject: str | None = None
    reason: str | None = None
    api_data: str | None = None
    server_composition: str
    bounce_code: str | None = None
    data_version: int | None = None
    classification: dict[str, str | None] | None = None  # bounce_type, bounce_category, smtp_code, ...
    extra_fields: dict[str, Any] | None = None  # fields CMC sent that we do not model
    raw: dict[str, Any] | None = None  # the whole record, for event types we do not model


class RecipientStatus(BaseModel):
    address: str
    status: str
    updated_at: str


class MessageHistory(BaseModel):
    """One page of a message: its events by recipient, then oldest first; each recipient whose events
    begin on this page, with the status all its events decide."""

    message_id: str
    recipients: list[RecipientStatus]
    events: list[EventView]
    next_cursor: str | None = None  # the next page's `cursor`; None on the last page


class RecipientHistory(BaseModel):
    address: str
    suppressed: bool
    suppression_reason: str | None  # e.g. hard_bounce:user_unknown, soft_bounces:3_in_7_days, blocked
    suppressed_since: str | None  # occurred_at of the event that decided it
    state: SuppressionState | None = (
        None  # the same, with what caused it: an event, a decision and who made it
    )
    decisions: list[DecisionView] = []  # manual suppress and lift decisions, newest first
    events: list[EventView]  # newest first, one page of them
    next_cursor: str | None = None


class MessageStatuses(BaseModel):
    message_id: str
    recipients: list[RecipientStatus]


class ApiDataPage(BaseModel):
    """One page of the messages whose events carry an apiData."""

    api_data: str
    messages: list[MessageStatuses]
    next_cursor: str | None = None


class ErrorBody(BaseModel):
    error: str
    message: str


class IngestSummary(BaseModel):
    received: int
    written: int
    duplicates: int
    quarantined: int
    unrecognized: int
    # Present (true) when the table refused and the webhook waits in the spill queue: stored later.
    queued: bool | None = None
