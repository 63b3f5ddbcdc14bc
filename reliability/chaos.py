"""A fault-injecting proxy between the functions and moto, on loopback.

It forwards AWS JSON-protocol calls to moto and, as its policy says, answers some with
DynamoDB throttling or 5xx, hands back part of a BatchWriteItem as UnprocessedItems (having
stored only the rest), or fails some PutEvents entries (having published only the rest) --
what AWS does under load, with a seeded random generator so a run can be repeated; and it can throttle
every BatchWriteItem for some seconds from the first one (an outage of the table's write capacity).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DDB = "DynamoDB_20120810."
EVENTS = "AWSEvents."


@dataclass
class FaultPolicy:
    ddb_throttle: float = 0.0  # share of BatchWriteItem calls answered 400 ThrottlingException
    ddb_server_error: float = 0.0  # share answered 500 InternalServerError
    ddb_unprocessed: float = 0.0  # share of put requests handed back as UnprocessedItems
    events_entry_failure: float = 0.0  # share of PutEvents entries reported failed
    ddb_outage_seconds: float = 0.0  # every BatchWriteItem answered ThrottlingException for this long
    seed: int = 7
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def roll(self, share: float) -> bool:
        with self._lock:
            return self._random.random() < share

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + n


class ChaosProxy:
    def __init__(self, upstream: str, policy: FaultPolicy) -> None:
        self.upstream = urlsplit(upstream)
        self.policy = policy
        self.first_write: float | None = None  # the outage starts with the first BatchWriteItem
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, data = proxy.handle(
                    self.headers.get("X-Amz-Target", ""), dict(self.headers), body
                )
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ChaosProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forward(self, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream.netloc, timeout=30)
        try:
            connection.request("POST", "/", body=body, headers={**headers, "Content-Length": str(len(body))})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def handle(
        self, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        policy = self.policy
        if target == DDB + "BatchWriteItem":
            self.first_write = self.first_write or time.monotonic()
            if time.monotonic() - self.first_write < policy.ddb_outage_seconds:
                policy.count("ddb_throttled_in_outage")
                return _error(400, "com.amazonaws.dynamodb.v20120810#ThrottlingException", "Rate exceeded")
            if policy.roll(policy.ddb_throttle):
                policy.count("ddb_throttled")
                return _error(400, "com.amazonaws.dynamodb.v20120810#ThrottlingException", "Rate exceeded")
            if policy.roll(policy.ddb_server_error):
                policy.count("ddb_server_error")
                return _error(500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal error")
            if policy.ddb_unprocessed:
                return self._partial_batch_write(headers, body)
        if target == EVENTS + "PutEvents" and policy.events_entry_failure:
            return self._partial_put_events(headers, body)
        return self.forward(headers, body)

    def _partial_batch_write(
        self, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        request = json.loads(body)
        kept: dict[str, list[Any]] = {}
        handed_back: dict[str, list[Any]] = {}
        for table, puts in request["RequestItems"].items():
            for put in puts:
                back = self.policy.roll(self.policy.ddb_unprocessed)
                (handed_back if back else kept).setdefault(table, []).append(put)
        self.policy.count("ddb_unprocessed_items", sum(len(v) for v in handed_back.values()))
        if kept:
            status, response_headers, data = self.forward(
                headers, json.dumps({**request, "RequestItems": kept}).encode()
            )
            if status != 200:
                return status, response_headers, data
        else:
            response_headers = [("Content-Type", "application/x-amz-json-1.0")]
        return 200, response_headers, json.dumps({"UnprocessedItems": handed_back}).encode()

    def _partial_put_events(
        self, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        request = json.loads(body)
        failing = [self.policy.roll(self.policy.events_entry_failure) for _ in request["Entries"]]
        passing = [entry for entry, fails in zip(request["Entries"], failing, strict=True) if not fails]
        self.policy.count("events_entries_failed", sum(failing))
        results: list[dict[str, Any]] = []
        response_headers = [("Content-Type", "application/x-amz-json-1.1")]
        if passing:
            status, response_headers, data = self.forward(
                headers, json.dumps({**request, "Entries": passing}).encode()
            )
            if status != 200:
                return status, response_headers, data
            results = json.loads(data)["Entries"]
        published = iter(results)
        entries = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} if fails else next(published)
            for fails in failing
        ]
        response = {"FailedEntryCount": sum(failing), "Entries": entries}
        return 200, response_headers, json.dumps(response).encode()


def _error(status: int, error_type: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"__type": error_type, "message": message}).encode()
    return status, [("Content-Type", "application/x-amz-json-1.0")], body
