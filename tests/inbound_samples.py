"""Inbound mail as CMC's inbound webhook posts it, for every tier's tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

INBOUND_FIXTURES = Path(__file__).parent / "fixtures" / "inbound"
BOUNDARY = "----cmcInboundBoundary7MA4YWxkTrZu0gW"
# Every byte value, and line endings a text parser would be tempted to touch.
BINARY = bytes(range(256)) + b"\r\n\r\r\n\n--" + bytes(range(255, -1, -1)) + b"\r\n"
JAPANESE_SUBJECT = "Re: お問い合わせの件"
JAPANESE_FILENAME = "見積書.txt"
JAPANESE_TEXT = "お世話になっております。見積書を添付します。\n".encode()


def mail_headers(message_id: str | None = "reply-0001@example.jp", **extra: str) -> list[dict[str, str]]:
    headers = [
        {"name": "From", "value": "=?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@example.jp>"},
        {"name": "To", "value": "support@example.com"},
        {"name": "Subject", "value": "=?UTF-8?B?UmU6IOOBiuWVj+OBhOWQiOOCj+OBmw==?="},
        {"name": "Date", "value": "Mon, 07 Dec 2026 10:15:00 +0900"},
    ]
    if message_id is not None:
        headers.append({"name": "Message-ID", "value": f"<{message_id}>"})
    headers += [{"name": name.replace("_", "-"), "value": value} for name, value in extra.items()]
    return headers


def headers_field(headers: list[dict[str, str]]) -> str:
    """`headers` as CMC's multipart mode sends it: JSON with < and > escaped."""
    return json.dumps(headers).replace("<", "\\u003C").replace(">", "\\u003E")


def fields(headers: list[dict[str, str]], **overrides: str) -> dict[str, str]:
    values = {
        "filter": "support",
        "server_composition": "sandbox",
        "envelope-from": "taro@example.jp",
        "envelope-to": "support@example.com",
        "subject": JAPANESE_SUBJECT,
        "text": "お世話になっております。",
        "html": "<p>お世話になっております。</p>",
        "headers": headers_field(headers),
    }
    return values | overrides


def multipart(
    text_fields: dict[str, str],
    files: list[tuple[str, bytes, str]],
    *,
    raw_filenames: bool = True,
    charset_fields: dict[str, tuple[bytes, str]] | None = None,
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type. `files`: (file name, bytes, content type), posted
    as attachment1..N with `attachments` = N; file names as raw UTF-8 or as MIME encoded words.
    `charset_fields`: fields as (bytes, charset), each part declaring its charset."""
    parts: list[bytes] = [
        f'Content-Disposition: form-data; name="{name}"\r\n'.encode()
        + f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode()
        + data
        for name, (data, charset) in (charset_fields or {}).items()
    ]
    all_fields = text_fields | {"attachments": str(len(files))} if files else dict(text_fields)
    for name, value in all_fields.items():
        parts.append(
            f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode("utf-8")
        )
    for index, (filename, data, content_type) in enumerate(files, start=1):
        shown = filename.encode() if raw_filenames else encoded_word(filename).encode()
        parts.append(
            f'Content-Disposition: form-data; name="attachment{index}"; filename="'.encode()
            + shown
            + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + data
        )
    body = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    body += b"--" + BOUNDARY.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def encoded_word(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def json_mail(headers: list[dict[str, str]], /, **overrides: Any) -> bytes:
    document: dict[str, Any] = {
        "filter": "support",
        "server_composition": "sandbox",
        "envelope-from": "taro@example.jp",
        "envelope-to": "support@example.com",
        "subject": JAPANESE_SUBJECT,
        "text": "お世話になっております。",
        "html": "",
        "headers": headers,
        "attachments": 0,
    }
    return json.dumps(document | overrides, ensure_ascii=False).encode()
