"""`python -m cmc_dev.cli inbound INBOUND_ID --table TABLE --bucket BUCKET`: a stored inbound mail.

The same JSON as GET /inbound/{inbound_id}: the metadata and presigned URLs (valid for five minutes)
of its bodies, headers and attachments.
"""

from __future__ import annotations

import argparse
from typing import Any

import boto3

from cmc_dev.backend import LocalBackend
from cmc_webhooks.dal.inbound import S3_CLIENT_CONFIG, DynamoDBInboundStore, S3MailObjects
from cmc_webhooks.logic.inbound import lookup_inbound


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "inbound", help="a received mail: its metadata and presigned URLs of its bodies and attachments"
    )
    parser.add_argument("key", metavar="INBOUND_ID", help="the inbound_id of an `Email Received` event")
    parser.add_argument("--bucket", required=True, help="the inbound bucket (stack output InboundBucketName)")
    return parser


def lookup(args: argparse.Namespace, dynamodb: Any) -> str:
    """The mail as JSON; raises what the store raises (cli.explain words it)."""
    if args.endpoint_url:  # a local backend: any credentials will do
        s3 = LocalBackend(endpoint_url=args.endpoint_url, table_name=args.table).client("s3")
    else:
        s3 = boto3.client("s3", region_name=args.region, config=S3_CLIENT_CONFIG)
    store = DynamoDBInboundStore(args.table, client=lambda: dynamodb)
    view = lookup_inbound(store, S3MailObjects(args.bucket, client=s3), args.key)
    return view.model_dump_json(indent=2, by_alias=True)
