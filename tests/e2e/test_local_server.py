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
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED_FIXTURES, fixture_text

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalServer:
    base_url: str
    banner: str
    process: subprocess.Popen[str]

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


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    for name in [name for name in env if name.startswith("AWS_")]:
        del env[name]  # the local server must need no AWS configuration at all
    process = subprocess.Popen(
        [sys.executable, "-m", "cmc_dev.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "# the same lookup from the CLI" in "".join(lines[-3:]):
            lines.append(process.stdout.readline())
            break
    banner = "".join(lines)
    assert "listening on" in banner, banner
    yield LocalServer(base_url=f"http://127.0.0.1:{port}", banner=banner, process=process)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def printed_commands(banner: str) -> list[str]:
    return [
        line.strip() for line in banner.splitlines() if line.strip().startswith(("curl ", sys.executable))
    ]


def test_the_printed_curl_commands_work_as_pasted(server: LocalServer) -> None:
    commands = printed_commands(server.banner)
    assert len(commands) == 4, server.banner
    post_json, post_form, lookup, cli = commands

    for command in (post_json, post_form):
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
        shlex.split(cli), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == history


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


def test_ctrl_c_stops_the_server_cleanly(server: LocalServer) -> None:
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=20) == 0
    assert server.process.stdout is not None
    rest = server.process.stdout.read()
    assert "stopping" in rest
    assert "Traceback" not in rest
    # What the server logged while it worked: no addresses, subjects or message ids.
    assert not re.search(r"user@example\.jp|メールマガジン|9e7e564c|031a32d4", rest), rest
