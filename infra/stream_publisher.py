"""The stream publisher: the event table's stream -> a Lambda function -> PutEvents on the bus.

The event source mapping's filter passes only newly inserted events of the published kinds
(contract.stream_filter_patterns, the same patterns `make local`'s poller applies). Records the
function keeps failing on end, named by their stream location, in an encrypted on-failure queue
(infra/stream_consumer.py).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct

from cmc_webhooks import contract
from cmc_webhooks.settings import PublisherSettings
from infra import stream_consumer
from infra.powertools_function import PowertoolsFunction
from infra.settings import StageSettings

HANDLER = "cmc_webhooks.handlers.publisher.lambda_handler"
# 256 MB: a batch is at most STREAM_BATCH_SIZE small images turned into PutEvents entries; the work is
# waiting on EventBridge, and 256 MB still gives the Powertools/pydantic cold start enough CPU.
MEMORY_MB = 256
# 60 s: PutEvents of a full batch takes well under a second, and the adapter's own backoff for
# failed entries adds at most a few seconds; the rest is headroom for botocore's retries while
# EventBridge is slow. A timeout fails the batch as a whole, which the mapping then bisects and retries.
TIMEOUT = Duration.seconds(60)


class StreamPublisher(PowertoolsFunction):
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
        """`encryption_key` encrypts the log group and the on-failure queue (None: the services' own keys);
        the stream's reads are granted on the table's key by CDK's event source."""
        super().__init__(
            scope,
            construct_id,
            description="Publishes newly stored Customers Mail Cloud bounces and failures to EventBridge",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                **settings.publisher_environment(),
                str(PublisherSettings.model_fields["event_bus_name"].alias): bus.event_bus_name,
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
            filter_patterns=contract.stream_filter_patterns(settings.published_kinds),
            on_failure_reason="This queue is itself the dead end of the publisher's stream mapping (its "
            "on-failure destination): each message names stream records that could not be published, for an "
            "operator to re-publish (docs/events.md); there is nothing further to send them to",
        )
        bus.grant_put_events_to(self.function)
