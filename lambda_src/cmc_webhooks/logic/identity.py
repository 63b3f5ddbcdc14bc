"""Normalized identifiers: how a messageId and an address become keys."""

from __future__ import annotations

import hashlib
import json
from typing import Any


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
    canonical = json.dumps(
        [event_type, server_composition, record], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]
