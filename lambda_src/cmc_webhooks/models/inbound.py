"""Inbound mail: the item kept per mail, the `Email Received` event detail, and the lookup's answer.

The item holds metadata and pointers only; the bodies, the headers and the attachments are S3 objects
(docs/inbound.md). The detail is a versioned contract (docs/events.md): add fields freely, bump
`schema_version`'s major number only when a field changes meaning or disappears.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Required, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from cmc_webhooks import contract

MailKind = Literal["reply", "auto_reply", "delivery_report", "mail"]


class InboundItem(TypedDict, total=False):
    message_id: Required[str]  # partition key: inbound#<inbound_id>
    sk: Required[str]  # contract.INBOUND_SORT_KEY
    inbound_id: Required[str]
    received_at: Required[str]  # ISO-8601 UTC
    expires_at: Required[int]  # TTL, epoch seconds
    mail_kind: Required[str]  # reply | auto_reply | delivery_report | mail
    bucket: Required[str]
    headers_key: Required[str]
    attachments: Required[str]  # JSON list of {filename, content_type, size, sha256, key}
    server_composition: str
    filter: str
    envelope_from: str
    envelope_to: str
    mail_from: str
    mail_to: str
    subject: str
    date: str  # the Date header as sent
    header_message_id: str  # the Message-ID header without <>
    in_reply_to: str  # without <>
    references: str  # JSON list of ids without <>
    related_message_id: str  # a message whose events this receiver holds
    text_key: str
    text_size: int
    html_key: str
    html_size: int


def inbound_metadata(item: InboundItem) -> dict[str, Any]:
    """The fields `Email Received` and GET /inbound/{inbound_id} both take from a stored item, by field
    name; each adds its own pointers to the objects."""
    return {
        "inbound_id": item["inbound_id"],
        "message_id": item.get("header_message_id"),
        "filter": item.get("filter"),
        "server_composition": item.get("server_composition"),
        "envelope_from": item.get("envelope_from"),
        "envelope_to": item.get("envelope_to"),
        "from_": item.get("mail_from"),
        "to": item.get("mail_to"),
        "subject": item.get("subject"),
        "date": item.get("date"),
        "received_at": item["received_at"],
        "in_reply_to": item.get("in_reply_to"),
        "references": json.loads(item.get("references", "[]")),
        "kind": item["mail_kind"],
        "related_message_id": item.get("related_message_id"),
    }


@dataclass(frozen=True)
class MailObject:
    """One object of a mail to store: a body, the headers or an attachment."""

    key: str
    data: bytes
    content_type: str


class ObjectPointer(BaseModel):
    bucket: str
    key: str


class AttachmentPointer(ObjectPointer):
    filename: str = Field(description="as the sender named it (decoded); never part of the key")
    content_type: str
    size: int
    sha256: str = Field(description="hex SHA-256 of the stored bytes")


class BodyPointers(BaseModel):
    text: ObjectPointer | None = None
    html: ObjectPointer | None = None


class EmailReceivedDetail(BaseModel):
    # Subscribers keep working when fields are added.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_version: Literal["1.0"] = contract.INBOUND_DETAIL_SCHEMA_VERSION
    inbound_id: str = Field(description="stable: the same mail posted again has the same id")
    message_id: str | None = Field(description="the mail's Message-ID header without <>")
    filter: str | None = Field(description="the CMC receive rule that matched")
    server_composition: str | None = None
    envelope_from: str | None
    envelope_to: str | None
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str | None
    subject: str | None
    date: str | None = Field(None, description="the Date header as sent")
    received_at: str = Field(description="when this receiver accepted the mail, ISO-8601 UTC")
    in_reply_to: str | None
    references: list[str] = Field(default_factory=list)
    kind: MailKind
    related_message_id: str | None = Field(
        None, description="the message (In-Reply-To or References) whose events this receiver holds"
    )
    headers: ObjectPointer = Field(description="the headers as a JSON list of {name, value}")
    body: BodyPointers
    attachments: list[AttachmentPointer]


class PresignedObject(BaseModel):
    url: str
    size: int | None = None


class PresignedAttachment(PresignedObject):
    filename: str
    content_type: str
    sha256: str


class InboundView(BaseModel):
    """GET /inbound/{inbound_id}: the stored metadata and short-lived URLs of the objects."""

    model_config = ConfigDict(populate_by_name=True)

    inbound_id: str
    message_id: str | None
    filter: str | None
    server_composition: str | None
    envelope_from: str | None
    envelope_to: str | None
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str | None
    subject: str | None
    date: str | None
    received_at: str
    in_reply_to: str | None
    references: list[str]
    kind: MailKind
    related_message_id: str | None
    urls_expire_in_seconds: int
    headers: PresignedObject
    text: PresignedObject | None
    html: PresignedObject | None
    attachments: list[PresignedAttachment]
