"""Inbound mail: from CMC's inbound webhook to stored objects and one item, and back for the lookup.

No AWS in here: the item store, the object store and the event index come in as interfaces.
Order of work: authenticate, parse, skip a mail already stored, write every object, then the item.
The item is the commit: it exists only once its objects are durable, and its INSERT on the table's
stream is what publishes `Email Received` (logic/inbound_publish.py), exactly once per mail.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from email.utils import getaddresses
from typing import Protocol

from cmc_webhooks import contract
from cmc_webhooks.errors import MessageNotFound, PayloadTooLarge, WebhookError
from cmc_webhooks.logic.auth import authenticate
from cmc_webhooks.logic.identity import canonical_json, content_id, normalize_message_id
from cmc_webhooks.logic.inbound_parse import InboundPost, parse_inbound
from cmc_webhooks.logic.receive import CredentialSource, WebhookRequest
from cmc_webhooks.models.inbound import (
    InboundItem,
    InboundView,
    MailKind,
    MailObject,
    PresignedAttachment,
    PresignedObject,
    inbound_metadata,
)

# What the item keeps of long header values (the headers object keeps them whole).
TEXT_MAX_CHARS = 2000
# References ids kept on the item, the newest ones; and how many of them are looked up.
REFERENCES_KEPT = 20
RELATED_LOOKUPS = 5
URL_EXPIRES_SECONDS = 300


class InboundStore(Protocol):
    def get_inbound(self, inbound_id: str) -> InboundItem | None:
        """The stored item of one mail, or None."""

    def put_inbound(self, item: InboundItem) -> bool:
        """Store a new item; False if one with its key exists already (nothing written)."""

    def has_events(self, message_id: str) -> bool:
        """Whether the event table holds any event of this message (normalized id)."""


class ObjectStore(Protocol):
    bucket: str

    def put_objects(self, objects: Sequence[MailObject]) -> None:
        """Durably store every object, or raise StorageUnavailable."""

    def presign(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A URL that GETs the object for `expires_in` seconds (as a download named `filename`)."""


@dataclass(frozen=True)
class InboundResult:
    inbound_id: str
    duplicate: bool
    attachments: int
    kind: str

    def summary(self) -> dict[str, object]:
        return {
            "inbound_id": self.inbound_id,
            "stored": not self.duplicate,
            "duplicate": self.duplicate,
            "attachments": self.attachments,
        }


def receive_inbound(
    request: WebhookRequest,
    *,
    store: InboundStore,
    objects: ObjectStore,
    credentials: CredentialSource,
    max_body_bytes: int,
    retention: timedelta,
    received_at: datetime,
) -> InboundResult:
    """Authenticate, parse and store one inbound mail; return once it is durable (or was already)."""
    if len(request.body or "") > max_body_bytes:
        raise PayloadTooLarge(
            f"the body is larger than {max_body_bytes} bytes (base64 included): set CMC's receiving size "
            "limit below it (docs/inbound.md)"
        )
    accepted = credentials.credentials()
    try:
        post = parse_inbound(request.body, is_base64=request.is_base64, content_type=request.content_type)
    except WebhookError:
        authenticate(accepted, authorization=request.authorization, api_key=None)  # only a sender learns why
        raise
    authenticate(accepted, authorization=request.authorization, api_key=post.fields.get("api_key"))
    inbound_id = inbound_id_of(post)
    existing = store.get_inbound(inbound_id)
    if existing is not None:
        return InboundResult(inbound_id, True, len(post.attachments), existing["mail_kind"])
    item, mail_objects = build_inbound(
        post, inbound_id=inbound_id, bucket=objects.bucket, received_at=received_at, retention=retention
    )
    if related := related_message(store, item):
        item["related_message_id"] = related
    objects.put_objects(mail_objects)
    stored = store.put_inbound(item)
    return InboundResult(inbound_id, not stored, len(post.attachments), item["mail_kind"])


def inbound_id_of(post: InboundPost) -> str:
    """The same mail, the same id: its Message-ID and envelope recipient (a mail to two of the customer's
    addresses is two deliveries), or without a Message-ID a hash of everything posted."""
    envelope_to = post.fields.get("envelope-to", "")
    if message_id := normalize_message_id(post.header("Message-ID") or ""):
        return content_id("message-id", message_id, envelope_to)
    attachments = [[a.filename, a.content_type, hashlib.sha256(a.data).hexdigest()] for a in post.attachments]
    fields = {name: value for name, value in post.fields.items() if name != "api_key"}
    return content_id("content", canonical_json([fields, post.headers, attachments]))


