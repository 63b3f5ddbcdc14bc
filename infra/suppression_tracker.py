"""Suppression as a service in AWS: the `suppressed` index, the tracker function on the table's stream,
and what the API function needs for the decision routes (docs/suppressions.md).

The tracker is the stream's second and last consumer, beside the publisher (AWS advises at most two
readers per stream shard), with a mapping and filter of its own (contract.suppression_filter_patterns,
the same patterns `make local`'s poller applies): the publisher and its permissions stay as they are,
and a failing recompute never re-publishes a bounce. It keeps both kinds of state derived from what was
stored: the suppression states, and the reconciliation's per-day counters of new delivery events
(docs/reconcile.md).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cmc_webhooks import contract
from cmc_webhooks.settings import TrackerSettings
from infra import stream_consumer
from infra.powertools_function import PowertoolsFunction
from infra.settings import StageSettings

HANDLER = "cmc_webhooks.handlers.suppression_tracker.lambda_handler"
# 256 MB: a batch is at most STREAM_BATCH_SIZE records; the work is an UpdateItem per day counter it
# adds to, two Queries per address it may change, a conditional PutItem per changed state and PutEvents
# per change: waiting on AWS, not CPU.
MEMORY_MB = 256
# 60 s: as the publisher's; a full batch of 100 addresses is 200 Queries of a few ms each.
TIMEOUT = Duration.seconds(60)


def add_suppressed_index(table: dynamodb.Table) -> None:
    """The sparse index GET /suppressions reads: only state items of suppressed addresses carry its keys."""
    table.add_global_secondary_index(
        index_name=contract.SUPPRESSED_INDEX,
        partition_key=dynamodb.Attribute(
            name=contract.SUPPRESSED_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING
        ),
        sort_key=dynamodb.Attribute(
            name=contract.SUPPRESSED_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING
        ),
        projection_type=dynamodb.ProjectionType.ALL,
    )


def grant_decisions(table: dynamodb.ITable, grantee: iam.IGrantable) -> iam.Grant:
    """What the API function adds for the suppression routes: PutItem of decisions, Query of the
    `suppressed` index (its Query of the table is granted already)."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["dynamodb:PutItem", "dynamodb:Query"],
        resource_arns=[table.table_arn, f"{table.table_arn}/index/{contract.SUPPRESSED_INDEX}"],
    )


class SuppressionTracker(PowertoolsFunction):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        table: dynamodb.ITable,
        bus: events.IEventBus,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        names = TrackerSettings.model_fields
        super().__init__(
            scope,
            construct_id,
            description="Keeps each recipient's suppression state, announces its changes to EventBridge, "
            "and counts new deliveries per day for the reconciliation",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                **settings.ingest_environment(),
                str(names["table_name"].alias): table.table_name,
                str(names["event_bus_name"].alias): bus.event_bus_name,
                str(names["event_source"].alias): settings.event_source,
            },
            settings=settings,
            encryption_key=encryption_key,
            extra_wildcard_reason=stream_consumer.LIST_STREAMS_REASON,
        )
        self.on_failure_queue = stream_consumer.read_stream(
            self,
            table=table,
            settings=settings,
            encryption_key=encryption_key,
            filter_patterns=contract.suppression_filter_patterns(),
            on_failure_reason="This queue is itself the dead end of the tracker's stream mapping (its "
            "on-failure destination): each message names stream records whose addresses could not be "
            "recomputed, for an operator to hand to the tracker again (docs/suppressions.md)",
        )
        bus.grant_put_events_to(self.function)
        # Query of the table (decisions) and the recipient index (events), BatchGetItem and a conditional
        # PutItem of state items, UpdateItem (ADD) of the day counters.
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            resource_arns=[table.table_arn],
        )
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["dynamodb:Query"],
            resource_arns=[f"{table.table_arn}/index/{contract.RECIPIENT_INDEX}"],
        )
        if encryption_key is not None:
            encryption_key.grant(
                self.function, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"
            )
