"""The environment every benchmark process runs the handler with: as deployed, minus the daemons."""

from __future__ import annotations

import os

from cmc_dev.backend import LocalBackend
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


def child_environment(backend: LocalBackend) -> dict[str, str]:
    """This process's environment, pointed at the loopback backend, with the deployed Powertools settings."""
    return {**os.environ, **backend.environment(), **POWERTOOLS}
