"""The handler in-process, against moto's server on loopback over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import pytest

from cmc_dev.backend import LocalBackend, create_event_table, running_backend
from cmc_dev.dynamodb_local import missing as dynamodb_local_missing
from cmc_dev.dynamodb_local import running_dynamodb_local
from cmc_dev.gateway import rest_proxy_event
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.dal.credentials import StaticCredentials
from cmc_webhooks.dal.dynamodb import DynamoDBEventStore
from cmc_webhooks.dal.suppressions import DynamoDBSuppressionStore
from cmc_webhooks.handlers import api
from cmc_webhooks.logic.auth import CredentialSet
from cmc_webhooks.settings import IngestSettings
from cmc_webhooks.wiring import ApiDependencies, EventStore


@pytest.fixture(scope="session")
def backend() -> Iterator[LocalBackend]:
    saved = dict(os.environ)
    with running_backend() as started:
        yield started
    os.environ.clear()
    os.environ.update(saved)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Api:
    """Calls the Lambda handler with API Gateway REST proxy events, as Lambda would, with the
    dependencies the function builds from its environment (`configured` changes a variable)."""

    table_name: str
    backend: LocalBackend
    dependencies: ApiDependencies

    def configured(self, **env: str) -> Api:
        """The function as deployed with these variables besides the table's (credentials included)."""
        settings = IngestSettings.from_env({**os.environ, "CMC_TABLE_NAME": self.table_name, **env})
        return replace(self, dependencies=ApiDependencies.from_settings(settings))

    def with_store(self, store: EventStore) -> Api:
        return replace(self, dependencies=replace(self.dependencies, store=store))

    def with_credentials(self, credentials: CredentialSet) -> Api:
        return replace(
            self, dependencies=replace(self.dependencies, credentials=StaticCredentials(credentials))
        )

    def call(
        self,
        method: str,
        path: str,
        body: str | bytes = b"",
        content_type: str | None = None,
        *,
        as_base64: bool = False,
    ) -> Reply:
        headers = [("Content-Type", content_type)] if content_type else []
        return self.call_with_headers(method, path, body, headers, as_base64=as_base64)

    def call_with_headers(
        self,
        method: str,
        path: str,
        body: str | bytes,
        headers: list[tuple[str, str]],
        *,
        as_base64: bool = False,
    ) -> Reply:
        data = body.encode("utf-8") if isinstance(body, str) else body
        event = rest_proxy_event(
            method=method, target=path, headers=headers, body=data, source_ip="127.0.0.1"
        )
        if as_base64:  # as API Gateway passes a body it treats as binary
            event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode("ascii"), True
        result = api.make_handler(lambda: self.dependencies)(event, LocalLambdaContext())
        text = result.get("body") or ""
        reply_headers = dict(result.get("headers") or {})
        reply_headers.update({k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()})
        return Reply(result["statusCode"], reply_headers, json.loads(text) if text else None)

    def post_json(self, document: dict[str, Any]) -> Reply:
        return self.call(
            "POST", contract.WEBHOOK_PATH, json.dumps(document, ensure_ascii=False), "application/json"
        )

    def lookup(self, message_id: str) -> Reply:
        return self.call("GET", "/messages/" + quote(message_id, safe=""))

    def items(self) -> list[dict[str, Any]]:
        client = self.backend.dynamodb()
        pages = client.get_paginator("scan").paginate(TableName=self.table_name)
        return [item for page in pages for item in page["Items"]]


def api_on(backend: LocalBackend) -> Api:
    """A fresh table in this backend, and the function's dependencies built for it; open, as the dev
    server chooses to run (tests/integration/test_auth.py covers the credentials)."""
    table_name = f"events-{uuid.uuid4().hex[:12]}"
    create_event_table(backend.dynamodb(), table_name)
    settings = IngestSettings.from_env({**os.environ, "CMC_TABLE_NAME": table_name})
    open_endpoint = StaticCredentials(CredentialSet())
    dependencies = ApiDependencies.from_settings(settings, credentials=open_endpoint)
    store = DynamoDBEventStore(table_name, client=backend.dynamodb())
    suppressions = DynamoDBSuppressionStore(table_name, client=backend.dynamodb())
    return Api(
        table_name=table_name,
        backend=backend,
        dependencies=replace(dependencies, store=store, suppressions=suppressions),
    )


@pytest.fixture
def api_client(backend: LocalBackend) -> Api:
    return api_on(backend)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[LocalBackend]:
    """AWS's DynamoDB Local (DynamoDB only: every other service stays moto's). Skipped, with the
    reason in the test summary, where Java or the jar is missing."""
    if reason := dynamodb_local_missing():
        pytest.skip(f"DynamoDB Local not run: {reason}")
    with running_dynamodb_local() as endpoint:
        yield LocalBackend(endpoint_url=endpoint, table_name="")


# The backends the DynamoDB tests run on: moto, and AWS's own DynamoDB Local. Where they disagree, AWS's
# behaviour wins, and the test says so.
DYNAMODB_BACKENDS = ["moto", "dynamodb-local"]


def api_for(request: pytest.FixtureRequest) -> Api:
    name = request.param
    return api_on(request.getfixturevalue("backend" if name == "moto" else "dynamodb_local"))
