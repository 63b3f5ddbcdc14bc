"""DynamoDB adapter of the suppression store: decisions and state items in the event table.

Decisions are PutItem calls that never overwrite; a state item is a PutItem conditional on the version
read; the list is a Query of the sparse `suppressed` index, a page at a time (docs/suppressions.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import CLIENT_CONFIG, AttributeValue, deserialize
from cmc_webhooks.errors import StorageUnavailable
from cmc_webhooks.logic.suppression import Decision, Suppression
from cmc_webhooks.logic.suppressions import Expired, StateRecord, StreamEntry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100  # BatchGetItem takes at most 100 keys per call
DECISION_FIELDS = ("action", "decided_at", "actor", "reason", "note")
STATE_FIELDS = ("reason", "since", "cause_event_id", "decision_id", "actor", "lifted_at")


def partition(address: str) -> str:
    return f"{contract.SUPPRESSION_PARTITION_PREFIX}{address}"


def _strings(raw: dict[str, AttributeValue], names: Iterable[str]) -> dict[str, str]:
    return {name: raw[name]["S"] for name in names if name in raw}


def decision_item(address: str, decision: Decision) -> dict[str, AttributeValue]:
    item = {
        contract.PARTITION_KEY: {"S": partition(address)},
        contract.SORT_KEY: {
            "S": f"{contract.DECISION_SORT_KEY_PREFIX}{decision.decided_at}#{decision.decision_id}"
        },
        "address": {"S": address},
    }
    for name in DECISION_FIELDS:
        if (value := getattr(decision, name)) is not None:
            item[name] = {"S": value}
    return item


def decision_of(raw: dict[str, AttributeValue]) -> tuple[str, Decision]:
    fields = _strings(raw, DECISION_FIELDS)
    decision = Decision(
        decision_id=raw[contract.SORT_KEY]["S"].rpartition("#")[2],
        action="suppress" if fields["action"] == "suppress" else "lift",
        decided_at=fields["decided_at"],
        actor=fields["actor"],
        reason=fields.get("reason"),
        note=fields.get("note"),
    )
    return raw["address"]["S"], decision


def state_item(record: StateRecord) -> dict[str, AttributeValue]:
    state = record.state
    item: dict[str, AttributeValue] = {
        contract.PARTITION_KEY: {"S": partition(record.address)},
        contract.SORT_KEY: {"S": contract.SUPPRESSION_STATE_SORT_KEY},
        "address": {"S": record.address},
        "suppressed": {"BOOL": state.suppressed},
        "cmc_block_list": {"BOOL": state.cmc_block_list},
        "version": {"N": str(record.version)},
        "changes": {"N": str(record.changes)},
    }
    for name in STATE_FIELDS:
        if (value := getattr(state, name)) is not None:
            item[name] = {"S": value}
    if record.state_change:
        item[contract.STATE_CHANGE_ATTRIBUTE] = {"S": record.state_change}
    if state.suppressed:  # the sparse index holds the suppressed addresses only
        item[contract.SUPPRESSED_INDEX_PARTITION_KEY] = {"S": contract.SUPPRESSED_INDEX_PARTITION_VALUE}
        item[contract.SUPPRESSED_INDEX_SORT_KEY] = {"S": record.address}
    return item


def state_of(raw: dict[str, AttributeValue]) -> StateRecord:
    fields = _strings(raw, STATE_FIELDS)
    return StateRecord(
        address=raw["address"]["S"],
        state=Suppression(
            suppressed=raw["suppressed"]["BOOL"],
            cmc_block_list=raw.get("cmc_block_list", {}).get("BOOL", False),
            **fields,
        ),
        version=int(raw["version"]["N"]),
        changes=int(raw["changes"]["N"]),
        state_change=raw.get(contract.STATE_CHANGE_ATTRIBUTE, {}).get("S"),
    )


def stream_entry(change: dict[str, Any]) -> StreamEntry:
    """A stream record's `dynamodb` part as the tracker reads it: an event, a decision, a state item, or
    (no new image: a deletion) the event deleted."""
    if "NewImage" not in change:
        return Expired(deserialize(change["OldImage"]))
    image: dict[str, AttributeValue] = change["NewImage"]
    sort_key = image[contract.SORT_KEY]["S"]
    if sort_key == contract.SUPPRESSION_STATE_SORT_KEY:
        return state_of(image)
    if sort_key.startswith(contract.DECISION_SORT_KEY_PREFIX):
        return decision_of(image)
    return deserialize(image)


class DynamoDBSuppressionStore:
    def __init__(self, table_name: str, *, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @cached_property
    def client(self) -> DynamoDBClient:
        return self._client or boto3.client("dynamodb", config=CLIENT_CONFIG)

    def decisions(self, address: str) -> list[Decision]:
        paginator = self.client.get_paginator("query")
        decisions = []
        try:
            for page in paginator.paginate(
                TableName=self.table_name,
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
                ExpressionAttributeNames={"#pk": contract.PARTITION_KEY, "#sk": contract.SORT_KEY},
                ExpressionAttributeValues={
                    ":pk": {"S": partition(address)},
                    ":prefix": {"S": contract.DECISION_SORT_KEY_PREFIX},
                },
                ConsistentRead=True,
            ):
                decisions += [decision_of(cast(dict[str, AttributeValue], raw))[1] for raw in page["Items"]]
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the suppression store could not be read; try again") from exc
        return decisions

    def add_decision(self, address: str, decision: Decision) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=decision_item(address, decision),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": contract.PARTITION_KEY},
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the decision could not be stored; try again") from exc

    def states(self, addresses: Iterable[str]) -> dict[str, StateRecord]:
        keys = [
            {
                contract.PARTITION_KEY: {"S": partition(address)},
                contract.SORT_KEY: {"S": contract.SUPPRESSION_STATE_SORT_KEY},
            }
            for address in dict.fromkeys(addresses)
        ]
        found: dict[str, StateRecord] = {}
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending: dict[str, Any] = {
                self.table_name: {"Keys": keys[start : start + BATCH_GET_LIMIT], "ConsistentRead": True}
            }
            while pending:
                try:
                    response = self.client.batch_get_item(RequestItems=pending)
                except (ClientError, BotoCoreError) as exc:
                    raise StorageUnavailable("the suppression store could not be read; try again") from exc
                for raw in response["Responses"].get(self.table_name, []):
                    record = state_of(cast(dict[str, AttributeValue], raw))
                    found[record.address] = record
                pending = dict(response.get("UnprocessedKeys") or {})
        return found

    def put_state(self, record: StateRecord, *, expected_version: int | None) -> bool:
        if expected_version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#pk)"}
            names = {"#pk": contract.PARTITION_KEY}
        else:
            condition = {
                "ConditionExpression": "#version = :version",
                "ExpressionAttributeValues": {":version": {"N": str(expected_version)}},
            }
            names = {"#version": "version"}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=state_item(record),
                ExpressionAttributeNames=names,
                **condition,
            )
        except ClientError as exc:
            if exc.response["Error"].get("Code") == "ConditionalCheckFailedException":
                return False
            raise StorageUnavailable("the suppression state could not be written; try again") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable("the suppression state could not be written; try again") from exc
        return True

    def suppressed_page(self, limit: int, after: str | None) -> tuple[list[StateRecord], str | None]:
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": contract.SUPPRESSED_INDEX,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": contract.SUPPRESSED_INDEX_PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": contract.SUPPRESSED_INDEX_PARTITION_VALUE}},
            "Limit": limit,
        }
        if after is not None:
            query["ExclusiveStartKey"] = {
                contract.SUPPRESSED_INDEX_PARTITION_KEY: {"S": contract.SUPPRESSED_INDEX_PARTITION_VALUE},
                contract.SUPPRESSED_INDEX_SORT_KEY: {"S": after},
                contract.PARTITION_KEY: {"S": partition(after)},
                contract.SORT_KEY: {"S": contract.SUPPRESSION_STATE_SORT_KEY},
            }
        try:
            response = self.client.query(**query)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable("the suppression list could not be read; try again") from exc
        records = [state_of(cast(dict[str, AttributeValue], raw)) for raw in response["Items"]]
        last = response.get("LastEvaluatedKey")
        return records, (last[contract.SUPPRESSED_INDEX_SORT_KEY]["S"] if last else None)
