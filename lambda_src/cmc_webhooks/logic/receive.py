"""The webhook use case: from an HTTP request's parts to stored events. No AWS in here.

The store, the spill and the credential source come in as interfaces; the handler builds the real ones
once, tests pass fakes. When the store still refuses after its retries, the authenticated webhook is
spilled as received (docs/reliability.md) and ingested later by `ingest_spilled`, through the same steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cmc_webhooks.errors import PayloadTooLarge, StorageUnavailable, WebhookError
from cmc_webhooks.logic.auth import CredentialSet, authenticate
from cmc_webhooks.logic.decode import webhook_document
from cmc_webhooks.logic.ingest import Batch, IngestOptions, build_batch, parse_envelope
from cmc_webhooks.models.store import StoredItem


class EventWriter(Protocol):
    def write(self, items: Sequence[StoredItem]) -> None:
        """Durably store all items, or raise StorageUnavailable. Items with the same key are the same."""


class WebhookSpill(Protocol):
    def spill(self, webhook: SpilledWebhook) -> None:
        """Durably keep the webhook for a later `ingest_spilled`, or raise StorageUnavailable."""


class CredentialSource(Protocol):
    def credentials(self) -> CredentialSet:
        """The accepted credentials, or raise CredentialsUnavailable."""


@dataclass(frozen=True)
class WebhookRequest:
    """What the use case needs of an HTTP request."""

    body: str | None
    is_base64: bool
    content_type: str | None
    authorization: str | None
    content_encoding: str | None = None


@dataclass(frozen=True)
class SpilledWebhook:
    """An authenticated webhook as received, kept while the store refused it: everything that decides
    its items (the body as the gateway handed it over, and the time it was received), no credentials."""

    body: str | None
    is_base64: bool
    content_type: str | None
    content_encoding: str | None
    received_at: datetime


@dataclass(frozen=True)
class Received:
    """What became of a webhook: its batch, stored (`spilled` False) or spilled for later."""

    batch: Batch
    spilled: bool = False

    def summary(self) -> dict[str, int | bool]:
        """The webhook's answer: the batch's counts, and `"queued": true` when it was spilled (then the
        drain writes what `written` counts)."""
        summary: dict[str, int | bool] = {**self.batch.summary()}
        if self.spilled:
            summary["queued"] = True
        return summary


def receive_webhook(
    request: WebhookRequest,
    *,
    store: EventWriter,
    credentials: CredentialSource,
    options: IngestOptions,
    max_body_bytes: int,
    received_at: datetime,
    spill: WebhookSpill | None = None,
) -> Received:
    """Authenticate, decode, validate and store one webhook; return once every item is durable, in the
    store or (the store refusing) in the spill. StorageUnavailable when both refuse (or there is no spill)."""
    if len(request.body or "") > max_body_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_body_bytes} bytes")
    accepted = credentials.credentials()
    try:
        document = webhook_document(
            request.body,
            is_base64=request.is_base64,
            content_type=request.content_type,
            content_encoding=request.content_encoding,
        )
    except WebhookError:
        # Only an authenticated sender learns what is wrong with its body.
        authenticate(accepted, authorization=request.authorization, api_key=None)
        raise
    api_key = document.get("api_key")
    authenticate(
        accepted, authorization=request.authorization, api_key=api_key if isinstance(api_key, str) else None
    )
    batch = build_batch(parse_envelope(document), options=options, received_at=received_at)
    try:
        store.write(batch.items)
    except StorageUnavailable:
        if spill is None:
            raise
        spill.spill(
            SpilledWebhook(
                body=request.body,
                is_base64=request.is_base64,
                content_type=request.content_type,
                content_encoding=request.content_encoding,
                received_at=received_at,
            )
        )
        return Received(batch, spilled=True)
    return Received(batch)


def ingest_spilled(webhook: SpilledWebhook, *, store: EventWriter, options: IngestOptions) -> Batch:
    """Store a spilled webhook's items: the same items its first attempt built (same keys, same
    `received_at`), so items that attempt did write are written again unchanged. Not authenticated again:
    only authenticated webhooks are spilled. StorageUnavailable when the store still refuses."""
    document = webhook_document(
        webhook.body,
        is_base64=webhook.is_base64,
        content_type=webhook.content_type,
        content_encoding=webhook.content_encoding,
    )
    batch = build_batch(parse_envelope(document), options=options, received_at=webhook.received_at)
    store.write(batch.items)
    return batch
