"""The Lambda function behind the API routes: stores webhook events and answers lookups."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from cmc_webhooks import contract
from infra.powertools_function import PowertoolsFunction

HANDLER = "cmc_webhooks.handlers.api.lambda_handler"

# 512 MB: Lambda allots CPU in proportion to memory. A POST of up to max_records_per_request records
# is decoded and validated with pydantic and written in parallel BatchWriteItem calls; 512 MB keeps
# cold starts (Powertools + pydantic imports) and big batches quick, and holds API Gateway's largest
# body (10 MB) with its parsed models several times over. 128 MB would make CPU the bottleneck.
MEMORY_MB = 512
# 25 s: below API Gateway's 29 s integration timeout, so a stuck invocation ends as a Lambda timeout
# (logged and traced; API Gateway answers 5xx, so CMC may retry, and writes are idempotent) before
# API Gateway cuts the connection. It leaves room for the adapter's retries of unprocessed items (at
# most ~7 s of backoff per chunk, chunks in parallel) on top of botocore's own retries.
TIMEOUT = Duration.seconds(25)


class IngestFunction(PowertoolsFunction):
    """`auth_secret_id` names the secret with the webhook credentials (WebhookAuth.secret_id): the
    deployed function always authenticates webhooks, no setting turns that off."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str,
        time_zone: str,
        retention_days: int,
        max_records_per_request: int,
        max_body_bytes: int,
        soft_bounce_threshold: int,
        soft_bounce_window_days: int,
        suppress_on_hard_bounce: bool,
        suppress_on_block: bool,
        success_clears_soft_bounces: bool,
        auth_secret_id: str,
        log_level: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        powertools_layer_version: str,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Stores Customers Mail Cloud webhook events and answers lookups by messageId",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                contract.ENV_TABLE_NAME: table_name,
                contract.ENV_TIME_ZONE: time_zone,
                contract.ENV_RETENTION_DAYS: str(retention_days),
                contract.ENV_MAX_RECORDS: str(max_records_per_request),
                contract.ENV_MAX_BODY_BYTES: str(max_body_bytes),
                contract.ENV_SOFT_BOUNCE_THRESHOLD: str(soft_bounce_threshold),
                contract.ENV_SOFT_BOUNCE_WINDOW_DAYS: str(soft_bounce_window_days),
                contract.ENV_SUPPRESS_ON_HARD_BOUNCE: str(suppress_on_hard_bounce).lower(),
                contract.ENV_SUPPRESS_ON_BLOCK: str(suppress_on_block).lower(),
                contract.ENV_SUCCESS_CLEARS_SOFT_BOUNCES: str(success_clears_soft_bounces).lower(),
                # The secret with the webhook credentials; without it every POST is refused (503).
                contract.ENV_AUTH_SECRET_NAME: auth_secret_id,
            },
            log_level=log_level,
            log_retention=log_retention,
            removal_policy=removal_policy,
            powertools_layer_version=powertools_layer_version,
        )
