"""Command line: look up the event table, the same JSON as the API's GET routes.

    python -m cmc_dev.cli message '<id@example.com>' --table TABLE [--endpoint-url URL] [--region REGION]
    python -m cmc_dev.cli recipient user@example.jp --table TABLE [--endpoint-url URL] [--region REGION]
    python -m cmc_dev.cli inbound INBOUND_ID --table TABLE --bucket BUCKET [--endpoint-url URL] [--region R]
    python -m cmc_dev.cli api-data YOUR-ID --table TABLE [--endpoint-url URL] [--region REGION]
    python -m cmc_dev.cli suppressions --table TABLE [--format csv|jsonl] [--endpoint-url URL] [--region R]
    python -m cmc_dev.cli reconcile --date YYYY-MM-DD [--until YYYY-MM-DD] --server-composition NAME \
        --cmc-api-url URL --table TABLE [--endpoint-url URL]   (docs/reconcile.md)

The lookups print one page as the API answers it (--limit, --cursor from the last page's next_cursor), or with
--all every page, one JSON line each. Without --endpoint-url it uses your AWS credentials and region,
like the AWS CLI. A recipient's suppression follows the same CMC_* variables as the deployed function
(all optional).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from pydantic import ValidationError

from cmc_dev import inbound_cli, reconcile_cli
from cmc_dev.backend import LocalBackend
from cmc_dev.environment import invalid_setting
from cmc_dev.suppressions_cli import write_suppressions
from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import CLIENT_CONFIG, DynamoDBEventStore
from cmc_webhooks.dal.suppressions import DynamoDBSuppressionStore
from cmc_webhooks.errors import WebhookError
from cmc_webhooks.logic.lookup import lookup_api_data, lookup_message, lookup_recipient, page_limit
from cmc_webhooks.models.api import ApiDataPage, MessageHistory, RecipientHistory
from cmc_webhooks.settings import IngestTunables

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cmc_dev.cli", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    message = commands.add_parser("message", help="history and current status of one message")
    message.add_argument("key", metavar="MESSAGE_ID", help="with or without <>")
    recipient = commands.add_parser("recipient", help="an address's events and whether it is suppressed")
    recipient.add_argument("key", metavar="ADDRESS")
    suppressions = commands.add_parser("suppressions", help="every suppressed address, as CSV or JSON lines")
    suppressions.add_argument("--format", choices=("csv", "jsonl"), default="csv", dest="output_format")
    api_data = commands.add_parser("api-data", help="the messages carrying your own id (CMC's apiData)")
    api_data.add_argument("key", metavar="API_DATA", help="the X-Api-Data you set when sending")
    inbound = inbound_cli.add_parser(commands)
    reconcile = reconcile_cli.add_parser(commands)
    for command in (message, recipient, api_data, inbound, suppressions, reconcile):
        command.add_argument("--table", required=True, help="the event table (stack output EventTableName)")
        command.add_argument("--endpoint-url", help="a local backend, e.g. the one `make local` prints")
        command.add_argument("--region", help="the table's AWS region (default: AWS_REGION or your config)")
    for command in (message, recipient, api_data):
        command.add_argument("--limit", help=f"events a page (default {contract.PAGE_LIMIT_DEFAULT})")
        command.add_argument("--cursor", help="start at this page: the next_cursor of the page before")
        command.add_argument("--all", action="store_true", help="every page from there, one JSON line each")
    args = parser.parse_args(argv)

    where = args.endpoint_url or "AWS"
    try:
        client = dynamodb_client(args)  # without a region anywhere, this raises NoRegionError
        where = args.endpoint_url or f"region {client.meta.region_name}"
        if args.command == "reconcile":
            return reconcile_cli.run(args, client)
        store = DynamoDBEventStore(args.table, client=client)
        if args.command == "inbound":
            print(inbound_cli.lookup(args, client))
            return 0
        if args.command == "suppressions":
            suppressed = DynamoDBSuppressionStore(args.table, client=client)
            write_suppressions(suppressed, sys.stdout, output_format=args.output_format)
            return 0
        lookup = page_reader(args, store)
        limit, cursor = page_limit(args.limit), args.cursor
        while True:
            page = lookup(limit, cursor)
            print(page.model_dump_json() if args.all else page.model_dump_json(indent=2), flush=True)
            cursor = page.next_cursor
            if not args.all or cursor is None:
                return 0
    except (WebhookError, BotoCoreError, ClientError) as error:
        print(explain(error, table=args.table, where=where), file=sys.stderr)
        return 1
    except ValidationError as error:
        print(invalid_setting(error), file=sys.stderr)
        return 2


Page = MessageHistory | RecipientHistory | ApiDataPage


def page_reader(args: argparse.Namespace, store: DynamoDBEventStore) -> Callable[[int, str | None], Page]:
    """The command's lookup: one page for a limit and a cursor."""
    if args.command == "message":
        return lambda limit, cursor: lookup_message(store, args.key, limit=limit, cursor=cursor)
    if args.command == "api-data":
        return lambda limit, cursor: lookup_api_data(store, args.key, limit=limit, cursor=cursor)
    tunables = IngestTunables.model_validate(os.environ)
    policy, index = tunables.suppression_policy, tunables.recipient_index
    decisions = DynamoDBSuppressionStore(store.table_name, client=store.client)
    return lambda limit, cursor: lookup_recipient(
        store, args.key, policy, decisions, recipient_index=index, limit=limit, cursor=cursor
    )


def dynamodb_client(args: argparse.Namespace) -> DynamoDBClient:
    if args.endpoint_url:  # a local backend: any credentials will do
        return LocalBackend(endpoint_url=args.endpoint_url, table_name=args.table).dynamodb()
    return boto3.client("dynamodb", region_name=args.region, config=CLIENT_CONFIG)


def explain(error: Exception, *, table: str, where: str) -> str:  # noqa: PLR0911 - one line per failure
    """One line: what went wrong and what to do about it."""
    # The store raises its own error from the botocore one: that one says what happened.
    cause = error.__cause__ if isinstance(error.__cause__, BotoCoreError | ClientError) else error
    if isinstance(cause, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(cause, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE (or run `aws configure`), or pass --endpoint-url"
    if isinstance(cause, EndpointConnectionError):
        return f"cannot connect to {where}: check --endpoint-url (`make local` prints it) or your network"
    if isinstance(cause, ClientError):
        code, message = cause.response["Error"].get("Code", ""), cause.response["Error"].get("Message", "")
        if code == "ResourceNotFoundException":
            return f"no table {table!r} at {where}: check --table (the stack output EventTableName)"
        return f"AWS refused the lookup at {where}: {code}: {message}"
    if isinstance(cause, BotoCoreError):
        return f"the lookup at {where} failed: {cause}"
    if isinstance(cause, WebhookError):
        return f"{cause.code}: {cause.message}"
    return str(cause)


if __name__ == "__main__":
    sys.exit(main())
