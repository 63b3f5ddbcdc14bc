"""`make local`'s server answers as API Gateway and Lambda do past their limits: a response over 6 MB or a
function that raised is a 502, an invocation past 29 s a 504 (small limits here, the same code)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cmc_dev.server import INTEGRATION_TIMEOUT_SECONDS, MAX_RESPONSE_BYTES, make_http_server

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@contextmanager
def serving(handler: Handler, **limits: Any) -> Iterator[str]:
    server = make_http_server("127.0.0.1", 0, handler, access_log=False, **limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url + "/messages/x@example.com", timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def answering(body: str) -> Handler:
    return lambda event, context: {"statusCode": 200, "headers": {}, "body": body}


def test_the_limits_are_aws_own() -> None:
    assert (MAX_RESPONSE_BYTES, INTEGRATION_TIMEOUT_SECONDS) == (6 * 1024 * 1024, 29.0)


def test_a_response_over_lambdas_limit_is_a_502_and_one_under_it_passes() -> None:
    with serving(answering("x" * 2000), max_response_bytes=1000) as url:
        assert get(url) == (502, {"message": "Internal server error"})
    with serving(answering(json.dumps({"ok": True})), max_response_bytes=1000) as url:
        assert get(url) == (200, {"ok": True})


def test_a_function_that_raises_is_a_502() -> None:
    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    with serving(failing) as url:
        assert get(url) == (502, {"message": "Internal server error"})


def test_an_invocation_past_the_integration_timeout_is_a_504() -> None:
    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(1.0)
        return answering("{}")(event, context)

    with serving(slow, timeout_seconds=0.2) as url:
        assert get(url) == (504, {"message": "Endpoint request timed out"})
