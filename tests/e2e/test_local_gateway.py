"""`make local`'s HTTP front as API Gateway REST: request framing, encoded path parameters, bodies and
the access log, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import fixture_text
from tests.e2e.test_local_server import LocalServer, launch, stop

# Legal in a Message-ID's left part (RFC 5322 atext), and each one special in a URL.
ODD_MESSAGE_ID = "<a%41b/c?d#e+f=g&h@example.com>"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    started = launch({})
    yield started
    stop(started)


def raw_exchange(server: LocalServer, request: bytes) -> bytes:
    """Send raw bytes; everything the server answers until it closes the connection (10 s at most)."""
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def webhook(message_id: str, *, subject: str = "x", event_type: str = "deliveries") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(fixture_text("seed_deliveries_succeeded"))
    record = document["event"]["deliveries"][0]
    record["messageId"], record["subject"] = message_id, subject
    document["event_type"] = event_type
    return document


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "5, 6"])
def test_a_content_length_that_is_no_length_gets_a_json_400_and_the_connection_closes(
    server: LocalServer, length: str
) -> None:
    answer = raw_exchange(
        server,
        f"POST /webhooks/events HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode(),
    )

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer
    assert b"Connection: close" in head
    assert json.loads(body)["error"] == "bad_request"


def test_a_chunked_body_is_read_as_one_body_and_the_connection_goes_on(server: LocalServer) -> None:
    address = urlsplit(server.base_url)
    document = json.dumps(webhook("<chunked@example.com>")).encode()
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/webhooks/events",
            body=iter([document[:40], document[40:]]),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["written"]) == (200, 1)

        connection.request("GET", "/messages/chunked%40example.com")  # the same connection
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["events"][0]["status"] == "succeeded"
    finally:
        connection.close()


def test_a_transfer_encoding_other_than_chunked_gets_a_json_400(server: LocalServer) -> None:
    answer = raw_exchange(
        server, b"POST /webhooks/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
    )

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer
    assert json.loads(body)["error"] == "bad_request"


def test_ids_with_url_characters_are_found_by_their_percent_encoded_path_decoded_once(
    server: LocalServer,
) -> None:
    status, _ = server.request(
        "POST", "/webhooks/events", json.dumps(webhook(ODD_MESSAGE_ID)).encode(), "application/json"
    )
    assert status == 200

    status, history = server.request("GET", "/messages/" + quote(ODD_MESSAGE_ID, safe=""))
    assert status == 200, history
    assert history["message_id"] == ODD_MESSAGE_ID.strip("<>")
    # `%41` is part of the id, not an encoded "A": a second decoding would look up another id.
    status, body = server.request("GET", "/messages/" + quote("<aAb/c?d#e+f=g&h@example.com>", safe=""))
    assert (status, body["error"]) == (404, "message_not_found")


def test_a_body_that_is_not_utf8_arrives_as_text_with_replacement_characters(server: LocalServer) -> None:
    """No binary media types: API Gateway hands the function text, each invalid byte replaced."""
    document = json.dumps(webhook("<latin1@example.com>", subject="caf\x00"), ensure_ascii=False)
    body = document.encode("utf-8").replace(b"caf\\u0000", b"caf\xe9")  # one Latin-1 byte

    status, answer = server.request("POST", "/webhooks/events", body, "application/json")
    assert (status, answer["written"]) == (200, 1), answer

    status, history = server.request("GET", "/messages/latin1%40example.com")
    assert history["events"][0]["subject"] == "caf\ufffd"


def test_the_access_log_names_the_route_never_a_path_parameter_nor_the_sent_event_type(
    server: LocalServer,
) -> None:
    server.request("GET", "/recipients/" + quote("secret-person@example.org", safe=""))
    server.request("GET", "/nowhere/secret-path")
    leaky = webhook("<leaky@example.com>", event_type="secret-type@example.org")
    leaky["event"]["unknown-kind"] = [{"to": "x@example.org"}]  # an exception: the batch is logged
    status, _ = server.request("POST", "/webhooks/events", json.dumps(leaky).encode(), "application/json")
    assert status == 200

    assert server.output.wait_for(lambda lines: any("local-http POST" in x for x in lines[-5:]), 10)
    logged = server.output.text()
    assert "local-http GET /recipients/{address} 200" in logged
    assert "local-http GET (no route) 404" in logged
    assert "webhook stored with exceptions" in logged
    assert "secret" not in logged, logged
