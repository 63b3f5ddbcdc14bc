"""Command line: look up the event table, the same JSON as the API's GET routes.

    python -m cmc_dev.cli message '<id@example.com>' --table TABLE [--endpoint-url URL]
    python -m cmc_dev.cli recipient user@example.jp --table TABLE [--endpoint-url URL]

Without --endpoint-url it uses your AWS credentials and region, like the AWS CLI.
"""

from __future__ import annotations

import argparse
import os
import sys

import boto3
from pydantic import BaseModel

from cmc_dev.backend import LocalBackend
from cmc_webhooks.dal.dynamodb import CLIENT_CONFIG, DynamoDBEventStore
from cmc_webhooks.errors import WebhookError
from cmc_webhooks.logic.lookup import lookup_message, lookup_recipient
from cmc_webhooks.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cmc_dev.cli", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    message = commands.add_parser("message", help="history and current status of one message")
    message.add_argument("key", metavar="MESSAGE_ID", help="with or without <>")
    recipient = commands.add_parser("recipient", help="an address's events and whether it is suppressed")
    recipient.add_argument("key", metavar="ADDRESS")
    for command in (message, recipient):
        command.add_argument("--table", required=True, help="the event table (stack output EventTableName)")
        command.add_argument("--endpoint-url", help="a local backend, e.g. the one `make local` prints")
        command.add_argument("--region")
    args = parser.parse_args(argv)

    if args.endpoint_url:  # a local backend: any credentials will do
        client = LocalBackend(endpoint_url=args.endpoint_url, table_name=args.table).dynamodb()
    else:
        client = boto3.client("dynamodb", region_name=args.region, config=CLIENT_CONFIG)
    store = DynamoDBEventStore(args.table, client=client)
    try:
        if args.command == "message":
            history: BaseModel = lookup_message(store, args.key)
        else:  # the suppression rules as the deployed function has them: from the same variables
            history = lookup_recipient(store, args.key, Settings.from_env(os.environ).suppression_policy())
    except WebhookError as error:
        print(f"{error.code}: {error.message}", file=sys.stderr)
        return 1
    print(history.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
