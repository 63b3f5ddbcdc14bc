"""The webhook's authentication through the handler: from the environment and from Secrets Manager."""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import urlencode

import pytest
from aws_lambda_powertools.utilities import parameters

from cmc_webhooks import contract
from cmc_webhooks.logic.auth import CredentialSet
from tests.conftest import load_fixture
from tests.integration.conftest import Api, Reply

WEBHOOK = contract.WEBHOOK_PATH


def post(api_client: Api, body: str, content_type: str, authorization: str | None = None) -> Reply:
    headers = [("Content-Type", content_type)]
    if authorization:
        headers.append(("Authorization", authorization))
    return api_client.call_with_headers("POST", WEBHOOK, body, headers)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def basic_auth(api_client: Api) -> Api:
    return api_client.with_credentials(CredentialSet(username="cmc", password="pa:ss", api_key="key-1"))


def test_without_credentials_the_answer_is_401_and_nothing_is_stored(basic_auth: Api) -> None:
    reply = post(basic_auth, json.dumps(load_fixture("seed_deliveries_queued")), "application/json")
    assert reply.status == 401
    assert reply.body["error"] == "unauthorized"
    assert reply.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert basic_auth.items() == []


def test_basic_credentials_let_the_webhook_in(basic_auth: Api) -> None:
    body = json.dumps(load_fixture("seed_deliveries_queued"))
    assert post(basic_auth, body, "application/json", basic("cmc", "pa:ss")).status == 200
    assert post(basic_auth, body, "application/json", basic("cmc", "nope")).status == 401
    assert len(basic_auth.items()) == 1


def test_the_api_key_field_works_in_json_and_form_bodies(basic_auth: Api) -> None:
    document = load_fixture("seed_deliveries_succeeded")
    assert post(basic_auth, json.dumps({**document, "api_key": "key-1"}), "application/json").status == 200
    fields = {"event_type": "deliveries", "server_composition": "pro", "event": json.dumps(document["event"])}
    form = urlencode({**fields, "api_key": "key-1"})
    assert post(basic_auth, form, "application/x-www-form-urlencoded").status == 200
    wrong = urlencode({**fields, "api_key": "key-2"})
    assert post(basic_auth, wrong, "application/x-www-form-urlencoded").status == 401
    assert len(basic_auth.items()) == 1


def test_a_broken_body_is_401_to_strangers_and_400_to_the_sender(basic_auth: Api) -> None:
    assert post(basic_auth, "not json", "application/json").status == 401
    assert post(basic_auth, "not json", "application/json", basic("cmc", "pa:ss")).status == 400


def test_credentials_from_secrets_manager_with_rotation(api_client: Api) -> None:
    secrets = api_client.backend.client("secretsmanager")
    name = f"{api_client.table_name}-webhook-auth"
    secrets.create_secret(Name=name, SecretString=json.dumps({"username": "cmc", "password": "v1"}))
    api_client = api_client.configured(CMC_AUTH_SECRET_NAME=name)
    body = json.dumps(load_fixture("seed_deliveries_queued"))

    assert post(api_client, body, "application/json").status == 401
    assert post(api_client, body, "application/json", basic("cmc", "v1")).status == 200

    # Rotate: the new password becomes current, the old one stays accepted as previous.
    rotated = {"username": "cmc", "password": "v2", "previous_password": "v1"}
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps(rotated))
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # in Lambda: the 5-minute cache expiring
    assert post(api_client, body, "application/json", basic("cmc", "v1")).status == 200
    assert post(api_client, body, "application/json", basic("cmc", "v2")).status == 200
    assert post(api_client, body, "application/json", basic("cmc", "v0")).status == 401


@pytest.mark.parametrize("secret", [None, "missing", "{}", '{"username": "", "api_key": ""}'])
def test_a_function_without_usable_credentials_refuses_every_webhook(
    api_client: Api, secret: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    # None: deployed without the secret's name; "missing": a name with no secret; else the secret's value.
    if secret is None:
        deployed = api_client.configured()
    else:
        name = f"{api_client.table_name}-{uuid.uuid4().hex[:6]}"
        if secret != "missing":
            api_client.backend.client("secretsmanager").create_secret(Name=name, SecretString=secret)
        deployed = api_client.configured(CMC_AUTH_SECRET_NAME=name)

    capsys.readouterr()
    reply = post(deployed, json.dumps(load_fixture("seed_deliveries_queued")), "application/json")

    assert (reply.status, reply.body["error"]) == (503, "credentials_unavailable")
    assert api_client.items() == []
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(contract.Metric.AUTH_FAILURES in blob for blob in metrics)


def test_a_body_over_the_size_limit_is_413(api_client: Api) -> None:
    api_client = api_client.configured(CMC_MAX_BODY_BYTES="1024")
    document = load_fixture("seed_deliveries_queued")
    document["event"]["deliveries"][0]["subject"] = "x" * 1024
    reply = post(api_client, json.dumps(document), "application/json")
    assert (reply.status, reply.body["error"]) == (413, "payload_too_large")
