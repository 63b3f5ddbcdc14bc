"""Command line: look a message up in the event table, the same JSON as GET /messages/{id}.

    python -m cmc_dev.cli message '<id@example.com>' --table TABLE [--endpoint-url URL]

Without --endpoint-url it uses your AWS credentials and region, like the AWS CLI.
"""

from __future__ import annotations

import argparse
import sys

import boto3

from cmc_dev.backend import LocalBackend
from cmc_webhooks.dal.dynamodb import CLIENT_CONFIG, DynamoDBEventStore
from cmc_webhooks.errors import WebhookError
from cmc_webhooks.logic.identity import normalize_message_id
from cmc_webhooks.logic.lookup import message_history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cmc_dev.cli", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    message = commands.add_parser("message", help="history and current status of one message")
    message.add_argument("message_id", help="with or without <>")
    message.add_argument("--table", required=True, help="the event table (stack output EventTableName)")
    message.add_argument("--endpoint-url", help="a local backend, e.g. the one `make local` prints")
    message.add_argument("--region")
    args = parser.parse_args(argv)

    if args.endpoint_url:  # a local backend: any credentials will do
        client = LocalBackend(endpoint_url=args.endpoint_url, table_name=args.table).dynamodb()
    else:
        client = boto3.client("dynamodb", region_name=args.region, config=CLIENT_CONFIG)
    store = DynamoDBEventStore(args.table, client=client)
    message_id = normalize_message_id(args.message_id)
    try:
        history = message_history(message_id, store.message_events(message_id))
    except WebhookError as error:
        print(f"{error.code}: {error.message}", file=sys.stderr)
        return 1
    print(history.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
