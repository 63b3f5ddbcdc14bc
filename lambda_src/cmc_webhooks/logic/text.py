"""Text that JSON allows and UTF-8 does not: lone UTF-16 surrogates (`\\ud800`), found and replaced."""

from __future__ import annotations

import re
from typing import Any

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# What an item that held such text says.
REPAIRED = "lone surrogates replaced by U+FFFD"


def has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):  # ASCII text holds none (and most of CMC's is ASCII)
        return not value.isascii() and LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):  # JSON's keys are text too
        return has_lone_surrogate("".join(value)) or any(map(has_lone_surrogate, value.values()))
    if isinstance(value, list):
        return any(map(has_lone_surrogate, value))
    return False


def without_lone_surrogates(value: Any) -> Any:
    """`value` with every lone UTF-16 surrogate (JSON's `\\ud800`, which no UTF-8 can hold) replaced by
    U+FFFD: DynamoDB would refuse it, or store what no reader can read back."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(key): without_lone_surrogates(item) for key, item in value.items()}
    return value
