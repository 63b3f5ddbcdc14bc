"""The webhook use case: from an HTTP request's parts to stored events. No AWS in here.

The store and the credential source come in as interfaces; the handler builds the real ones once, tests
pass fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cmc_webhooks.errors import PayloadTooLarge, WebhookError
from cmc_webhooks.logic.auth import CredentialSet, authenticate
from cmc_webhooks.logic.decode import webhook_document
from cmc_webhooks.logic.ingest import Batch, IngestOptions, build_batch, parse_envelope
from cmc_webhooks.models.store import StoredItem


class EventWriter(Protocol):
    def write(self, items: Sequence[StoredItem]) -> None:
        """Durably store all items, or raise StorageUnavailable. Items with the same key are the same."""


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


def receive_webhook(
    request: WebhookRequest,
    *,
    store: EventWriter,
    credentials: CredentialSource,
    options: IngestOptions,
    max_body_bytes: int,
    received_at: datetime,
) -> Batch:
    """Authenticate, decode, validate and store one webhook; return once every item is durable."""
    if len(request.body or "") > max_body_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_body_bytes} bytes")
    accepted = credentials.credentials()
    try:
        document = webhook_document(
            request.body, is_base64=request.is_base64, content_type=request.content_type
        )
    except WebhookError:
        # Only an authenticated sender learns what is wrong with its body.
        authenticate(accepted, authorization=request.authorization, api_key=None)
        raise
    api_key = document.get("api_key")
    authenticate(
        accepted, authorization=request.authorization, api_key=api_key if isinstance(api_key, str) else None
    )
    envelope = parse_envelope(document)
    batch = build_batch(envelope, options=options, received_at=received_at)
    store.write(batch.items)
    return batch
