"""End to end: `make local`'s server as a user runs it, over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tests.conftest import SEED_FIXTURES, fixture_text

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60
BOUNCED_MESSAGE = "8f902ee7-ae65-8711-48a8-2f708cb14205@example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OutputReader(threading.Thread):
    """Collects the server's output lines as they come, so tests can wait for one."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []
        self.changed = threading.Condition()

    def run(self) -> None:
        for line in self.stream:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.lines) or not self.is_alive(), timeout) and (
                predicate(self.lines)
            )

    def text(self) -> str:
        with self.changed:
            return "".join(self.lines)


@dataclass
class LocalServer:
    base_url: str
    banner: str
    process: subprocess.Popen[str]
    output: OutputReader

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, Any]:
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def subscriber_events(self) -> list[dict[str, Any]]:
        prefix = "subscriber-event "
        return [
            json.loads(line[len(prefix) :])
            for line in self.output.text().splitlines()
            if line.startswith(prefix)
        ]


def local_env(port: str) -> dict[str, str]:
    env = {**os.environ, "PORT": port, "PYTHONUNBUFFERED": "1"}
    for name in [name for name in env if name.startswith(("AWS_", "CMC_"))]:
        del env[name]  # the local server must need no AWS configuration at all
    return env


def launch(extra_env: dict[str, str]) -> LocalServer:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cmc_dev.server"],
        cwd=ROOT,
        env={**local_env(str(port)), **extra_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = OutputReader(process.stdout)
    output.start()
    # The banner's last command: the whole banner has been read once it is there.
    started = output.wait_for(lambda lines: any("cmc_dev.cli reconcile" in x for x in lines), STARTUP_SECONDS)
    assert started, output.text()
    return LocalServer(f"http://127.0.0.1:{port}", output.text(), process, output)


def stop(server: LocalServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        server.process.wait(timeout=20)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    started = launch({})
    yield started
    stop(started)


def printed_commands(banner: str) -> list[str]:
    return [
        line.strip() for line in banner.splitlines() if line.strip().startswith(("curl ", sys.executable))
    ]


# The parts of an inbound mail's lookup that hold presigned URLs (signed anew on every lookup).
URLS = {"headers", "text", "html", "attachments"}


def test_the_printed_curl_commands_work_as_pasted(server: LocalServer) -> None:
    assert "authentication is OFF" in server.banner
    commands = printed_commands(server.banner)
    assert len(commands) == 15, server.banner
    (
        post_json,
        post_form,
        post_bounce,
        lookup,
        recipient,
        by_api_data,
        first_page,
        post_mail,
        mail,
        mail_cli,
        cli,
        *suppressions,
    ) = commands
    suppress, lift, listing, export = suppressions

    for command in (post_json, post_form, post_bounce):
        result = subprocess.run(
            shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
        )
        assert json.loads(result.stdout)["written"] == 1, result.stdout

    result = subprocess.run(
        shlex.split(lookup), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    history = json.loads(result.stdout)
    assert [event["status"] for event in history["events"]] == ["queued", "succeeded"]
    assert history["recipients"][0]["status"] == "succeeded"

    result = subprocess.run(
        shlex.split(recipient), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    view = json.loads(result.stdout)
    assert (view["suppressed"], view["suppression_reason"]) == (True, "hard_bounce:user_unknown")

    result = subprocess.run(
        shlex.split(by_api_data), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == {"api_data": "YOUR-ID", "messages": [], "next_cursor": None}

    result = subprocess.run(
        shlex.split(first_page), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    page = json.loads(result.stdout)
    assert page["events"] == history["events"][:1]
    assert page["next_cursor"]

    result = subprocess.run(
        shlex.split(cli), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == history

    # An inbound mail replying to the first message: stored, then looked up by its id (API and CLI).
    result = subprocess.run(
        shlex.split(post_mail), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    stored = json.loads(result.stdout)
    assert (stored["stored"], stored["attachments"]) == (True, 2), result.stdout
    views = []
    for command in (mail, mail_cli):
        pasted = command.replace("INBOUND_ID", stored["inbound_id"])
        result = subprocess.run(
            shlex.split(pasted), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
        )
        views.append(json.loads(result.stdout))
    for view in views:
        assert view["related_message_id"] == history["message_id"]
        assert [a["filename"] for a in view["attachments"]] == ["見積書.txt", "pixels.png"]
    assert {k: v for k, v in views[0].items() if k not in URLS} == {
        k: v for k, v in views[1].items() if k not in URLS
    }

    def run(command: str) -> str:
        return subprocess.run(
            shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
        ).stdout

    def changes(detail_type: str) -> list[dict[str, Any]]:
        return [
            event["detail"]
            for event in server.subscriber_events()
            if event["detail-type"] == detail_type and event["detail"]["address"] == "someone@example.jp"
        ]

    answer = json.loads(run(suppress))
    assert (answer["changed"], answer["state"]["reason"]) == (True, "manual:complaint_by_phone")
    assert server.output.wait_for(lambda _: bool(changes("Recipient Suppressed")), 30), server.output.text()
    listed = {entry["address"]: entry for entry in json.loads(run(listing))["suppressions"]}
    assert listed["someone@example.jp"]["reason"] == "manual:complaint_by_phone"
    assert "someone@example.jp,manual:complaint_by_phone" in run(export)

    answer = json.loads(run(lift))
    assert (answer["changed"], answer["decision"]["note"]) == (True, "the owner asked again")
    assert server.output.wait_for(lambda _: bool(changes("Recipient Unsuppressed")), 30), server.output.text()
    [unsuppressed] = changes("Recipient Unsuppressed")
    assert unsuppressed["actor"] == answer["decision"]["actor"]
    assert len(changes("Recipient Suppressed")) == 1


def test_all_seed_payloads_over_http_and_a_bounce_shows_in_the_history(server: LocalServer) -> None:
    for name in SEED_FIXTURES:
        status, body = server.request(
            "POST", "/webhooks/events", fixture_text(name).encode(), "application/json"
        )
        assert status == 200, body

    status, body = server.request("GET", "/messages/%3C9e7e564c-ac83-8cd8-2cb4-b9ff2a9f168d%40example.com%3E")
    assert status == 200
    assert body["recipients"] == [
        {"address": "no-user@example.jp", "status": "bounced", "updated_at": "2023-01-25T14:06:07+09:00"}
    ]


def test_bad_input_and_unknown_messages_get_json_errors(server: LocalServer) -> None:
    status, body = server.request(
        "POST", "/webhooks/events", b'{"event_type": "deliveries"}', "application/json"
    )
    assert (status, body["error"]) == (400, "invalid_envelope")
    status, body = server.request("POST", "/webhooks/events", b"x", "text/plain")
    assert status == 415
    status, body = server.request("GET", "/messages/unknown%40example.com")
    assert (status, body["error"]) == (404, "message_not_found")


def test_a_bounce_reaches_the_subscriber_once_and_a_success_publishes_nothing(server: LocalServer) -> None:
    bounce = fixture_text("seed_bounces_host_unknown").encode()
    delivered = json.loads(fixture_text("seed_deliveries_succeeded"))
    delivered["event"]["deliveries"][0]["messageId"] = "<delivered-only@example.com>"

    for body in (bounce, bounce, json.dumps(delivered).encode()):
        status, _ = server.request("POST", "/webhooks/events", body, "application/json")
        assert status == 200

    def bounce_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            e
            for e in events
            if e["detail"].get("message_id") == "8f902ee7-ae65-8711-48a8-2f708cb14205@example.com"
        ]

    assert server.output.wait_for(lambda _: len(bounce_events(server.subscriber_events())) >= 1, 30)
    # Give a second publication (which must not happen) time to show up before counting.
    time.sleep(2)
    [event] = bounce_events(server.subscriber_events())
    assert event["source"] == "customers-mail-cloud"
    assert event["detail-type"] == "Email Bounced"
    detail = event["detail"]
    assert detail["schema_version"] == "1.0"
    assert detail["status"] == "bounced"
    assert detail["bounce_code"] == "1"
    assert detail["recipient"] == "user@example"
    assert detail["occurred_at"] == "2023-01-25T14:05:15+09:00"
    assert detail["server_composition"] == "pro"
    assert not [
        e for e in server.subscriber_events() if e["detail"].get("message_id") == "delivered-only@example.com"
    ]


def test_ctrl_c_stops_the_server_cleanly(server: LocalServer) -> None:
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=20) == 0
    server.output.join(timeout=10)
    rest = server.output.text()[len(server.banner) :]
    assert "stopping" in rest
    assert "Traceback" not in rest
    # What the server logged while it worked: no addresses, subjects or message ids. (The
    # subscriber's lines are the events themselves, printed on purpose.)
    logged = "".join(
        line for line in rest.splitlines(keepends=True) if not line.startswith("subscriber-event ")
    )
    assert not re.search(r"user@example\.jp|メールマガジン|9e7e564c|031a32d4", logged), logged


SECRETS = {"CMC_WEBHOOK_BASIC_AUTH": "cmc:local-pass", "CMC_WEBHOOK_API_KEY": "local-key"}


@pytest.mark.parametrize("secrets", [SECRETS, {"CMC_WEBHOOK_API_KEY": "local-key"}], ids=["basic+key", "key"])
def test_with_credentials_set_strangers_get_401_and_the_printed_commands_still_work(
    secrets: dict[str, str],
) -> None:
    secured = launch(secrets)
    try:
        assert "authentication is ON" in secured.banner
        assert not any(value in secured.banner for value in secrets.values())  # referenced, never printed
        status, body = secured.request(
            "POST", "/webhooks/events", fixture_text("seed_deliveries_queued").encode(), "application/json"
        )
        assert (status, body["error"]) == (401, "unauthorized")

        post_json, post_form, post_bounce, _, _, _, _, post_mail, *_ = printed_commands(secured.banner)
        # Each answers its count: one record written, or the mail's two attachments stored.
        expected = [(post_json, "written", 1), (post_form, "written", 1), (post_bounce, "written", 1)]
        for command, field, count in [*expected, (post_mail, "attachments", 2)]:
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=ROOT,
                env={**os.environ, **secrets},
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            assert json.loads(result.stdout)[field] == count, result.stdout
    finally:
        stop(secured)
    logged = secured.output.text()[len(secured.banner) :]
    assert not any(value in logged for value in secrets.values())


def refused_start(port: str, **settings: str) -> str:
    """`make local`'s server that cannot start: the one line it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "cmc_dev.server"],
        cwd=ROOT,
        env={**local_env(port), **settings},
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    return line


def test_a_busy_port_is_named_with_another_to_try() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        line = refused_start(str(port))

    assert line == f"port {port} is in use: run PORT={port + 1} make local"


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1"])
def test_a_port_that_is_no_port_is_refused(port: str) -> None:
    assert refused_start(port) == f"PORT must be a number from 1 to 65535, got {port!r}"


def test_an_invalid_setting_is_named() -> None:
    line = refused_start(str(free_port()), CMC_TIME_ZONE="Mars/Olympus_Mons")

    assert line.startswith("invalid setting: CMC_TIME_ZONE: "), line
