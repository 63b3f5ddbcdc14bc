"""The whole webhook, for generated envelopes and records: whatever a sender posts, the handler answers
(never a 5xx while the store is healthy), every record is counted once, and everything stored reads back
through both lookups and through the publisher's event builder as strict JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmc_dev.gateway import rest_proxy_event
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.dal.credentials import StaticCredentials
from cmc_webhooks.handlers.api import make_handler
from cmc_webhooks.logic.auth import CredentialSet
from cmc_webhooks.logic.lookup import lookup_message, lookup_recipient
from cmc_webhooks.logic.publish import event_detail
from cmc_webhooks.settings import IngestSettings
from cmc_webhooks.wiring import ApiDependencies
from tests.unit.memory_store import MemoryStore

SETTINGS = IngestSettings.from_env({"CMC_TABLE_NAME": "events", "CMC_MAX_RECORDS_PER_REQUEST": "50"})


# Text from the whole of Unicode, lone surrogates included (JSON carries them as `\ud800` escapes).
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
huge_text = st.builds(lambda piece, times: piece * times, any_text, st.integers(0, 30_000))
created = st.one_of(
    st.datetimes().map(lambda moment: f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}"),
    any_text,
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
record = st.fixed_dictionaries(
    {},
    optional={
        "created": created,
        "messageId": st.one_of(any_text, any_text.map(lambda text: f"<{text}@example.jp>")),
        "to": st.one_of(any_text, any_text.map(lambda text: f"{text}@Example.JP")),
        "envelopeTo": any_text,
        "from": any_text,
        "returnPath": any_text,
        "status": st.one_of(
            st.sampled_from(["queued", "succeeded", "failed", "deferred", "2", "10"]), any_text
        ),
        "reason": st.one_of(any_text, huge_text),
        "subject": st.one_of(any_text, huge_text),
        "apiData": any_text,
        "senderIp": any_text,
        "extra": json_value,
    },
)
event_type = st.one_of(st.sampled_from(["deliveries", "bounces", "blocks"]), any_text)
envelope = st.fixed_dictionaries(
    {
        "event_type": event_type,
        "event": st.dictionaries(event_type, st.lists(st.one_of(record, json_value), max_size=6), max_size=3),
    },
    optional={"server_composition": any_text, "api_key": any_text},
)


def strict_json(value: Any) -> None:
    """What a reader receives: JSON with no NaN or Infinity, as UTF-8."""
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=envelope)
def test_any_webhook_is_answered_counted_and_readable(document: dict[str, Any]) -> None:
    store = MemoryStore()
    dependencies = ApiDependencies.from_settings(SETTINGS, credentials=StaticCredentials(CredentialSet()))
    handler = make_handler(lambda: ApiDependencies(**{**vars(dependencies), "store": store}))
    body = json.dumps(document).encode("ascii")  # lone surrogates travel as escapes, as JSON allows
    event = rest_proxy_event(
        method="POST",
        target=contract.WEBHOOK_PATH,
        headers=[("Content-Type", "application/json")],
        body=body,
        source_ip="127.0.0.1",
    )

    answer = handler(event, LocalLambdaContext())

    assert answer["statusCode"] in {200, 400, 413}, answer["body"]
    summary = json.loads(answer["body"])
    if answer["statusCode"] != 200:
        assert store.items == {}
        return
    assert summary["received"] == summary["written"] + summary["quarantined"] + summary["duplicates"]
    assert len(store.items) == summary["written"] + summary["quarantined"]
    for item in store.items.values():
        for value in item.values():
            if isinstance(value, str):
                value.encode("utf-8")  # no lone surrogate reaches the store
        if item["kind"] != "event":
            continue
        strict_json(lookup_message(store, item["message_id"]).model_dump())
        if "recipient_key" in item:
            strict_json(
                lookup_recipient(store, item["recipient_key"], SETTINGS.suppression_policy).model_dump()
            )
        strict_json(json.loads(event_detail(item).model_dump_json()))
