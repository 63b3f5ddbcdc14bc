"""The daily reconciliation with CMC's API (docs/reconcile.md): the CMC API secret, the reconcile function
and its schedule. The per-day counters it compares with CMC's statistics are kept by the suppression
tracker (infra/suppression_tracker.py), the table's other stream reader beside the publisher.

The schedule (EventBridge Scheduler) invokes the function at `reconcile_hour` in the stage's `time_zone`,
the console's, with `{}`: reconcile yesterday. The function may read that one secret, and the table with
BatchGetItem, Query and BatchWriteItem.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from aws_cdk import Acknowledgment, CfnResource, Duration, RemovalPolicy, Stack, TimeZone, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cmc_webhooks.settings import ReconcileSettings, parse_time_zone
from infra.powertools_function import PowertoolsFunction
from infra.settings import StageSettings

HANDLER = "cmc_webhooks.handlers.reconcile.lambda_handler"
# 512 MB: a day's rows are held until every page is read (about 1 KB each as items), then written.
MEMORY_MB = 512
# 15 min, Lambda's most: at CMC's pace a page takes well under a second, and a retried page up to ~60 s of
# backoff; the request budget ends a run long before this.
TIMEOUT = Duration.minutes(15)
PLACEHOLDER_USER = "set-me"


def schedule_time(time_zone: str, hour: int) -> tuple[str, str, TimeZone]:
    """Minute, hour and zone of the cron: an IANA zone as it is (Scheduler follows its daylight saving);
    a fixed offset as the same instant in UTC."""
    zone = parse_time_zone(time_zone)
    if "/" in time_zone:
        return "0", str(hour), TimeZone.of(time_zone)
    offset = datetime(2000, 1, 1, tzinfo=zone).utcoffset() or timedelta()
    minutes = (hour * 60 - int(offset.total_seconds()) // 60) % (24 * 60)
    return str(minutes % 60), str(minutes // 60), TimeZone.ETC_UTC


class Reconciliation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        table: dynamodb.ITable,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        assert settings.reconcile_server_composition is not None
        self.secret = secretsmanager.Secret(
            self,
            "ApiSecret",
            description=f"Customers Mail Cloud API user and key that {Stack.of(self).stack_name} reconciles "
            'with: {"api_user": ..., "api_key": ...} (replace the generated placeholder)',
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"api_user": PLACEHOLDER_USER}),
                generate_string_key="api_key",
                exclude_punctuation=True,
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        Validations.of(self.secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="CMC's API key is issued in the CMC console, which has no API: it is rotated there by "
                "a person and pasted into this secret (docs/reconcile.md); a rotation function could not "
                "obtain a new one",
            )
        )
        names = ReconcileSettings.model_fields
        self.function = PowertoolsFunction(
            self,
            "Reconcile",
            description="Stores what Customers Mail Cloud's webhooks missed, read from its API once a day",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                # The ingest's settings too: its items are the webhook's (time zone, retention, index).
                **settings.ingest_environment(),
                **settings.reconcile_environment(),
                str(names["table_name"].alias): table.table_name,
                str(names["api_secret_name"].alias): self.secret.secret_arn,
            },
            settings=settings,
            encryption_key=encryption_key,
        ).function
        # A failed run raises the alarm; another attempt would spend the request budget again.
        self.function.configure_async_invoke(retry_attempts=0)
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["secretsmanager:GetSecretValue"],
            resource_arns=[self.secret.secret_arn],
        )
        self._grant_table(
            self.function, ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Query"], table
        )
        self._grant_key(self.function, encryption_key)
        minute, hour, zone = schedule_time(settings.time_zone, settings.reconcile_hour)
        schedule_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler invokes the reconcile function with this role",
        )
        Validations.of(schedule_role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(self._cfn(self.function))}"
                ".Arn>:*]",
                reason="CDK's invoke grant covers the reconcile function and its versions and aliases "
                "(ARN:*); the role can invoke that one function and nothing else",
            )
        )
        self.schedule = scheduler.Schedule(
            self,
            "Daily",
            description="Reconciles yesterday with Customers Mail Cloud's API",
            schedule=scheduler.ScheduleExpression.cron(minute=minute, hour=hour, time_zone=zone),
            target=targets.LambdaInvoke(
                self.function,
                input=scheduler.ScheduleTargetInput.from_object({}),
                retry_attempts=0,
                role=schedule_role,
            ),
        )

    @staticmethod
    def _cfn(function: lambda_.Function) -> CfnResource:
        resource = function.node.default_child
        assert isinstance(resource, CfnResource)
        return resource

    @staticmethod
    def _grant_table(grantee: iam.IGrantable, actions: list[str], table: dynamodb.ITable) -> None:
        iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[table.table_arn])

    @staticmethod
    def _grant_key(grantee: iam.IGrantable, key: kms.IKey | None) -> None:
        if key is not None:
            key.grant(grantee, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")

    @property
    def secret_name(self) -> str:
        return self.secret.secret_name
