"""Alarms on what would lose or delay events, an SNS topic they notify, and a dashboard.

Every alarm looks at 5-minute periods, notifies the topic when it goes off and when it is OK again,
and treats missing data as fine: the metrics below exist only when something happens (a request, an
invocation, a failure), so no data means nothing went wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cmc_webhooks import contract
from infra.data_key import limit_grants_to_aws_services

PERIOD = Duration.minutes(5)
# The publisher lags this far behind the table's stream: its batches keep failing, or it is throttled.
MAX_ITERATOR_AGE = Duration.minutes(5)
# The functions' metrics (Powertools EMF, dimension service=<SERVICE_NAME>) that widgets show; the
# handlers emit them under the same contract.Metric names.
RECORD_METRICS = (
    contract.Metric.RECORDS_RECEIVED,
    contract.Metric.RECORDS_WRITTEN,
    contract.Metric.RECORDS_DUPLICATED,
    contract.Metric.RECORDS_QUARANTINED,
    contract.Metric.RECORDS_UNRECOGNIZED,
)
REFUSAL_METRICS = (
    contract.Metric.AUTH_FAILURES,
    contract.Metric.REQUESTS_REFUSED,
    contract.Metric.STORAGE_FAILURES,
    contract.Metric.WEBHOOKS_SPILLED,
)
PUBLISHER_METRICS = (contract.Metric.EVENTS_PUBLISHED, contract.Metric.EVENTS_PUBLISH_FAILED)


@dataclass(frozen=True)
class WatchedQueue:
    """A dead-letter queue: anything in it is an event that did not get through."""

    id: str  # part of the alarm's construct id, e.g. "PublisherOnFailureQueue"
    what: str  # in the alarm's description, e.g. "the publisher's on-failure queue"
    queue: sqs.IQueue


def service_metric(name: str, *, statistic: str = "Sum") -> cloudwatch.Metric:
    """A metric the functions emit through Powertools Metrics."""
    return cloudwatch.Metric(
        namespace=contract.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": contract.SERVICE_NAME},
        statistic=statistic,
        period=PERIOD,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_stage: apigw.Stage,
        ingest: lambda_.IFunction,
        publisher: lambda_.IFunction,
        dead_letter_queues: Sequence[WatchedQueue],
        alarm_email: str | None,
        api_5xx_rate_percent: int,
        auth_failures_per_5min: int,
        tracker: lambda_.IFunction | None = None,
    ) -> None:
        """`tracker`: the suppression tracker, alarmed as the publisher is (docs/suppressions.md)."""
        super().__init__(scope, construct_id)
        self.topic = self._alarm_topic(alarm_email)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        requests = api_stage.metric_count(statistic="Sum", period=PERIOD)
        server_errors = api_stage.metric_server_error(statistic="Sum", period=PERIOD)
        self._alarm(
            "Api5xxRate",
            cloudwatch.MathExpression(
                expression="100 * errors / requests",
                using_metrics={"errors": server_errors, "requests": requests},
                label="5xx answers (% of requests)",
                period=PERIOD,
            ),
            threshold=api_5xx_rate_percent,
            description=f"{api_5xx_rate_percent}% or more of the API's answers in 5 minutes were 5xx: "
            "CMC retries them, but look at the ingest function's errors and StorageFailures",
        )
        functions = [("Ingest", "ingest", ingest), ("Publisher", "publisher", publisher)]
        if tracker is not None:
            functions.append(("SuppressionTracker", "suppression tracker", tracker))
        for name, label, function in functions:
            self._alarm(
                f"{name}Errors",
                function.metric_errors(statistic="Sum", period=PERIOD),
                description=f"The {label} function failed (an unhandled error or a timeout); "
                "see its log group",
            )
            self._alarm(
                f"{name}Throttles",
                function.metric_throttles(statistic="Sum", period=PERIOD),
                description=f"Lambda throttled the {label} function: the account's or region's "
                "concurrency is exhausted",
            )
        self._alarm(
            "PublisherIteratorAge",
            publisher.metric("IteratorAge", statistic="Maximum", period=PERIOD),
            threshold=MAX_ITERATOR_AGE.to_milliseconds(),
            description="The publisher lags more than 5 minutes behind the event table's stream: bounces "
            "reach subscribers late. After 6 h, unpublished records go to its on-failure queue",
        )
        if tracker is not None:
            self._alarm(
                "SuppressionTrackerIteratorAge",
                tracker.metric("IteratorAge", statistic="Maximum", period=PERIOD),
                threshold=MAX_ITERATOR_AGE.to_milliseconds(),
                description="The suppression tracker lags more than 5 minutes behind the event table's "
                "stream: suppression states and their events are late. After 6 h, its records go to its "
                "on-failure queue",
            )
        for watched in dead_letter_queues:
            self._alarm(
                f"{watched.id}Depth",
                watched.queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=PERIOD
                ),
                description=f"Events are waiting in {watched.what}: they did not get through "
                "(docs/events.md says how to redrive or re-publish them)",
            )
        self._alarm(
            contract.Metric.AUTH_FAILURES,
            service_metric(contract.Metric.AUTH_FAILURES),
            threshold=auth_failures_per_5min,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=f"More than {auth_failures_per_5min} webhooks in 5 minutes failed authentication "
            "(401): the CMC console's credentials and the secret differ, or someone is guessing",
        )
        self._alarm(
            contract.Metric.STORAGE_FAILURES,
            service_metric(contract.Metric.STORAGE_FAILURES),
            description="The ingest function answered 503: DynamoDB refused writes after retries, or the "
            "credentials secret could not be read. CMC retries; nothing was acknowledged unstored",
        )
        self._alarm(
            contract.Metric.WEBHOOKS_SPILLED,
            service_metric(contract.Metric.WEBHOOKS_SPILLED),
            description="DynamoDB refused a webhook's writes after retries; it waits in the spill queue "
            "and the drain stores it once the table takes writes again. Nothing is lost, but lookups "
            "and published bounces lag until then (docs/reliability.md)",
        )
        self._alarm(
            contract.Metric.INBOUND_TOO_LARGE,
            service_metric(contract.Metric.INBOUND_TOO_LARGE),
            description="Inbound mail was refused (413) as larger than the function takes: CMC's receiving "
            "size limit is above it, and such mail is not stored (docs/inbound.md)",
        )
        self.dashboard = self._dashboard(api_stage, ingest, publisher, dead_letter_queues)

    def add_reconcile_alarms(self, reconcile: lambda_.IFunction) -> None:
        """The daily reconciliation (docs/reconcile.md): a run that failed, and a run that had to write."""
        failed = self._alarm(
            contract.Metric.RECONCILE_FAILURES,
            service_metric(contract.Metric.RECONCILE_FAILURES),
            description="A reconciliation run could not reconcile a date (CMC's API refused or failed, or "
            "the table could not be read): see the reconcile function's log, then run it again",
        )
        errors = self._alarm(
            "ReconcileErrors",
            reconcile.metric_errors(statistic="Sum", period=PERIOD),
            description="The reconcile function failed (its settings or the CMC API secret, an unhandled "
            "error or a timeout); see its log group",
        )
        wrote = self._alarm(
            contract.Metric.RECONCILE_WRITTEN,
            service_metric(contract.Metric.RECONCILE_WRITTEN),
            description="The reconciliation stored events that the webhooks had missed: they are stored and "
            "published now, but find out why the webhooks lost them (endpoint down, credentials, throttling)",
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Reconciliation",
                left=[
                    service_metric(name)
                    for name in (
                        contract.Metric.RECONCILE_WRITTEN,
                        contract.Metric.RECONCILE_FAILURES,
                        contract.Metric.RECONCILE_API_REQUESTS,
                    )
                ],
                width=12,
                height=6,
            ),
            cloudwatch.AlarmStatusWidget(
                title="Reconciliation alarms", alarms=[failed, errors, wrote], width=12, height=6
            ),
        )

    def add_no_webhook_alarm(self, hours: int) -> None:
        """No webhook record at all for `hours` hours: CMC stopped posting, or every post is refused."""
        alarm = self._alarm(
            "NoWebhooks",
            cloudwatch.Metric(
                namespace=contract.METRICS_NAMESPACE,
                metric_name=contract.Metric.RECORDS_RECEIVED,
                dimensions_map={"service": contract.SERVICE_NAME},
                statistic="Sum",
                period=Duration.hours(1),
            ),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=hours,
            missing=cloudwatch.TreatMissingData.BREACHING,
            description=f"No webhook record arrived for {hours} hours: check the CMC console's webhook "
            "settings and credentials, and the API's 4xx/5xx; the daily reconciliation recovers the events",
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Webhooks arriving", alarms=[alarm], width=12, height=3)
        )

    def _alarm_topic(self, alarm_email: str | None) -> sns.Topic:
        # CloudWatch cannot publish to a topic encrypted with the AWS managed key (alias/aws/sns), whose
        # policy cannot be changed to let it; this key's policy lets CloudWatch use it.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts {Stack.of(self).stack_name}'s alarm notifications",
            enable_key_rotation=True,
            # It protects notifications in transit only; nothing stays encrypted with it.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        limit_grants_to_aws_services(key)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{Stack.of(self).stack_name} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        if alarm_email is not None:
            topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        return topic

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        threshold: float = 1,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
        periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            treat_missing_data=missing,
            alarm_description=f"{Stack.of(self).stack_name}: {description}",
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms[construct_id] = alarm
        return alarm

    def _dashboard(
        self,
        api_stage: apigw.Stage,
        ingest: lambda_.IFunction,
        publisher: lambda_.IFunction,
        dead_letter_queues: Sequence[WatchedQueue],
    ) -> cloudwatch.Dashboard:
        def graph(
            title: str, left: list[cloudwatch.IMetric], right: Sequence[cloudwatch.IMetric] = ()
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=left, right=list(right), width=12, height=6)

        def functions(metric: str) -> list[cloudwatch.IMetric]:
            return [
                function.metric(metric, statistic="Sum", period=PERIOD, label=f"{name} {metric.lower()}")
                for name, function in (("ingest", ingest), ("publisher", publisher))
            ]

        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(
            graph(
                "API requests and errors",
                [
                    api_stage.metric_count(statistic="Sum", period=PERIOD, label="requests"),
                    api_stage.metric_client_error(statistic="Sum", period=PERIOD, label="4xx"),
                    api_stage.metric_server_error(statistic="Sum", period=PERIOD, label="5xx"),
                ],
            ),
            graph(
                "API latency (ms)",
                [
                    api_stage.metric_latency(statistic="p50", period=PERIOD, label="p50"),
                    api_stage.metric_latency(statistic="p99", period=PERIOD, label="p99"),
                    api_stage.metric_integration_latency(
                        statistic="p99", period=PERIOD, label="integration p99"
                    ),
                ],
            ),
        )
        dashboard.add_widgets(
            graph("Webhook records", [service_metric(name) for name in RECORD_METRICS]),
            graph(
                "Refused and failed webhooks",
                [service_metric(name) for name in REFUSAL_METRICS],
            ),
        )
        dashboard.add_widgets(
            graph("Function errors and throttles", functions("Errors") + functions("Throttles")),
            graph(
                "Publishing",
                [service_metric(name) for name in PUBLISHER_METRICS],
                right=[
                    publisher.metric(
                        "IteratorAge", statistic="Maximum", period=PERIOD, label="iterator age (ms)"
                    )
                ],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Dead-letter queues (visible messages)",
                [
                    watched.queue.metric_approximate_number_of_messages_visible(
                        statistic="Maximum", period=PERIOD, label=watched.what
                    )
                    for watched in dead_letter_queues
                ],
            ),
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms.values()), width=12, height=6
            ),
        )
        return dashboard
