"""The scheduled reconciliation with CMC's API: yesterday by default, or the dates the event names.

    {}                                             yesterday, in the console's time zone
    {"date": "2026-11-20", "until": "2026-11-22"}  a range (at most CMC_RECONCILE_MAX_DAYS dates)
    {"date": "2026-11-20", "always": true}         page through the deliveries even if the counts agree

It answers and logs one JSON summary per date (docs/reconcile.md). A date that failed is in the answer with
its `error`, and counts in the ReconcileFailures metric, which raises an alarm; ReconcileWritten counts the
events the webhooks had missed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_webhooks import contract
from cmc_webhooks.dal.cmc_api import ApiCredentials, CmcApiClient
from cmc_webhooks.dal.reconcile_store import ReconcileTableStore
from cmc_webhooks.errors import CredentialsUnavailable
from cmc_webhooks.logic.reconcile import (
    ReconcileError,
    ReconcileOptions,
    dates_between,
    reconcile_days,
    yesterday,
)
from cmc_webhooks.settings import ReconcileSettings
from cmc_webhooks.wiring import ingest_options

logger = Logger(service=contract.SERVICE_NAME)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
tracer = Tracer(service=contract.SERVICE_NAME, patch_modules=contract.TRACED_MODULES)
# A secret rotated by hand reaches a warm function within this many seconds.
SECRET_MAX_AGE_SECONDS = 300


def api_credentials(secret_name: str) -> ApiCredentials:
    """CMC's API user and key from their own secret, with Powertools Parameters."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 - loads every provider

    try:
        value = parameters.get_secret(secret_name, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    except (parameters.exceptions.GetParameterError, parameters.exceptions.TransformParameterError) as exc:
        raise CredentialsUnavailable("the CMC API credentials could not be read") from exc
    if not isinstance(value, dict) or not value.get("api_user") or not value.get("api_key"):
        raise CredentialsUnavailable('the CMC API secret must hold {"api_user": ..., "api_key": ...}')
    return ApiCredentials(api_user=str(value["api_user"]), api_key=str(value["api_key"]))


@dataclass(frozen=True)
class ReconcileDependencies:
    settings: ReconcileSettings
    store: ReconcileTableStore
    credentials: Callable[[], ApiCredentials]


@cache
def reconcile_dependencies() -> ReconcileDependencies:
    settings = ReconcileSettings.from_env(os.environ)
    store = ReconcileTableStore(settings.table_name, retention=timedelta(days=settings.retention_days))
    return ReconcileDependencies(
        settings=settings, store=store, credentials=lambda: api_credentials(settings.api_secret_name)
    )


def requested_dates(event: dict[str, Any], settings: ReconcileSettings, now: datetime) -> list[date]:
    first_text, until_text = event.get("date"), event.get("until")
    try:
        first = date.fromisoformat(first_text) if first_text else yesterday(now, settings.tz)
        last = date.fromisoformat(until_text) if until_text else first
    except (TypeError, ValueError) as exc:
        raise ReconcileError("`date` and `until` must be dates, YYYY-MM-DD") from exc
    return dates_between(first, last, max_days=settings.reconcile_max_days)


def make_handler(
    get_dependencies: Callable[[], ReconcileDependencies],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        deps = get_dependencies()
        settings = deps.settings
        days = requested_dates(event, settings, datetime.now(UTC))
        api = CmcApiClient(
            settings.cmc_api_url,
            credentials=deps.credentials(),
            server_composition=settings.reconcile_server_composition,
            request_budget=settings.reconcile_request_budget,
        )
        options = ReconcileOptions(
            server_composition=settings.reconcile_server_composition,
            ingest=ingest_options(settings),
            always=bool(event.get("always")),
        )
        summaries, failures = reconcile_days(
            days, api=api, store=deps.store, options=options, now=lambda: datetime.now(UTC)
        )
        for summary in summaries:  # counts and dates only: no address, subject or credential
            logger.info("reconciled" if "error" not in summary else "reconcile failed", extra=summary)
        written = sum(summary.get("written", 0) for summary in summaries)
        metrics.add_metric(name=contract.Metric.RECONCILE_WRITTEN, unit=MetricUnit.Count, value=written)
        metrics.add_metric(
            name=contract.Metric.RECONCILE_FAILURES, unit=MetricUnit.Count, value=len(failures)
        )
        metrics.add_metric(
            name=contract.Metric.RECONCILE_API_REQUESTS, unit=MetricUnit.Count, value=api.requests
        )
        return {"dates": summaries, "failures": failures}

    return handler


lambda_handler = make_handler(reconcile_dependencies)
