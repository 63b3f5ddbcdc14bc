"""The OpenAPI document of the API: what the Event Handler generates from the routes, plus the
webhook's request body (the handler decodes it itself, in either of CMC's encodings, so the
resolver cannot see its shape). Used by the schemathesis tests and `python -m cmc_dev.openapi`.
"""

from __future__ import annotations

import json
from typing import Any

from cmc_webhooks import contract
from cmc_webhooks.logic.decode import FORM_TEXT_FIELDS
from cmc_webhooks.logic.inbound_parse import TEXT_FIELDS
from cmc_webhooks.models.cmc import WebhookEnvelope


def openapi_document() -> dict[str, Any]:
    from cmc_webhooks.handlers.api import app  # noqa: PLC0415 - Powertools reads the environment on import

    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(title="cmc-webhooks", version="1.0"))
    envelope = WebhookEnvelope.model_json_schema()
    form = {
        "type": "object",
        "required": ["event"],
        "properties": {
            **{name: {"type": "string"} for name in FORM_TEXT_FIELDS},
            "event": {"type": "string", "description": "the `event` object as a JSON string"},
        },
    }
    document["paths"][contract.WEBHOOK_PATH]["post"]["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {"schema": envelope},
            "application/x-www-form-urlencoded": {"schema": form},
        },
    }
    document["paths"][contract.INBOUND_WEBHOOK_PATH]["post"]["requestBody"] = inbound_request_body()
    return document


def inbound_request_body() -> dict[str, Any]:
    """CMC's inbound mail: the same fields as JSON or multipart, attachments only in multipart."""
    text = {"type": "string"}
    properties: dict[str, Any] = {
        **{name: text for name in TEXT_FIELDS},
        "headers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "value"],
                "properties": {"name": text, "value": text},
            },
        },
        "attachments": {"type": "integer", "minimum": 0},
    }
    multipart = {
        **properties,
        "headers": {"type": "string", "description": "the headers' JSON list as a string"},
        "attachment1": {"type": "string", "format": "binary"},
    }
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["headers"], "properties": properties}
            },
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["headers"], "properties": multipart}
            },
        },
    }


if __name__ == "__main__":
    print(json.dumps(openapi_document(), indent=2, ensure_ascii=False))
