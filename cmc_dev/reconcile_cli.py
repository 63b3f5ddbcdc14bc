"""`python -m cmc_dev.cli reconcile`: the reconciliation with CMC's API against any table (docs/reconcile.md).

    CMC_API_USER=... CMC_API_KEY=... python -m cmc_dev.cli reconcile --date YYYY-MM-DD [--until YYYY-MM-DD] \\
        --server-composition NAME --cmc-api-url URL --table TABLE [--endpoint-url URL] [--always]

One JSON summary per date on stdout, one line each; if a date failed, a one-line message on stderr and
exit status 1. The time zone, retention and limits follow the same CMC_* variables as the function.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cmc_webhooks.dal.cmc_api import ApiCredentials, CmcApiClient
from cmc_webhooks.dal.reconcile_store import ReconcileTableStore
from cmc_webhooks.logic.reconcile import ReconcileOptions, dates_between, reconcile_days
from cmc_webhooks.settings import IngestTunables, ReconcileTunables
from cmc_webhooks.wiring import ingest_options

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

API_USER, API_KEY = "CMC_API_USER", "CMC_API_KEY"


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "reconcile", help="store what the webhooks missed, read from CMC's API (CMC_API_USER, CMC_API_KEY)"
    )
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD, the first date")
    parser.add_argument(
        "--until", type=date.fromisoformat, help="YYYY-MM-DD, the last date (default: --date)"
    )
    parser.add_argument("--server-composition", required=True, help="CMC's server configuration name")
    parser.add_argument(
        "--cmc-api-url", required=True, help="the API's base up to and including /transaction/v2"
    )
    parser.add_argument(
        "--always", action="store_true", help="page through the deliveries even when the counts agree"
    )
    return parser


def run(args: argparse.Namespace, client: DynamoDBClient) -> int:
    """Exit status: 0 when every date was reconciled, 1 when one failed, 2 without credentials."""
    user, key = os.environ.get(API_USER, ""), os.environ.get(API_KEY, "")
    if not user or not key:
        print(f"set {API_USER} and {API_KEY} to CMC's API user and key", file=sys.stderr)
        return 2
    ingest, tunables = IngestTunables.model_validate(os.environ), ReconcileTunables.model_validate(os.environ)
    days = dates_between(args.date, args.until or args.date, max_days=tunables.reconcile_max_days)
    client.describe_table(TableName=args.table)  # a wrong --table fails here, before any API request
    retention = timedelta(days=ingest.retention_days)
    api = CmcApiClient(
        args.cmc_api_url,
        credentials=ApiCredentials(api_user=user, api_key=key),
        server_composition=args.server_composition,
        request_budget=tunables.reconcile_request_budget,
    )
    options = ReconcileOptions(
        server_composition=args.server_composition,
        ingest=ingest_options(ingest),
        always=args.always,
    )
    store = ReconcileTableStore(args.table, client=client, retention=retention)
    summaries, failures = reconcile_days(
        days, api=api, store=store, options=options, now=lambda: datetime.now(UTC)
    )
    for summary in summaries:
        print(json.dumps(summary, ensure_ascii=False))
    if failures:
        more = f" (and {len(failures) - 1} more dates)" if len(failures) > 1 else ""
        print(f"reconcile failed: {failures[0]}{more}", file=sys.stderr)
        return 1
    return 0
