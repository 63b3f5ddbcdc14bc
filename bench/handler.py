"""Our handler as the benchmarks run it. No import of the dev tools (moto): a cold start times this."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any


def open_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The function's handler, its dependencies built from the environment on the first request, open as
    `make local` runs it (deployed, a cold start also reads the webhook's secret: one GetSecretValue)."""
    from cmc_dev.local_function import local_dependencies  # noqa: PLC0415 - Powertools reads the
    from cmc_webhooks.handlers.api import make_handler  # noqa: PLC0415 - environment when it loads

    return make_handler(cache(lambda: local_dependencies(os.environ)))
