"""The one retry delay the adapters sleep between attempts: exponential, capped, with jitter."""

from __future__ import annotations

import random


def jittered_backoff(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait before retry number `attempt` (0: the first retry): between half and all of
    min(cap, base * 2**attempt), so that retrying clients spread out."""
    backoff = min(cap, base * 2**attempt)
    return random.uniform(backoff / 2, backoff)  # noqa: S311 - jitter, not crypto
