"""Our handler as the benchmarks run it. No import of the dev tools (moto): a cold start times this."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any


def open_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The function's handler, its dependencies built from the environment on the first request, open as
    `make local` runs it (deployed, a cold start also reads the webhook's secret: one GetSecretValue)."""
    from cmc_webhooks.dal.credentials import StaticCredentials  # noqa: PLC0415 - Powertools reads the
    from cmc_webhooks.handlers.api import make_handler  # noqa: PLC0415 - environment when it loads
    from cmc_webhooks.logic.auth import CredentialSet  # noqa: PLC0415
    from cmc_webhooks.settings import IngestSettings  # noqa: PLC0415
    from cmc_webhooks.wiring import ApiDependencies  # noqa: PLC0415

    @cache
    def dependencies() -> ApiDependencies:
        settings = IngestSettings.from_env(os.environ)
        return ApiDependencies.from_settings(settings, credentials=StaticCredentials(CredentialSet()))

    return make_handler(dependencies)
