"""What Customers Mail Cloud posts: the envelope and the records of each event type.

Fields follow ../shared/cmc-reference.md. Both data format versions map onto one model
per event type (v1 `envelopeFrom`/`envelopeTo`, v2 `returnPath`/`from`/`to`/`apiData`).
Unknown extra fields are allowed and kept, never dropped.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

DeliveryStatus = Literal["queued", "succeeded", "failed", "deferred"]

# `created` as CMC writes it: local time in the console's time zone, no offset.
CREATED_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


class WebhookEnvelope(BaseModel):
    """The top level of an event webhook, whichever encoding carried it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_type: str = Field(min_length=1)
    server_composition: str = ""
    api_key: str | None = None
    # {"deliveries": [...]} or {"bounces": [...]}; any other key is kept as it came.
    event: dict[str, Any]

    @field_validator("event")
    @classmethod
    def _not_empty(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("`event` is empty")
        return value


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    created: str = Field(pattern=CREATED_PATTERN)
    message_id: str = Field(alias="messageId", min_length=3)
    recipient: str = Field(validation_alias=AliasChoices("to", "envelopeTo"), min_length=1)
    # v2 `from` is the header From; v1 has only the envelope sender.
    sender: str = Field("", validation_alias=AliasChoices("from", "envelopeFrom"))
    # v2 `returnPath`; in v1 the envelope sender is the return path.
    return_path: str = Field("", validation_alias=AliasChoices("returnPath", "envelopeFrom"))
    subject: str = ""
    reason: str = ""
    api_data: str = Field("", alias="apiData")


class DeliveryRecord(_Record):
    """One record of `event_type: deliveries`."""

    status: DeliveryStatus
    sender_ip: str = Field("", alias="senderIp")
    source_ip: str = Field("", alias="sourceIp")


class BounceRecord(_Record):
    """One record of `event_type: bounces`; `status` is CMC's numeric bounce code."""

    status: str = Field(pattern=r"^\d{1,3}$")


RECORD_MODELS: dict[str, type[DeliveryRecord] | type[BounceRecord]] = {
    "deliveries": DeliveryRecord,
    "bounces": BounceRecord,
}
