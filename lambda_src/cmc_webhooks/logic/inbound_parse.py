"""CMC's inbound webhook body, JSON or multipart/form-data, as one parsed post. No AWS in here.

multipart/form-data goes through the standard library's email parser: file names arrive as plain UTF-8,
as MIME encoded words (`=?UTF-8?B?...?=`) or as RFC 2231 parameters, and the parser decodes all three;
attachment bytes come out exactly as sent.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from cmc_webhooks.errors import InvalidEnvelope, UnsupportedMediaType
from cmc_webhooks.logic.decode import MULTIPART_TYPE, load_document, parse_content_type

# The text fields of an inbound post (`envelope-from` and `envelope-to` with CMC's hyphens).
TEXT_FIELDS = (
    "api_key",
    "server_composition",
    "filter",
    "subject",
    "text",
    "html",
    "envelope-from",
    "envelope-to",
)
ATTACHMENT_FIELD_PREFIX = "attachment"
# A file name is metadata (never an object key); longer names are cut here.
FILENAME_MAX_CHARS = 255
# More attachments than this in one mail are refused: the item and the event list each one.
MAX_ATTACHMENTS = 100


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class InboundPost:
    fields: dict[str, str]
    headers: list[tuple[str, str]]
    attachments: list[Attachment] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), as CMC sent it."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def parse_inbound(body: str | None, *, is_base64: bool, content_type: str | None) -> InboundPost:
    """The post in either encoding, or an error naming the field that is wrong."""
    media_type, charset = parse_content_type(content_type)
    raw = _raw_body(body, is_base64=is_base64)
    if media_type in ("application/json", "text/json") or (not media_type and raw.lstrip()[:1] == b"{"):
        try:
            text = raw.decode(charset).removeprefix("\ufeff")
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidEnvelope(f"the body is not {charset} text") from exc
        return _json_post(load_document(text))
    if media_type == MULTIPART_TYPE:
        return _multipart_post(raw, content_type or "", charset)
    raise UnsupportedMediaType(
        f"content type {media_type!r} is not supported: send application/json or {MULTIPART_TYPE}"
    )


def _raw_body(body: str | None, *, is_base64: bool) -> bytes:
    if not body:
        raise InvalidEnvelope("the body is empty")
    if not is_base64:
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidEnvelope("the body is flagged base64 but is not valid base64") from exc


def _json_post(document: dict[str, Any]) -> InboundPost:
    fields: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = document.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidEnvelope(f"the field `{name}` must be a string")
        fields[name] = value
    _check_count(document.get("attachments"), 0)
    return InboundPost(fields=fields, headers=parse_headers(document.get("headers")))


def _multipart_post(raw: bytes, content_type: str, charset: str) -> InboundPost:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        raise InvalidEnvelope("the multipart body has no parts (is the boundary right?)")
    fields: dict[str, str] = {}
    headers_text: str | None = None
    count: str | None = None
    attachments: list[Attachment] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None or (name.startswith(ATTACHMENT_FIELD_PREFIX) and name != "attachments"):
            attachments.append(
                Attachment(
                    filename=_clean_filename(filename or name),
                    content_type=part.get_content_type() if part.get("content-type") else "",
                    data=data,
                )
            )
            continue
        try:
            value = data.decode(part.get_content_charset() or charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidEnvelope(f"the multipart field `{name}` cannot be read as text") from exc
        if name in fields or (name == "headers" and headers_text is not None):
            raise InvalidEnvelope(f"the multipart field `{name}` appears twice")
        if name == "headers":
            headers_text = value
        elif name == "attachments":
            count = value
        elif name in TEXT_FIELDS:
            fields[name] = value
    _check_count(count, len(attachments))
    if len(attachments) > MAX_ATTACHMENTS:
        raise InvalidEnvelope(
            f"the mail has {len(attachments)} attachments; at most {MAX_ATTACHMENTS} are taken"
        )
    headers = parse_headers(None if headers_text is None else _headers_json(headers_text))
    return InboundPost(fields=fields, headers=headers, attachments=attachments)


def _headers_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidEnvelope("the field `headers` is not valid JSON") from exc


def parse_headers(value: Any) -> list[tuple[str, str]]:
    """`headers`: a list of {"name", "value"} (in multipart mode the list's JSON as a string)."""
    if isinstance(value, str):
        value = _headers_json(value)
    if value is None:
        raise InvalidEnvelope("the field `headers` is missing")
    if not isinstance(value, list):
        raise InvalidEnvelope("the field `headers` must be a list of {name, value} objects")
    headers: list[tuple[str, str]] = []
    for index, entry in enumerate(value):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("value"), str)
        ):
            raise InvalidEnvelope(
                f"the field `headers`: entry {index} is not a {{name, value}} object of strings"
            )
        headers.append((entry["name"], entry["value"]))
    return headers


def _check_count(value: Any, found: int) -> None:
    """`attachments`, when sent, must count the file parts that arrived: nothing is dropped unseen."""
    if value is None or value == "":
        return
    try:
        count = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidEnvelope("the field `attachments` must be a number") from exc
    if count != found:
        raise InvalidEnvelope(f"the field `attachments` says {count} but {found} file parts arrived")


def _clean_filename(name: str) -> str:
    """A file name as text: undecodable bytes replaced, control characters and path parts dropped."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = "".join(char for char in text if char.isprintable())
    text = text.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return text[:FILENAME_MAX_CHARS] or "attachment"
