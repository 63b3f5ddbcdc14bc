"""Which bodies the local gateway hands over base64-encoded: API Gateway's binary media type matching."""

from __future__ import annotations

import pytest

from cmc_dev.gateway import is_binary


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
