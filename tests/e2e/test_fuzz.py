"""Bad input, thousands of cases: every answer a JSON 4xx error or a success, never a 5xx,
never a partial write. schemathesis drives the OpenAPI document the Event Handler generates
against the real local server on loopback; hypothesis throws raw bodies at the handler."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from cmc_dev.backend import running_backend
from cmc_dev.gateway import rest_proxy_event
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_dev.openapi import openapi_document
from cmc_dev.server import make_http_server
from cmc_webhooks import contract
from cmc_webhooks.dal import EventStore
from cmc_webhooks.handlers import api
from cmc_webhooks.models.store import StoredItem
from cmc_webhooks.settings import get_settings

schema = schemathesis.openapi.from_dict(openapi_document())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=600)
ERROR_STATUSES = {400, 401, 404, 405, 413, 415, 422}


class CountingStore:
    """The real store, counting the items each write stores, to catch a partial write."""

    def __init__(self, inner: EventStore) -> None:
        self.inner, self.written = inner, 0

    def write(self, items: Any) -> None:
        self.inner.write(items)
        self.written += len(items)

    def message_events(self, message_id: str) -> list[StoredItem]:
        return self.inner.message_events(message_id)

    def recipient_events(self, recipient_key: str, *, limit: int) -> list[StoredItem]:
        return self.inner.recipient_events(recipient_key, limit=limit)


@dataclass
class Live:
    base_url: str
    store: CountingStore


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    caches = (get_settings, api.event_store, api.ingest_options, api.credential_source)
    with running_backend(table_name="fuzz-events", env={}) as backend, pytest.MonkeyPatch.context() as patch:
        for name, value in backend.environment().items():
            patch.setenv(name, value)
        for cached in caches:
            cached.cache_clear()
        store = CountingStore(api.event_store())
        patch.setattr(api, "event_store", lambda: store)
        server = make_http_server("127.0.0.1", 0, api.lambda_handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield Live(f"http://127.0.0.1:{server.server_address[1]}", store)
        server.shutdown()
        server.server_close()
        for cached in caches:
            cached.cache_clear()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_5xx_or_a_partial_write(case: Any, live: Live) -> None:
    before = live.store.written
    response = case.call(base_url=live.base_url)

    assert response.status_code < 500, response.text
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), case.method
    body = response.json()
    if response.status_code == 200:
        return
    assert response.status_code in ERROR_STATUSES, response.text
    assert live.store.written == before  # refused: nothing stored
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
@given(body=bodies, content_type=content_types, as_base64=st.booleans())
def test_raw_bodies_get_json_answers_and_no_partial_writes(
    live: Live, body: bytes, content_type: str | None, as_base64: bool
) -> None:
    headers = [("Content-Type", content_type)] if content_type else []
    event = rest_proxy_event(
        method="POST", target=contract.WEBHOOK_PATH, headers=headers, body=body, source_ip="127.0.0.1"
    )
    if as_base64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    before = live.store.written
    result = api.lambda_handler(event, LocalLambdaContext())
    payload = json.loads(result["body"])
    assert result["statusCode"] in {200} | ERROR_STATUSES, payload
    if result["statusCode"] != 200:
        assert live.store.written == before
        assert payload["error"]
    else:
        assert live.store.written - before == payload["written"] + payload["quarantined"]
