"""Turn a plain HTTP request into the API Gateway REST proxy event Lambda would get."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cmc_webhooks import contract

# The API's resources, as the stack declares them.
RESOURCES = (
    contract.WEBHOOK_PATH,
    contract.MESSAGE_LOOKUP_PATH,
    contract.RECIPIENT_LOOKUP_PATH,
    contract.INBOUND_WEBHOOK_PATH,
    contract.INBOUND_LOOKUP_PATH,
    contract.MESSAGES_BY_API_DATA_PATH,
    contract.RECIPIENTS_PATH,
    contract.SUPPRESSION_PATH,
    contract.SUPPRESSIONS_PATH,
)
# IAM is not enforced locally: the IAM-authorized routes see this caller, as API Gateway would fill in a
# signed request's principal (the suppression routes record it as a decision's actor).
LOCAL_PRINCIPAL = "arn:aws:iam::000000000000:user/local-developer"


def match_resource(path: str) -> tuple[str, dict[str, str]] | None:
    """The resource a raw (still percent-encoded) path falls on, and its path parameters as sent."""
    segments = path.split("/")
    for template in RESOURCES:
        parts = template.split("/")
        if len(parts) != len(segments):
            continue
        parameters: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}") and segment:
                parameters[part[1:-1]] = segment
            elif part != segment:
                break
        else:
            return template, parameters
    return None


def is_binary(content_type: str | None, binary_media_types: Iterable[str]) -> bool:
    """Whether API Gateway treats a body of this Content-Type as binary (`type/*` and `*/*` match too)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    kind = media_type.split("/")[0]
    return any(
        pattern in (media_type, f"{kind}/*", "*/*") for pattern in (t.lower() for t in binary_media_types)
    )


def proxy_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """The event's body and isBase64Encoded: base64 for the API's binary media types; any other body
    is text, read as UTF-8 with every invalid sequence replaced by U+FFFD, as API Gateway hands it on."""
    if not body:
        return None, False
    if is_binary(content_type, contract.BINARY_MEDIA_TYPES):
        return base64.b64encode(body).decode("ascii"), True
    return body.decode("utf-8", errors="replace"), False


def rest_proxy_event(
    *, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    url = urlsplit(target)
    header_pairs = list(headers)
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        multi_headers.setdefault(name, []).append(value)
    query = parse_qs(url.query, keep_blank_values=True)  # query parameters arrive decoded
    content_type = next((value for name, value in header_pairs if name.lower() == "content-type"), None)
    text, is_base64 = proxy_body(body, content_type)
    # The path and the path parameters arrive as the client sent them, still percent-encoded.
    path = url.path
    resource, parameters = match_resource(path) or (path, {})
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/local{path}",
            "stage": "local",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": dict(header_pairs).get("User-Agent", ""),
                **({"userArn": LOCAL_PRINCIPAL} if resource != contract.WEBHOOK_PATH else {}),
            },
            "protocol": "HTTP/1.1",
            "accountId": "000000000000",
            "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def response_parts(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes of a Lambda proxy response."""
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return int(result["statusCode"]), headers, data
