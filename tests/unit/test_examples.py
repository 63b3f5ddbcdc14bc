"""The subscriber examples in docs/events.md parse a real published event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from cmc_dev.lambda_context import LocalLambdaContext
from examples import subscribers

EVENT = json.loads((Path(__file__).parents[1] / "fixtures" / "events" / "email_bounced.json").read_text())
CONTEXT = cast(LambdaContext, LocalLambdaContext())


@pytest.fixture
def suppressed(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    monkeypatch.setattr(subscribers, "suppress", seen.append)
    return seen


def test_a_lambda_target_gets_the_typed_detail(suppressed: list[Any]) -> None:
    subscribers.lambda_target_handler(EVENT, CONTEXT)
    [detail] = suppressed
    assert (detail.recipient, detail.bounce_code, detail.schema_version) == ("no-user@example.jp", "2", "1.0")
    assert detail.classification is not None
    assert detail.classification["bounce_type"] == "hard"


def test_an_sqs_target_gets_one_detail_per_message(suppressed: list[Any]) -> None:
    message = {
        "messageId": "m1",
        "receiptHandle": "r",
        "body": json.dumps(EVENT),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795708654000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795708654000",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:subscriber",
        "awsRegion": "ap-northeast-1",
    }
    subscribers.sqs_target_handler({"Records": [message, message]}, CONTEXT)
    assert [detail.event_id for detail in suppressed] == ["b9720a124d2c9d445c9f1b2c49ba53c4"] * 2
