"""Bad input, thousands of cases: every answer a JSON 4xx error or a success, never a 5xx,
never a partial write. schemathesis drives the OpenAPI document the Event Handler generates,
and hypothesis throws raw bodies, at `make local`'s server over HTTP on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from cmc_dev.backend import LocalBackend
from cmc_dev.openapi import openapi_document
from cmc_webhooks import contract
from tests.e2e.test_local_server import LocalServer, launch, stop

schema = schemathesis.openapi.from_dict(openapi_document())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=600)
ERROR_STATUSES = {400, 401, 404, 405, 413, 415, 422}


class Live:
    def __init__(self, server: LocalServer, backend: LocalBackend) -> None:
        self.server, self.base_url = server, server.base_url
        self.table_name, self.dynamodb = backend.table_name, backend.dynamodb()
        self.count = self.stored()

    def stored(self) -> int:
        """Items the requests stored in the server's table, counted in its DynamoDB: all but the
        suppression state items, which the tracker writes on its own after a stored bounce."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table_name,
            Select="COUNT",
            FilterExpression="#sk <> :state",
            ExpressionAttributeNames={"#sk": contract.SORT_KEY},
            ExpressionAttributeValues={":state": {"S": contract.SUPPRESSION_STATE_SORT_KEY}},
        )
        return sum(page["Count"] for page in pages)

    def new_items(self) -> int:
        """Items stored since the last call (one scan: only these tests write to the table)."""
        before, self.count = self.count, self.stored()
        return self.count - before


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    server = launch({"POWERTOOLS_LOG_LEVEL": "WARNING"})
    # The CLI line of its banner names its table and DynamoDB.
    table, endpoint = re.findall(r"--table (\S+) --endpoint-url (\S+)", server.banner)[0]
    yield Live(server, LocalBackend(endpoint_url=endpoint, table_name=table))
    stop(server)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_5xx_or_a_partial_write(case: Any, live: Live) -> None:
    response = case.call(base_url=live.base_url)
    stored = live.new_items()

    assert response.status_code < 500, response.text
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), case.method
    body = response.json()
    if response.status_code == 200:
        return
    assert response.status_code in ERROR_STATUSES, response.text
    assert stored == 0  # refused: nothing stored
    assert "message" in body


bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=15,
    ).map(lambda value: json.dumps({"event_type": "deliveries", "event": value}).encode()),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=shift_jis",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/json; charset=nope",
    ]
)


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, content_type=content_types)
def test_raw_bodies_get_json_answers_and_no_partial_writes(
    live: Live, body: bytes, content_type: str | None
) -> None:
    status, payload = live.server.request("POST", contract.WEBHOOK_PATH, body, content_type or "")
    stored = live.new_items()

    assert status in {200} | ERROR_STATUSES, payload
    if status != 200:
        assert stored == 0
        assert payload["error"]
    else:  # a record stored before is stored again in place (idempotent): it adds no item
        assert 0 <= stored <= payload["written"] + payload["quarantined"]
