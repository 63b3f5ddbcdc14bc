"""The stack only composes: event store, ingest function, webhook API, the fan-out, and where they meet."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from cmc_webhooks.settings import IngestSettings
from infra.data_key import DataKey
from infra.event_bus import EventBus
from infra.event_store import EventStore
from infra.inbound_mail import InboundMail
from infra.ingest_function import IngestFunction
from infra.monitoring import Monitoring, WatchedQueue
from infra.reconciliation import Reconciliation
from infra.settings import StageSettings
from infra.spill import Spill
from infra.stream_publisher import StreamPublisher
from infra.subscribers import Subscribers
from infra.suppression_tracker import SuppressionTracker, add_suppressed_index, grant_decisions
from infra.webhook_api import WebhookApi
from infra.webhook_auth import WebhookAuth


def output_id(name: str) -> str:
    """A subscriber name (lower case, digits, -) as part of an output's logical id."""
    return "".join(part.capitalize() for part in name.split("-"))


class CmcWebhooksStack(Stack):
    def __init__(  # noqa: PLR0915 - it only composes: one statement per construct, grant and output
        self, scope: Construct, construct_id: str, *, settings: StageSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # None: the AWS managed or service-owned keys of each service.
        key = (
            DataKey(self, "DataKey", removal_policy=settings.removal_policy).key
            if settings.customer_managed_key
            else None
        )
        store = EventStore(
            self,
            "EventStore",
            removal_policy=settings.removal_policy,
            encryption_key=key,
            recipient_index=settings.recipient_index,
        )
        auth = WebhookAuth(self, "WebhookAuth")
        ingest = IngestFunction(
            self,
            "Ingest",
            settings=settings,
            table_name=store.table.table_name,
            auth_secret_id=auth.secret_id,
            encryption_key=key,
        )
        store.grant_batch_write_and_query(ingest.function)
        add_suppressed_index(store.table)
        grant_decisions(store.table, ingest.function)
        auth.grant_read(ingest.function)
        inbound = InboundMail(
            self,
            "InboundMail",
            function=ingest.function,
            table=store.table,
            retention_days=settings.retention_days,
            removal_policy=settings.removal_policy,
            encryption_key=key,
        )
        spill = Spill(self, "Spill", settings=settings, store=store, encryption_key=key)
        spill.grant_spill(ingest.function, ingest.role)
        spill_names = IngestSettings.model_fields
        ingest.function.add_environment(str(spill_names["spill_queue_url"].alias), spill.queue.queue_url)
        ingest.function.add_environment(str(spill_names["spill_bucket_name"].alias), spill.bucket.bucket_name)
        api = WebhookApi(
            self,
            "WebhookApi",
            handler=ingest.function,
            stage_name=settings.stage,
            throttling_rate_limit=settings.throttling_rate_limit,
            throttling_burst_limit=settings.throttling_burst_limit,
            log_retention=settings.log_retention_days,
            removal_policy=settings.removal_policy,
            allowed_source_cidrs=[str(network) for network in settings.allowed_source_cidrs],
            waf_rate_limit_per_5min=settings.waf_rate_limit_per_5min,
            log_encryption_key=key,
        )

        bus = EventBus(
            self,
            "EventBus",
            source=settings.event_source,
            archive_retention_days=settings.archive_retention_days,
        )
        publisher = StreamPublisher(
            self, "Publisher", settings=settings, table=store.table, bus=bus.bus, encryption_key=key
        )
        tracker = SuppressionTracker(
            self, "SuppressionTracker", settings=settings, table=store.table, bus=bus.bus, encryption_key=key
        )
        subscribers = Subscribers(
            self,
            "Subscribers",
            bus=bus.bus,
            source=settings.event_source,
            removal_policy=settings.removal_policy,
            encryption_key=key,
        )
        for subscriber_settings in settings.subscribers:
            subscribers.add(subscriber_settings)
        monitoring = Monitoring(
            self,
            "Monitoring",
            api_stage=api.api.deployment_stage,
            ingest=ingest.function,
            publisher=publisher.function,
            dead_letter_queues=[
                WatchedQueue(
                    "SpillDeadLetterQueue", "the spill drain's dead-letter queue", spill.dead_letter_queue
                ),
                WatchedQueue(
                    "PublisherOnFailureQueue", "the publisher's on-failure queue", publisher.on_failure_queue
                ),
                WatchedQueue(
                    "SuppressionTrackerOnFailureQueue",
                    "the suppression tracker's on-failure queue",
                    tracker.on_failure_queue,
                ),
                *(
                    WatchedQueue(
                        f"{output_id(name)}SubscriberDeadLetterQueue",
                        f"the {name} subscriber's dead-letter queue",
                        subscriber.dead_letter_queue,
                    )
                    for name, subscriber in subscribers.subscribers.items()
                ),
            ],
            alarm_email=settings.alarm_email,
            api_5xx_rate_percent=settings.api_5xx_rate_percent,
            auth_failures_per_5min=settings.auth_failures_per_5min,
            tracker=tracker.function,
        )
        if settings.reconcile_server_composition is not None:
            reconciliation = Reconciliation(
                self, "Reconciliation", settings=settings, table=store.table, encryption_key=key
            )
            monitoring.add_reconcile_alarms(reconciliation.function)
            CfnOutput(
                self,
                "CmcApiSecretName",
                value=reconciliation.secret_name,
                description='Put the CMC API user and key here as {"api_user": ..., "api_key": ...} '
                "(docs/reconcile.md)",
            )
            CfnOutput(
                self,
                "ReconcileFunctionName",
                value=reconciliation.function.function_name,
                description='Invoke with {"date": "YYYY-MM-DD", "until": "YYYY-MM-DD"} to reconcile a range',
            )
        if settings.no_webhook_alarm_hours is not None:
            monitoring.add_no_webhook_alarm(settings.no_webhook_alarm_hours)

        self.webhook_url = CfnOutput(
            self,
            "WebhookUrl",
            value=api.webhook_url,
            description="Paste into the CMC console as the event webhook URL",
        )
        CfnOutput(
            self,
            "InboundWebhookUrl",
            value=api.inbound_webhook_url,
            description="Paste into the CMC console as the inbound (receiving) webhook URL",
        )
        CfnOutput(
            self,
            "InboundBucketName",
            value=inbound.bucket.bucket_name,
            description="Inbound mail's bodies, headers and attachments (cmc_dev.cli inbound --bucket)",
        )
        self.lookup_url = CfnOutput(
            self,
            "LookupUrl",
            value=api.lookup_url,
            description="GET with SigV4 (IAM) credentials; replace {message_id} with a messageId without <>",
        )
        CfnOutput(
            self,
            "RecipientLookupUrl",
            value=api.recipient_lookup_url,
            description="GET with SigV4 (IAM) credentials; replace {address} with a recipient address",
        )
        CfnOutput(
            self,
            "SuppressionsUrl",
            value=api.suppressions_url,
            description="GET with SigV4 (IAM) credentials: the suppressed addresses (?limit=&cursor=); "
            "PUT/DELETE /recipients/{address}/suppression suppresses and lifts one",
        )
        CfnOutput(
            self,
            "WebhookAuthSecretName",
            value=auth.secret_name,
            description="The secret with the webhook's BASIC credentials (and optional api_key) to enter in "
            "the CMC console: aws secretsmanager get-secret-value --secret-id <this>",
        )
        self.table_name = CfnOutput(
            self, "EventTableName", value=store.table.table_name, description="The DynamoDB event table"
        )
        CfnOutput(self, "EventBusName", value=bus.bus.event_bus_name, description="The custom event bus")
        CfnOutput(
            self,
            "EventBusArn",
            value=bus.bus.event_bus_arn,
            description="The custom event bus; also the destination of replays",
        )
        CfnOutput(
            self,
            "EventArchiveArn",
            value=bus.archive.archive_arn,
            description="The bus's archive: the event source of `aws events start-replay`",
        )
        CfnOutput(
            self,
            "PublisherOnFailureQueueUrl",
            value=publisher.on_failure_queue.queue_url,
            description="Stream records the publisher could not publish (their stream location)",
        )
        CfnOutput(
            self,
            "SuppressionTrackerOnFailureQueueUrl",
            value=tracker.on_failure_queue.queue_url,
            description="Stream records the suppression tracker could not handle (their stream location)",
        )
        CfnOutput(
            self,
            "SpillQueueUrl",
            value=spill.queue.queue_url,
            description="Webhooks the event table refused, waiting for the spill drain",
        )
        CfnOutput(
            self,
            "SpillDeadLetterQueueUrl",
            value=spill.dead_letter_queue.queue_url,
            description="Spilled webhooks the table kept refusing: redrive them to the spill queue",
        )
        CfnOutput(
            self,
            "SpillBucketName",
            value=spill.bucket.bucket_name,
            description="Spilled webhooks too big for a message",
        )
        CfnOutput(
            self,
            "PublisherFunctionName",
            value=publisher.function.function_name,
            description="The stream publisher; invoke it with stream records to re-publish them",
        )
        for name, subscriber in subscribers.subscribers.items():
            if subscriber.queue is not None:
                CfnOutput(
                    self,
                    f"{output_id(name)}SubscriberQueueUrl",
                    value=subscriber.queue.queue_url,
                    description=f"The {name} subscriber's queue: poll it for published events",
                )
            CfnOutput(
                self,
                f"{output_id(name)}SubscriberDeadLetterQueueUrl",
                value=subscriber.dead_letter_queue.queue_url,
                description=f"Events the {name} subscriber did not get or could not process",
            )
        if key is not None:
            CfnOutput(
                self,
                "DataKeyArn",
                value=key.key_arn,
                description="The KMS key of the table, the logs and the queues: a queue's consumer needs "
                "kms:Decrypt on it",
            )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=monitoring.topic.topic_arn,
            description="The SNS topic every alarm notifies; subscribe to it (alarm_email subscribes one "
            "address)",
        )
        CfnOutput(
            self,
            "DashboardName",
            value=monitoring.dashboard.dashboard_name,
            description="The CloudWatch dashboard: requests, records, failures, publishing, dead-letter "
            "queues",
        )
