"""Normalized identifiers: how a messageId and an address become keys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from json import encoder as _json_encoder
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from cmc_webhooks import contract

# Canonical JSON: sorted keys, no spaces, UTF-8 as is. Exactly `json.dumps(value, sort_keys=True,
# ensure_ascii=False, separators=(",", ":"))`, with the encoder built once instead of on every
# call (the id is computed for every record; building the encoder was a third of its cost).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _c_canonical() -> Callable[[Any], str] | None:
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator: the encoder's own path
        return None
    # The arguments JSONEncoder.iterencode passes for the settings above (ensure_ascii=False).
    iterencode: Callable[[Any, int], Iterable[str]] = make(
        None, _CANONICAL.default, _json_encoder.encode_basestring, None, ":", ",", True, False, True
    )
    return lambda value: "".join(iterencode(value, 0))


canonical_json: Callable[[Any], str] = _c_canonical() or _CANONICAL.encode


def fits_partition_key(value: str) -> bool:
    """DynamoDB takes a partition key value of 1 to PARTITION_KEY_MAX_BYTES bytes of UTF-8."""
    # A character is at most 4 bytes: short values skip the encoding.
    return bool(value) and (
        len(value) * 4 <= contract.PARTITION_KEY_MAX_BYTES
        or len(value.encode("utf-8", "surrogatepass")) <= contract.PARTITION_KEY_MAX_BYTES
    )


def normalize_message_id(message_id: str) -> str:
    """`<abc@example.com>` and `abc@example.com` are the same message."""
    text = message_id.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return text


def normalize_address(address: str) -> str:
    """Domains are case-insensitive, local parts are not (RFC 5321 §2.4)."""
    text = address.strip()
    local, at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}" if at else text


def event_id(event_type: str, server_composition: str, record: Any) -> str:
    """Derived from the content only, so a record posted twice gets the same key."""
    return record_key(event_type, server_composition, record)[0]


def record_key(
    event_type: str, server_composition: str, record: Any, *, canonical_order: bool = False
) -> tuple[str, int]:
    """The event id, and the length of the record as canonical JSON in UTF-8 (a cheap bound on its
    item's size). `canonical_order`: the caller knows the record is a dict of strings whose keys are
    already sorted (a validated record of known fields), so its canonical JSON needs no sort."""
    canonical = _flat_canonical_json(event_type, server_composition, record, canonical_order)
    if canonical is None:
        canonical = canonical_json([event_type, server_composition, record]).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()[:32], len(canonical)


def _flat_canonical_json(
    event_type: str, server_composition: str, record: Any, canonical_order: bool
) -> bytes | None:
    """The same bytes as canonical_json for a record whose values are all strings (CMC's records are),
    from pydantic-core's encoder: about a third less CPU, check included, and this runs for every
    record. None otherwise."""
    if not canonical_order:
        if type(record) is not dict or not all(type(value) is str for value in record.values()):
            return None  # numbers and nested objects: the standard encoder's formatting and key order
        record = {name: record[name] for name in sorted(record)}
    try:
        return to_json([event_type, server_composition, record])
    except PydanticSerializationError:  # lone surrogates, which only the standard path keeps
        return None
