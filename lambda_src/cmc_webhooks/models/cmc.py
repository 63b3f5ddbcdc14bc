"""What Customers Mail Cloud posts: the envelope and the records of each event type.

Fields follow ../shared/cmc-reference.md. A record is validated as the dict CMC sent, under CMC's
own field names, both data format versions in one type per event type (v1 `envelopeFrom`/
`envelopeTo`, v2 `returnPath`/`from`/`to`/`apiData`); logic/ingest.py maps them to the stored item.
Unknown extra fields are allowed and kept, never dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, with_config
from typing_extensions import TypedDict  # pydantic takes only this one on Python < 3.12

DeliveryStatus = Literal["queued", "succeeded", "failed", "deferred"]

# `created` as CMC writes it: local time in the console's time zone, no offset.
CREATED_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
Created = Annotated[str, StringConstraints(pattern=CREATED_PATTERN)]
BounceCode = Annotated[str, StringConstraints(pattern=r"^\d{1,3}$")]
# Every text field is bounded, generously for what CMC sends (a header line is at most 998 characters,
# RFC 5322), so that an event's item always fits DynamoDB's 400 KB: each field is stored at most twice,
# at most 4 bytes a character. A record over a bound is quarantined, with the field named.
MessageId = Annotated[str, StringConstraints(min_length=3, max_length=998)]
Address = Annotated[str, StringConstraints(min_length=1, max_length=998)]
HeaderText = Annotated[str, StringConstraints(max_length=998)]
Subject = Annotated[str, StringConstraints(max_length=10_000)]
Reason = Annotated[str, StringConstraints(max_length=20_000)]
IpAddress = Annotated[str, StringConstraints(max_length=64)]
# CMC's names (event types, server compositions) are short words; anything longer is not CMC.
MAX_NAME_CHARS = 128


class WebhookEnvelope(BaseModel):
    """The top level of an event webhook, whichever encoding carried it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # Bounded: every stored item carries the event type and the composition.
    event_type: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    server_composition: str = Field("", max_length=MAX_NAME_CHARS)
    api_key: str | None = Field(None, max_length=1024)
    # {"deliveries": [...]} or {"bounces": [...]}; any other key is kept as it came.
    event: dict[str, Any]

    @field_validator("event")
    @classmethod
    def _event_types(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("`event` is empty")
        if too_long := [name for name in value if not 0 < len(name) <= MAX_NAME_CHARS]:
            raise ValueError(
                f"an event type must be 1 to {MAX_NAME_CHARS} characters, got {len(too_long[0])}"
            )
        return value


# One record of `event_type: deliveries`. (Functional syntax: `from` is a Python keyword.) A record
# needs `to` or (v1) `envelopeTo`: a TypedDict takes no validator, so logic/ingest.py checks that.
DeliveryRecord = TypedDict(
    "DeliveryRecord",
    {
        "apiData": NotRequired[HeaderText],
        "created": Created,
        "envelopeFrom": NotRequired[HeaderText],  # v1: the envelope sender, also the return path
        "envelopeTo": NotRequired[Address],  # v1 `to`
        "from": NotRequired[HeaderText],  # v2: the header From
        "messageId": MessageId,
        "reason": NotRequired[Reason],
        "returnPath": NotRequired[HeaderText],
        "senderIp": NotRequired[IpAddress],
        "sourceIp": NotRequired[IpAddress],
        "status": DeliveryStatus,
        "subject": NotRequired[Subject],
        "to": NotRequired[Address],
    },
)
with_config(ConfigDict(extra="allow"))(DeliveryRecord)

# One record of `event_type: bounces`; `status` is CMC's numeric bounce code.
BounceRecord = TypedDict(
    "BounceRecord",
    {
        "apiData": NotRequired[HeaderText],
        "created": Created,
        "envelopeFrom": NotRequired[HeaderText],
        "envelopeTo": NotRequired[Address],
        "from": NotRequired[HeaderText],
        "messageId": MessageId,
        "reason": NotRequired[Reason],
        "returnPath": NotRequired[HeaderText],
        "status": BounceCode,
        "subject": NotRequired[Subject],
        "to": NotRequired[Address],
    },
)
with_config(ConfigDict(extra="allow"))(BounceRecord)


RECORD_TYPES: dict[str, Any] = {"deliveries": DeliveryRecord, "bounces": BounceRecord}
# The fields each record type knows; any other field of a record is kept as an extra.
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "deliveries": frozenset(DeliveryRecord.__annotations__),
    "bounces": frozenset(BounceRecord.__annotations__),
}
