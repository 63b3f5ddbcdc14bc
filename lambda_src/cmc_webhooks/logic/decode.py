"""Turn an HTTP body, in either encoding CMC uses, into the webhook's JSON document."""

from __future__ import annotations

import base64
import binascii
import json
import math
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from cmc_webhooks.errors import InvalidEnvelope, UnsupportedMediaType

JSON_TYPES = frozenset({"application/json", "text/json"})
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
# Form fields CMC sends besides `event` (which holds JSON as a string).
FORM_TEXT_FIELDS = ("event_type", "server_composition", "api_key")


def parse_content_type(header: str | None) -> tuple[str, str]:
    """Media type (lower case) and charset (default utf-8) of a Content-Type header."""
    if not header:
        return "", "utf-8"
    media_type, _, params = header.partition(";")
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset


def load_document(text: str) -> dict[str, Any]:
    """The JSON text of a webhook as a dict, or an error that names what is wrong with it."""
    document = _load_json(text, "the body")
    if not isinstance(document, dict):
        raise InvalidEnvelope("the body must be a JSON object with `event_type` and `event`")
    return document


def webhook_document(
    body: str | None, *, is_base64: bool, content_type: str | None, content_encoding: str | None = None
) -> dict[str, Any]:
    """The webhook's JSON document, whichever encoding carried it; an error naming what is wrong."""
    if content_encoding and content_encoding.strip().lower() != "identity":
        raise UnsupportedMediaType(
            f"Content-Encoding {content_encoding[:40]!r} is not supported: send the body as is"
        )
    media_type, charset = parse_content_type(content_type)
    raw = _body_bytes(body, is_base64=is_base64)
    if not media_type:
        # curl without -H: take JSON when it looks like JSON, else a form.
        media_type = "application/json" if raw.lstrip()[:1] == b"{" else FORM_TYPE
    if _is_json(media_type):
        return load_document(_text(raw, charset).removeprefix("\ufeff"))  # a byte order mark is no content
    if media_type == FORM_TYPE:
        return _form_document(raw, charset)
    if media_type == MULTIPART_TYPE:
        return _multipart_document(raw, content_type or "", charset)
    raise UnsupportedMediaType(
        f"content type {media_type!r} is not supported: "
        f"send application/json, {FORM_TYPE} or {MULTIPART_TYPE}"
    )


def _is_json(media_type: str) -> bool:
    return media_type in JSON_TYPES or media_type.endswith("+json")


def _body_bytes(body: str | None, *, is_base64: bool) -> bytes:
    if not body:
        raise InvalidEnvelope("the body is empty")
    if not is_base64:
        return body.encode("utf-8", "surrogatepass")
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidEnvelope("the body is flagged base64 but is not valid base64") from exc
    if not raw.strip():
        raise InvalidEnvelope("the body is empty")
    return raw


def _text(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except LookupError as exc:
        raise UnsupportedMediaType(f"charset {charset!r} is not known") from exc
    except UnicodeDecodeError as exc:
        raise InvalidEnvelope(f"the body is not valid {charset} text") from exc


class DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose key repeats is ambiguous (which value counts?): refused, not guessed."""
    document = dict(pairs)
    if len(document) != len(pairs):
        repeated = next(name for name, _ in pairs if sum(key == name for key, _ in pairs) > 1)
        raise DuplicateKey(f"the key {repeated[:100]!r} appears twice in one object")
    return document


def _number(text: str) -> float | str:
    """A number too large for a float (1E400) is kept as its text: strict JSON has no Infinity."""
    value = float(text)
    return value if math.isfinite(value) else text


def _load_json(text: str, what: str) -> Any:
    try:
        # NaN and Infinity are not JSON: kept as their text, like a number too large for a float.
        return json.loads(text, object_pairs_hook=_unique_keys, parse_float=_number, parse_constant=str)
    except DuplicateKey as exc:
        raise InvalidEnvelope(f"{what} is ambiguous: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidEnvelope(f"{what} is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    except RecursionError as exc:  # e.g. 100,000 `[`: not a webhook, and not a 5xx either
        raise InvalidEnvelope(f"{what} nests JSON too deeply") from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits (Python's limit)
        raise InvalidEnvelope(f"{what} is not JSON this receiver reads: {exc}") from exc


def _form_document(raw: bytes, charset: str) -> dict[str, Any]:
    # A form body is ASCII; percent-escapes decode in the declared charset.
    text = _text(raw, "ascii") if raw.isascii() else _text(raw, charset)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidEnvelope(f"a form field is not valid {charset} text") from exc
    except LookupError as exc:
        raise UnsupportedMediaType(f"charset {charset!r} is not known") from exc
    return _fields_document(pairs)


def _multipart_document(raw: bytes, content_type: str, charset: str) -> dict[str, Any]:
    """multipart/form-data with the same fields as the form encoding (file parts are ignored)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        raise InvalidEnvelope("the multipart body has no parts (is the boundary right?)")
    fields: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            # A part without its own charset is in the request's (UTF-8 unless declared).
            try:
                value = (payload if isinstance(payload, bytes) else b"").decode(
                    part.get_content_charset() or charset
                )
            except (LookupError, UnicodeDecodeError) as exc:
                raise InvalidEnvelope(f"the multipart field {name!r} cannot be read as text") from exc
            fields.append((name, value))
    return _fields_document(fields)


def _fields_document(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    fields = dict(pairs)
    for name in ("event", *FORM_TEXT_FIELDS):
        if sum(field == name for field, _ in pairs) > 1:
            raise InvalidEnvelope(f"the form field `{name}` appears twice")
    if "event" not in fields:
        raise InvalidEnvelope("the form has no `event` field")
    event = _load_json(fields["event"], "the form field `event`")
    document: dict[str, Any] = {name: fields[name] for name in FORM_TEXT_FIELDS if name in fields}
    # Some senders put the whole document into `event`: unwrap it, if it agrees with the form's fields.
    if isinstance(event, dict) and isinstance(event.get("event"), dict) and "event_type" in event:
        if conflicting := sorted(
            name for name in document if name in event and event[name] != document[name]
        ):
            raise InvalidEnvelope(f"the form and its `event` document disagree on {conflicting}")
        return {**document, **event}
    document["event"] = event
    return document
