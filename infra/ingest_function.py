"""The Lambda function behind the API routes: stores webhook events and answers lookups."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from constructs import Construct

from cmc_webhooks.settings import IngestSettings
from infra.powertools_function import PowertoolsFunction
from infra.settings import StageSettings

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
    """Its environment is the stage's ingest settings plus what the stack creates: the table, and the
    secret with the webhook credentials (`auth_secret_id`, WebhookAuth.secret_id). The deployed function
    always authenticates webhooks, no setting turns that off."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        table_name: str,
        auth_secret_id: str,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        names = IngestSettings.model_fields
        super().__init__(
            scope,
            construct_id,
            description="Stores Customers Mail Cloud webhook events and answers lookups by messageId",
            handler=HANDLER,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            environment={
                **settings.ingest_environment(),
                str(names["table_name"].alias): table_name,
                # Without it every POST is refused (503).
                str(names["auth_secret_name"].alias): auth_secret_id,
            },
            settings=settings,
            encryption_key=encryption_key,
        )
