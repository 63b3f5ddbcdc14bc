"""Page cursors: opaque to callers, checked when they come back.

A cursor says where the next page of one query starts: the key of the last item a page held (so it
stays correct after new writes: what sorts after it is on the next pages, whenever it was written). It
carries a digest of the query it was issued for, and a check over the whole; a cursor that was edited,
cut short or issued for another query is refused with a 400. The check is an integrity check, not a
secret: a cursor only says where to resume a query its caller may run from the start anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from cmc_webhooks.errors import InvalidQuery

CHECK_KEY = b"cmc-webhooks page cursor 1"
CHECK_BYTES = 12
CURSOR_MAX_CHARS = 8192  # three keys of at most 2 KB each, in base64


def _digest(data: bytes, size: int) -> bytes:
    return hashlib.blake2b(data, key=CHECK_KEY, digest_size=size).digest()


def _query_id(query: str, key: str) -> str:
    return _digest(f"{query}\0{key}".encode("utf-8", "surrogatepass"), 8).hex()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(query: str, key: str, position: list[str]) -> str:
    """The cursor of the page after `position` (the last item's key) in `query` for `key`."""
    payload = json.dumps([_query_id(query, key), position], ensure_ascii=False, separators=(",", ":"))
    data = payload.encode("utf-8", "surrogatepass")
    return f"{_b64(data)}.{_b64(_digest(data, CHECK_BYTES))}"


def resume(cursor: str | None, query: str, key: str, size: int) -> list[str] | None:
    """The position a cursor we issued for this query holds (None without a cursor)."""
    if cursor is None:
        return None
    data = _checked(cursor)
    try:
        query_id, position = json.loads(data.decode("utf-8", "surrogatepass"))
    except (ValueError, TypeError) as exc:  # only a cursor we issued gets past the check
        raise InvalidQuery("cursor: not one this API issued") from exc
    if query_id != _query_id(query, key):
        raise InvalidQuery("cursor: issued for another query; start again without it")
    if (
        not isinstance(position, list)
        or len(position) != size
        or not all(isinstance(part, str) for part in position)
        or not position[0]
    ):
        raise InvalidQuery("cursor: not one this API issued")
    return position


def _checked(cursor: str) -> bytes:
    body, dot, check = cursor.partition(".")
    try:
        if len(cursor) > CURSOR_MAX_CHARS or not dot or not cursor.isascii():
            raise ValueError("malformed")
        data, expected = _unb64(body), _unb64(check)
    except (ValueError, binascii.Error) as exc:
        raise InvalidQuery("cursor: not one this API issued (changed or cut short?)") from exc
    if not hmac.compare_digest(_digest(data, CHECK_BYTES), expected):
        raise InvalidQuery("cursor: not one this API issued (changed or cut short?)")
    return data
