"""cpu_100_ratio: warm CPU time of the handler for one 100-record webhook, AWS stubbed out,
divided by `json.loads` of the same body.

The rounds alternate, handler then json.loads, so that a slow spell of this shared machine hits
both alike; each side's figure is its best round (the least disturbed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.environment import quiet_handler
from bench.payloads import webhook_body
from cmc_dev.gateway import rest_proxy_event
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_webhooks import contract
from cmc_webhooks.models.store import StoredItem

ROUNDS = 9
BASELINE_ITERATIONS_FACTOR = 10  # json.loads is ~10x cheaper: rounds of about the same length


class NullStore:
    """The store with its AWS calls taken out: `write` accepts everything and does nothing."""

    def write(self, items: Sequence[StoredItem]) -> None:
        return None

    def message_events(self, message_id: str) -> list[StoredItem]:
        return []

    def recipient_events(self, recipient_key: str, *, limit: int) -> list[StoredItem]:
        return []


@dataclass(frozen=True)
class CpuResult:
    iterations: int
    handler_seconds: float  # CPU per webhook, best of ROUNDS
    json_loads_seconds: float

    @property
    def ratio(self) -> float:
        return self.handler_seconds / self.json_loads_seconds


def cpu_per_call(call: Callable[[], object], *, iterations: int) -> float:
    """CPU seconds per call of this thread over one round of `iterations` calls."""
    started = time.thread_time()
    for _ in range(iterations):
        call()
    return (time.thread_time() - started) / iterations


def alternating_best(
    call: Callable[[], object], baseline: Callable[[], object], *, iterations: int, rounds: int = ROUNDS
) -> tuple[float, float]:
    """The best CPU per call of `call` and of `baseline`, from rounds that alternate between them."""
    call()
    baseline()
    best_call = best_baseline = float("inf")
    for _ in range(rounds):
        best_call = min(best_call, cpu_per_call(call, iterations=iterations))
        best_baseline = min(
            best_baseline, cpu_per_call(baseline, iterations=iterations * BASELINE_ITERATIONS_FACTOR)
        )
    return best_call, best_baseline


@contextmanager
def stubbed_store(api_module: Any) -> Iterator[None]:
    original = api_module.event_store
    api_module.event_store = NullStore
    try:
        yield
    finally:
        api_module.event_store = original


def measure(*, iterations: int) -> CpuResult:
    from cmc_webhooks.handlers import api  # noqa: PLC0415 - after the environment is set

    body = webhook_body(100, tag="cpu")
    text = body.decode("utf-8")
    event = rest_proxy_event(
        method="POST",
        target=contract.WEBHOOK_PATH,
        headers=[("Content-Type", "application/json")],
        body=body,
        source_ip="127.0.0.1",
    )
    context = LocalLambdaContext()

    def handle() -> None:
        result = api.lambda_handler(event, context)
        if result["statusCode"] != 200:
            raise RuntimeError(f"the handler answered {result['statusCode']}: {result.get('body')}")

    with stubbed_store(api), quiet_handler(api):
        handler_seconds, json_seconds = alternating_best(
            handle, lambda: json.loads(text), iterations=iterations
        )
    return CpuResult(iterations=iterations, handler_seconds=handler_seconds, json_loads_seconds=json_seconds)
