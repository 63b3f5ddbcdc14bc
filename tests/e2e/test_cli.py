"""End to end: the lookup CLI as a user runs it, against moto on loopback; one line per failure."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmc_dev.backend import LocalBackend, running_backend

ROOT = Path(__file__).resolve().parents[2]
TABLE = "cli-events"
NO_AWS_CONFIG = {"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    with running_backend(table_name=TABLE, env={}) as started:
        yield started


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def cli(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m cmc_dev.cli ...` with no AWS or CMC configuration but `env`."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CMC_"))}
    return subprocess.run(
        [sys.executable, "-m", "cmc_dev.cli", *argv],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_recipient_is_looked_up_with_only_table_and_endpoint(backend: LocalBackend) -> None:
    result = cli("recipient", "user@example.jp", "--table", TABLE, "--endpoint-url", backend.endpoint_url)

    assert (result.returncode, result.stderr) == (0, "")
    view = json.loads(result.stdout)
    assert (view["address"], view["suppressed"], view["events"]) == ("user@example.jp", False, [])


def failure_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    return line


def test_an_unknown_message_says_so(backend: LocalBackend) -> None:
    result = cli("message", "<nope@example.com>", "--table", TABLE, "--endpoint-url", backend.endpoint_url)

    assert failure_line(result) == "message_not_found: no events for message 'nope@example.com'"


def test_a_wrong_table_is_named(backend: LocalBackend) -> None:
    result = cli(
        "recipient", "a@example.jp", "--table", "no-such-table", "--endpoint-url", backend.endpoint_url
    )

    line = failure_line(result)
    assert line.startswith(f"no table 'no-such-table' at {backend.endpoint_url}: check --table"), line


def test_a_refused_connection_names_the_endpoint() -> None:
    url = closed_port_url()
    result = cli("message", "<a@example.com>", "--table", TABLE, "--endpoint-url", url)

    line = failure_line(result)
    assert line.startswith(f"cannot connect to {url}: check --endpoint-url"), line


def test_missing_credentials_say_how_to_give_them() -> None:
    result = cli(
        "message",
        "<a@example.com>",
        "--table",
        TABLE,
        "--region",
        "ap-northeast-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=closed_port_url(),  # were credentials found after all, nothing leaves loopback
        **NO_AWS_CONFIG,
    )

    line = failure_line(result)
    assert line.startswith("no AWS credentials found: set AWS_PROFILE"), line


def test_a_missing_region_says_how_to_give_one() -> None:
    result = cli("message", "<a@example.com>", "--table", TABLE, **NO_AWS_CONFIG)

    assert failure_line(result) == "no AWS region: pass --region or set AWS_REGION"


def test_an_invalid_suppression_setting_is_named(backend: LocalBackend) -> None:
    result = cli(
        "recipient",
        "a@example.jp",
        "--table",
        TABLE,
        "--endpoint-url",
        backend.endpoint_url,
        CMC_SOFT_BOUNCE_THRESHOLD="many",
    )

    line = failure_line(result)
    assert line.startswith("invalid setting: CMC_SOFT_BOUNCE_THRESHOLD: "), line
