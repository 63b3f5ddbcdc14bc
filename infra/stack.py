"""The stack only composes: event store, ingest function, webhook API, and where they meet."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.event_store import EventStore
from infra.ingest_function import IngestFunction
from infra.settings import StageSettings
from infra.webhook_api import WebhookApi


class CmcWebhooksStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StageSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        store = EventStore(self, "EventStore", removal_policy=settings.removal_policy)
        ingest = IngestFunction(
            self,
            "Ingest",
            table_name=store.table.table_name,
            time_zone=settings.time_zone,
            retention_days=settings.retention_days,
            max_records_per_request=settings.max_records_per_request,
            log_level=settings.log_level,
            log_retention=settings.log_retention_days,
            removal_policy=settings.removal_policy,
            powertools_layer_version=settings.powertools_layer_version,
        )
        store.grant_batch_write_and_query(ingest.function)
        api = WebhookApi(
            self,
            "WebhookApi",
            handler=ingest.function,
            stage_name=settings.stage,
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            log_retention=settings.log_retention_days,
            removal_policy=settings.removal_policy,
        )

        self.webhook_url = CfnOutput(
            self,
            "WebhookUrl",
            value=api.webhook_url,
            description="Paste into the CMC console as the event webhook URL",
        )
        self.lookup_url = CfnOutput(
            self,
            "LookupUrl",
            value=api.lookup_url,
            description="GET with SigV4 (IAM) credentials; replace {message_id} with a messageId without <>",
        )
        self.table_name = CfnOutput(
            self, "EventTableName", value=store.table.table_name, description="The DynamoDB event table"
        )
