"""The Powertools settings every benchmark runs the handler with: as deployed, minus the daemons."""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager, redirect_stdout
from typing import Any

from cmc_webhooks import contract

# Tracing off (no X-Ray daemon here); metrics on (EMF lines on stdout, as Lambda ships them to
# CloudWatch); logs at INFO, as the prod stage sets them.
POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "false",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def apply(env: MutableMapping[str, str]) -> None:
    env.update(POWERTOOLS)


@contextmanager
def quiet_handler(api_module: Any) -> Iterator[None]:
    """The handler's log lines and metric blobs go to /dev/null (they are still formatted)."""
    handler = api_module.logger.registered_handler
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        previous = handler.setStream(devnull)
        try:
            with redirect_stdout(devnull):
                yield
        finally:
            handler.setStream(previous)