def object_key(inbound_id: str, name: str) -> str:
    """Keys are built from the id and a fixed name, never from a sender's file name."""
    return f"inbound/{inbound_id}/{name}"


def build_inbound(
    post: InboundPost, *, inbound_id: str, bucket: str, received_at: datetime, retention: timedelta
) -> tuple[InboundItem, list[MailObject]]:
    headers_json = json.dumps([{"name": n, "value": v} for n, v in post.headers], ensure_ascii=False)
    mail_objects = [
        MailObject(object_key(inbound_id, "headers.json"), headers_json.encode(), "application/json")
    ]
    item: InboundItem = {
        "message_id": contract.INBOUND_PARTITION_PREFIX + inbound_id,
        "sk": contract.INBOUND_SORT_KEY,
        "inbound_id": inbound_id,
        "received_at": received_at.isoformat(),
        "expires_at": int((received_at + retention).timestamp()),
        "mail_kind": classify_mail(post),
        "bucket": bucket,
        "headers_key": mail_objects[0].key,
        "attachments": "[]",
    }
    for field, name in (
        ("server_composition", "server_composition"),
        ("filter", "filter"),
        ("envelope_from", "envelope-from"),
        ("envelope_to", "envelope-to"),
        ("subject", "subject"),
    ):
        if value := post.fields.get(name):
            item[field] = value[:TEXT_MAX_CHARS]  # type: ignore[literal-required]
    if "subject" not in item and (subject := header_text(post.header("Subject"))):
        item["subject"] = subject[:TEXT_MAX_CHARS]
    for field, name in (("mail_from", "From"), ("mail_to", "To"), ("date", "Date")):
        if value := header_text(post.header(name)):
            item[field] = value[:TEXT_MAX_CHARS]  # type: ignore[literal-required]
    if message_id := normalize_message_id(post.header("Message-ID") or ""):
        item["header_message_id"] = message_id[:TEXT_MAX_CHARS]
    if in_reply_to := message_ids(post.header("In-Reply-To")):
        item["in_reply_to"] = in_reply_to[0][:TEXT_MAX_CHARS]
    if references := message_ids(post.header("References")):
        item["references"] = json.dumps(references[-REFERENCES_KEPT:], ensure_ascii=False)
    for name, extension, media_type in (("text", "txt", "text/plain"), ("html", "html", "text/html")):
        if body := post.fields.get(name):
            data = body.encode("utf-8", "surrogatepass")
            key = object_key(inbound_id, f"body.{extension}")
            mail_objects.append(MailObject(key, data, f"{media_type}; charset=utf-8"))
            item[f"{name}_key"] = key  # type: ignore[literal-required]
            item[f"{name}_size"] = len(data)  # type: ignore[literal-required]
    attachments = []
    for index, attachment in enumerate(post.attachments, start=1):
        key = object_key(inbound_id, f"attachments/{index}")
        content_type = attachment.content_type or "application/octet-stream"
        mail_objects.append(MailObject(key, attachment.data, content_type))
        attachments.append(
            {
                "filename": attachment.filename,
                "content_type": content_type,
                "size": len(attachment.data),
                "sha256": hashlib.sha256(attachment.data).hexdigest(),
                "key": key,
            }
        )
    item["attachments"] = json.dumps(attachments, ensure_ascii=False)
    return item, mail_objects


def header_text(value: str | None) -> str:
    """A header value with its MIME encoded words decoded (`=?ISO-2022-JP?B?...?=`)."""
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value))).strip()
    except (ValueError, LookupError, UnicodeDecodeError):
        return value.strip()


MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(value: str | None) -> list[str]:
    """The ids of an In-Reply-To or References header, without <>, in order."""
    if not value:
        return []
    found = MESSAGE_ID.findall(value)
    return found or ([value.strip()] if "@" in value and " " not in value.strip() else [])


