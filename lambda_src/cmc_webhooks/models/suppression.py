"""Suppressions as the API takes and answers them, and the detail of their published events."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cmc_webhooks import contract

REASON_MAX_CHARS = 200
NOTE_MAX_CHARS = 2000


class SuppressRequest(BaseModel):
    """PUT /recipients/{address}/suppression."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS, description="why, e.g. complaint_by_phone")
    note: str | None = Field(None, max_length=NOTE_MAX_CHARS)


class LiftRequest(BaseModel):
    """DELETE /recipients/{address}/suppression (the body is optional)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str | None = Field(None, max_length=NOTE_MAX_CHARS)


class DecisionView(BaseModel):
    decision_id: str
    action: Literal["suppress", "lift"]
    decided_at: str  # ISO-8601 UTC
    actor: str  # the caller's IAM principal (ARN)
    reason: str | None = None
    note: str | None = None


class SuppressionState(BaseModel):
    """An address's current state, as the view computes it from its events and decisions."""

    address: str
    suppressed: bool
    reason: (
        str | None
    )  # hard_bounce:<category>, soft_bounces:..., blocked, suppressed, unsubscribed, manual:<why>
    since: str | None
    cause_event_id: str | None = None
    decision_id: str | None = None
    actor: str | None = None
    cmc_block_list: bool = False  # CMC refuses the address itself: lifting here does not make CMC send
    lifted_at: str | None = None


class DecisionAnswer(BaseModel):
    """What a suppress or a lift answers: the decision stored (None: nothing to lift) and the state."""

    changed: bool
    message: str
    decision: DecisionView | None
    state: SuppressionState


class SuppressedAddress(BaseModel):
    address: str
    reason: str
    since: str
    cause_event_id: str | None = None
    decision_id: str | None = None
    actor: str | None = None
    cmc_block_list: bool = False


class SuppressionPage(BaseModel):
    suppressions: list[SuppressedAddress]  # by address
    next_cursor: str | None  # pass as ?cursor= for the next page; None on the last


class RecipientSuppressionDetail(BaseModel):
    """The detail of "Recipient Suppressed" and "Recipient Unsuppressed" (docs/events.md)."""

    model_config = ConfigDict(extra="allow")  # subscribers keep working when fields are added

    schema_version: Literal["1.0"] = contract.SUPPRESSION_DETAIL_SCHEMA_VERSION
    change_id: str = Field(description="stable id of this state change: <address>#<its number>")
    address: str
    suppressed: bool
    reason: str = Field(description="why it is suppressed; unsuppressed: lifted or delivered")
    since: str = Field(description="when the state changed (the event's or the decision's time)")
    cause_event_id: str | None = Field(None, description="the stored event that changed the state")
    decision_id: str | None = Field(None, description="or the manual decision that did")
    actor: str | None = Field(None, description="manual decisions: the caller's IAM principal")
    cmc_block_list: bool = False
