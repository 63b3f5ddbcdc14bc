"""Normalized identifiers: how a messageId and an address become keys, and how a record gets its id."""

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
    """`Taro <taro@example.jp>` is taro@example.jp; domains are case-insensitive, local parts are not
    (RFC 5321 §2.4)."""
    text = address.strip()
    if text.endswith(">") and "<" in text:  # a display name: the address is what the brackets hold
        text = text[text.rindex("<") + 1 : -1].strip()
    local, at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}" if at else text


def content_id(*parts: str) -> str:
    """A deterministic id of a sequence of texts: SHA-256 of the parts, each preceded by its length (no
    two different sequences make the same text), 128 bits in hex (docs/data-model.md)."""
    text = "".join([f"{len(part)}:{part}" for part in parts])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def canonical_json(value: Any) -> str:
    """One text for a JSON value however its keys were ordered: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
