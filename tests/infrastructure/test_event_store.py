"""The synthesized table is the one contract.py (and so the local emulator) describes."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from cmc_dev.backend import recipient_projection
from cmc_webhooks import contract
from infra.settings import StageSettings
from tests.infrastructure.conftest import only


def test_table_keys_index_and_ttl_match_the_contract(template: Template, settings: StageSettings) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    properties = table["Properties"]

    assert properties["KeySchema"] == [
        {"AttributeName": contract.PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": contract.SORT_KEY, "KeyType": "RANGE"},
    ]
    indexes = properties["GlobalSecondaryIndexes"]
    assert [index for index in indexes if index["IndexName"] == contract.RECIPIENT_INDEX] == [
        {
            "IndexName": contract.RECIPIENT_INDEX,
            "KeySchema": [
                {"AttributeName": contract.RECIPIENT_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": contract.RECIPIENT_INDEX_SORT_KEY, "KeyType": "RANGE"},
            ],
            # What the local emulator creates for the same setting.
            "Projection": dict(recipient_projection(settings.recipient_index)),
        },
    ]
    assert [index for index in indexes if index["IndexName"] == contract.SUPPRESSED_INDEX] == [
        {
            "IndexName": contract.SUPPRESSED_INDEX,
            "KeySchema": [
                {"AttributeName": contract.SUPPRESSED_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": contract.SUPPRESSED_INDEX_SORT_KEY, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ]
    key_names = {contract.PARTITION_KEY, contract.SORT_KEY, contract.RECIPIENT_INDEX_PARTITION_KEY}
    key_names |= {contract.API_DATA_INDEX_PARTITION_KEY, contract.API_DATA_INDEX_SORT_KEY}
    key_names |= {contract.SUPPRESSED_INDEX_PARTITION_KEY, contract.SUPPRESSED_INDEX_SORT_KEY}
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": name, "AttributeType": "S"} for name in sorted(key_names)
    ]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": contract.TTL_ATTRIBUTE, "Enabled": True}


def test_the_api_data_index_is_keyed_on_its_own_attributes_and_keeps_only_what_a_status_needs(
    template: Template,
) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    [index] = [
        index
        for index in table["Properties"]["GlobalSecondaryIndexes"]
        if index["IndexName"] == contract.API_DATA_INDEX
    ]
    assert index["KeySchema"] == [
        {"AttributeName": contract.API_DATA_INDEX_PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": contract.API_DATA_INDEX_SORT_KEY, "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": list(contract.API_DATA_INDEX_PROJECTION),
    }


def test_table_is_on_demand_encrypted_recoverable_and_streams_new_images(template: Template) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    properties = table["Properties"]

    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}  # the AWS managed KMS key
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_a_retained_stage_keeps_the_table_and_protects_it_from_deletion(prod: Template) -> None:
    _, table = only(prod, "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_a_disposable_stage_can_be_torn_down(dev: Template) -> None:
    _, table = only(dev, "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["DeletionProtectionEnabled"] is False


def recipient_indexes(table: dict[str, Any]) -> list[dict[str, Any]]:
    indexes = table["Properties"]["GlobalSecondaryIndexes"]
    return [index for index in indexes if index["IndexName"] == contract.RECIPIENT_INDEX]


def test_the_sparse_recipient_index_projects_only_what_the_suppression_verdict_reads(prod: Template) -> None:
    _, table = only(prod, "AWS::DynamoDB::Table")
    [index] = recipient_indexes(table)
    assert index["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": list(contract.SUPPRESSION_INDEX_ATTRIBUTES),
    }


def test_the_full_recipient_index_projects_every_attribute(dev: Template) -> None:
    _, table = only(dev, "AWS::DynamoDB::Table")
    [index] = recipient_indexes(table)
    assert index["Projection"] == {"ProjectionType": "ALL"}
