"""cpu_100_ratio and aws_calls: the ingest handler warm, in a process of its own.

`measure` runs `python -m bench.warm ITERATIONS ROUNDS OUTPUT` against the loopback backend (moto stays in
the parent, so this process's CPU is the handler's). The child counts the AWS SDK's calls and their CPU
through botocore's documented events on boto3's default session, set up before the handler builds its
client:

- aws_calls: the calls one webhook of 1, 100 and 1,000 records makes; writes, and everything else as reads.
- cpu_100_ratio: the handler's CPU per 100-record webhook, with the function's own dependencies but a
  store that keeps nothing (`make_handler`: storing the items costs the same in any receiver), divided
  by `json.loads` of the same body. Rounds alternate, the handler's then `json.loads`', so that a slow
  spell of this shared machine hits both; each side's figure is its best round.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.session

from bench.environment import child_environment
from bench.payloads import webhook_event
from cmc_dev.backend import LocalBackend
from cmc_webhooks.logic.lookup import ItemPage

AWS_CALL_SIZES = (1, 100, 1000)
WRITE_OPERATIONS = frozenset(
    {"PutItem", "BatchWriteItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "PutEvents"}
)
BASELINE_ITERATIONS_FACTOR = 10  # json.loads is ~10x cheaper: rounds of about the same length
CHILD_TIMEOUT_SECONDS = 300


NOTHING = ItemPage([], more=False)


class NullStore:
    """An event store that keeps nothing and reads nothing."""

    def write(self, items: Any) -> None:
        pass

    def message_page(self, message_id: str, *, after: str | None, limit: int) -> ItemPage:
        return NOTHING

    def message_group_rest(self, message_id: str, after: str) -> list[Any]:
        return []

    def recipient_page(self, recipient_key: str, *, after: str | None, limit: int) -> ItemPage:
        return NOTHING

    def recipient_all(self, recipient_key: str) -> list[Any]:
        return []

    def api_data_page(self, key: str, *, after: str | None, limit: int) -> ItemPage:
        return NOTHING

    def api_data_group_rest(self, key: str, after: str) -> list[Any]:
        return []


class SdkMeter:
    """Every AWS SDK call of this process: its operation."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self.lock = threading.Lock()

    def install(self) -> None:
        """On boto3's default session: every client built from now on reports here."""
        session = botocore.session.get_session()
        session.register("provide-client-params", self.started)
        boto3.setup_default_session(botocore_session=session)

    # botocore passes each event's arguments by keyword.
    def started(self, **event: Any) -> None:
        with self.lock:
            self.operations.append(event["model"].name)


def classify(operations: list[str]) -> dict[str, int]:
    """Writes, and everything else as reads: any other round trip is one a webhook should not make."""
    writes = sum(1 for name in operations if name in WRITE_OPERATIONS)
    return {"write": writes, "read": len(operations) - writes}


def main() -> None:
    iterations, rounds, output = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    meter = SdkMeter()
    meter.install()
    from bench.handler import open_handler  # noqa: PLC0415
    from cmc_dev.lambda_context import LocalLambdaContext  # noqa: PLC0415
    from cmc_dev.local_function import local_dependencies  # noqa: PLC0415
    from cmc_webhooks.handlers.api import make_handler  # noqa: PLC0415

    stores = open_handler()

    def handle(event: dict[str, Any], records: int, handler: Any = stores) -> None:
        result = handler(event, LocalLambdaContext())
        if result["statusCode"] != 200 or json.loads(result["body"])["written"] != records:
            raise RuntimeError(
                f"{records} records: the handler answered {result['statusCode']}: {result['body']}"
            )

    aws_calls = {}
    for size in AWS_CALL_SIZES:
        event = webhook_event(size, tag=f"calls{size}")
        meter.operations.clear()
        handle(event, size)
        aws_calls[str(size)] = classify(meter.operations)

    event = webhook_event(100, tag="cpu")
    text = event["body"]
    open_dependencies = local_dependencies(os.environ)
    keeps_nothing = make_handler(lambda: dataclasses.replace(open_dependencies, store=NullStore()))
    handle(event, 100, keeps_nothing)
    best_handler = best_json = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(iterations):
            handle(event, 100, keeps_nothing)
        best_handler = min(best_handler, (time.process_time() - started) / iterations)
        started = time.process_time()
        for _ in range(iterations * BASELINE_ITERATIONS_FACTOR):
            json.loads(text)
        best_json = min(
            best_json, (time.process_time() - started) / (iterations * BASELINE_ITERATIONS_FACTOR)
        )
    result = {
        "aws_calls": aws_calls,
        "handler_seconds": best_handler,
        "json_loads_seconds": best_json,
    }
    output.write_text(json.dumps(result), encoding="utf-8")


def measure(backend: LocalBackend, *, iterations: int, rounds: int) -> dict[str, Any]:
    """The child's figures; its stdout (the handler's EMF lines) goes nowhere."""
    with tempfile.TemporaryDirectory(prefix="cmc-bench-") as tmp:
        output = Path(tmp) / "warm.json"
        command = [sys.executable, "-m", "bench.warm", str(iterations), str(rounds), str(output)]
        subprocess.run(
            command,
            env=child_environment(backend),
            stdout=subprocess.DEVNULL,
            timeout=CHILD_TIMEOUT_SECONDS,
            check=True,
        )
        figures: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return figures


if __name__ == "__main__":
    main()
