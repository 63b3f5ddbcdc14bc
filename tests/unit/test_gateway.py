"""Which bodies the local gateway hands over base64-encoded: API Gateway's binary media type matching."""

from __future__ import annotations

import base64

import pytest

from cmc_dev.gateway import is_binary, proxy_body


@pytest.mark.parametrize(
    ("content_type", "binary_types", "expected"),
    [
        ("image/png", ("image/png",), True),
        ("Image/PNG; q=1", ("image/png",), True),
        ("image/gif", ("image/*",), True),
        ("application/json", ("*/*",), True),
        ("application/json", ("image/*", "application/octet-stream"), False),
        (None, ("image/png",), False),
        ("application/json", (), False),
    ],
)
def test_binary_media_types_match_as_api_gateway_matches_them(
    content_type: str | None, binary_types: tuple[str, ...], expected: bool
) -> None:
    assert is_binary(content_type, binary_types) is expected


def test_multipart_bodies_arrive_intact_as_base64_and_the_event_webhooks_text_bodies_as_text() -> None:
    raw = b"--b\r\n\xff\x00\xfe--b--\r\n"
    body, is_base64 = proxy_body(raw, "multipart/form-data; boundary=b")
    assert is_base64
    assert base64.b64decode(body or "") == raw
    for content_type in ("application/json", "application/x-www-form-urlencoded", None):
        assert proxy_body('{"件名": 1}'.encode(), content_type) == ('{"件名": 1}', False)
    # Not binary: invalid UTF-8 is replaced, as API Gateway does.
    assert proxy_body(b"a=\xff", "application/x-www-form-urlencoded") == ("a=\ufffd", False)