# --- Classification ------------------------------------------------------------------------------
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*[\[(\u3010\uff08]?\s*(auto(matic)?[ -]?(reply|response)|autoreply|out of (the )?office|vacation|"
    r"away from|abwesenheit|r[ée]ponse automatique|自動(応答|返信|回答|送信)|不在|休暇)",
    re.IGNORECASE,
)
DELIVERY_REPORT_SUBJECT = re.compile(
    r"(undeliver(ed|able)|delivery (status notification|failure|has failed)|mail delivery failed|"
    r"returned mail|failure notice|delivery report|配信(不能|エラー|失敗)|送信エラー|宛先不明)",
    re.IGNORECASE,
)
REPLY_SUBJECT = re.compile(r"^\s*(re|aw|sv|回答|返信)\s*[:\uff1a]", re.IGNORECASE)
MAILER_DAEMON = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Vacation", "X-Autogenerated")


def classify_mail(post: InboundPost) -> MailKind:
    """delivery_report (multipart/report or a DSN from a mailer daemon), auto_reply, reply or mail."""
    subject = post.fields.get("subject") or header_text(post.header("Subject"))
    content_type = (post.header("Content-Type") or "").lower()
    sender = [address for _, address in getaddresses([header_text(post.header("From"))])]
    envelope_from = post.fields.get("envelope-from", "").strip().strip("<>")
    from_daemon = any(MAILER_DAEMON.match(address) for address in sender) or MAILER_DAEMON.match(
        envelope_from
    )
    if (
        content_type.startswith("multipart/report")
        or any(
            a.content_type in ("message/delivery-status", "message/global-delivery-status")
            for a in post.attachments
        )
        or ((from_daemon or not envelope_from) and DELIVERY_REPORT_SUBJECT.search(subject))
    ):
        return "delivery_report"
    auto_submitted = (post.header("Auto-Submitted") or "no").strip().lower()
    precedence = (post.header("Precedence") or "").strip().lower()
    if (
        auto_submitted != "no"
        or any(post.header(name) is not None for name in AUTO_REPLY_HEADERS)
        or precedence == "auto_reply"
        or AUTO_REPLY_SUBJECT.search(subject)
    ):
        return "auto_reply"
    if post.header("In-Reply-To") or post.header("References") or REPLY_SUBJECT.search(subject):
        return "reply"
    return "mail"


def related_message(store: InboundStore, item: InboundItem) -> str | None:
    """The first of In-Reply-To, then References newest first, whose events the table holds: one query
    for a reply to our mail, at most RELATED_LOOKUPS."""
    candidates = [item["in_reply_to"]] if "in_reply_to" in item else []
    candidates += reversed(json.loads(item.get("references", "[]")))
    seen: list[str] = []
    for candidate in candidates:
        if candidate not in seen and len(candidate.encode()) <= contract.PARTITION_KEY_MAX_BYTES:
            seen.append(candidate)
    for candidate in seen[:RELATED_LOOKUPS]:
        if store.has_events(candidate):
            return candidate
    return None


# --- Lookup ---------------------------------------------------------------------------------------
INBOUND_ID = re.compile(r"^[0-9a-f]{32}$")


def lookup_inbound(store: InboundStore, objects: ObjectStore, inbound_id: str) -> InboundView:
    """The stored metadata and presigned URLs of one mail's objects."""
    if not INBOUND_ID.match(inbound_id):
        raise MessageNotFound("no inbound mail with that id: an inbound_id is 32 hexadecimal digits")
    item = store.get_inbound(inbound_id)
    if item is None:
        raise MessageNotFound(f"no inbound mail {inbound_id}")

    def url(key: str, filename: str | None = None) -> str:
        return objects.presign(key, expires_in=URL_EXPIRES_SECONDS, filename=filename)

    def body(name: str) -> PresignedObject | None:
        # Downloaded, never rendered: a sender's HTML does not run in a browser from the bucket's URL.
        key = item.get(f"{name}_key")
        if not key:
            return None
        return PresignedObject(url=url(str(key), str(key).rpartition("/")[2]), size=item.get(f"{name}_size"))

    return InboundView(
        **inbound_metadata(item),
        urls_expire_in_seconds=URL_EXPIRES_SECONDS,
        headers=PresignedObject(url=url(item["headers_key"])),
        text=body("text"),
        html=body("html"),
        attachments=[
            PresignedAttachment(
                url=url(attachment["key"], attachment["filename"]),
                size=attachment["size"],
                filename=attachment["filename"],
                content_type=attachment["content_type"],
                sha256=attachment["sha256"],
            )
            for attachment in json.loads(item["attachments"])
        ],
    )
