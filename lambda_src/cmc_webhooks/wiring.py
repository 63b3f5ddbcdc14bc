"""Where the API function's dependencies are built: once per process, from the validated settings.

The stream publisher builds its one dependency in its own handler module, so that neither function
imports the other's code on its cold start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Protocol

from cmc_webhooks.dal.credentials import NoCredentials, SecretsManagerCredentials
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.dal.inbound import DynamoDBInboundStore, S3MailObjects
from cmc_webhooks.dal.spill import SqsSpill
from cmc_webhooks.dal.suppressions import DynamoDBSuppressionStore
from cmc_webhooks.logic.inbound import InboundStore, ObjectStore
from cmc_webhooks.logic.ingest import IngestOptions
from cmc_webhooks.logic.lookup import EventReader
from cmc_webhooks.logic.receive import CredentialSource, EventWriter, WebhookSpill
from cmc_webhooks.logic.suppressions import SuppressionStore
from cmc_webhooks.settings import IngestSettings, IngestTunables


class EventStore(EventWriter, EventReader, Protocol):
    """What the API needs of the event store."""


@dataclass(frozen=True)
class InboundDependencies:
    store: InboundStore
    objects: ObjectStore


@dataclass(frozen=True)
class ApiDependencies:
    settings: IngestSettings
    store: EventStore
    credentials: CredentialSource
    ingest_options: IngestOptions
    suppressions: SuppressionStore
    inbound: InboundDependencies | None = None  # None: no bucket configured, the inbound webhook answers 503
    spill: WebhookSpill | None = None  # None: a refused write is answered 503

    @classmethod
    def from_settings(
        cls, settings: IngestSettings, credentials: CredentialSource | None = None
    ) -> ApiDependencies:
        """`credentials`: the dev server's own; deployed, they come from the secret, and without one every
        webhook is refused."""
        if credentials is None:
            name = settings.auth_secret_name
            credentials = SecretsManagerCredentials(name) if name else NoCredentials()
        store = DynamoDBEventStore(settings.table_name)
        spill = (
            SqsSpill(settings.spill_queue_url, settings.spill_bucket_name)
            if settings.spill_queue_url and settings.spill_bucket_name
            else None
        )
        inbound = None
        if settings.inbound_bucket_name:
            inbound = InboundDependencies(
                store=DynamoDBInboundStore(settings.table_name, client=lambda: store.client),
                objects=S3MailObjects(settings.inbound_bucket_name),
            )
        return cls(
            settings=settings,
            store=store,
            credentials=credentials,
            ingest_options=ingest_options(settings),
            spill=spill,
            inbound=inbound,
            suppressions=DynamoDBSuppressionStore(settings.table_name),
        )


def ingest_options(settings: IngestTunables) -> IngestOptions:
    """How records become items, from the stage's settings: the webhook's, the spill drain's and the
    reconciliation's (whose items must be the webhook's, docs/reconcile.md)."""
    return IngestOptions(
        time_zone=settings.tz,
        retention=timedelta(days=settings.retention_days),
        max_records=settings.max_records_per_request,
        clean_retention=settings.clean_retention,
        quarantine_retention=settings.quarantine_retention,
        recipient_index=settings.recipient_index,
        index_successes=settings.success_clears_soft_bounces,
    )


# Built on the first request, not at import; a misconfigured function refuses every request.
@cache
def api_dependencies() -> ApiDependencies:
    return ApiDependencies.from_settings(IngestSettings.from_env(os.environ))
