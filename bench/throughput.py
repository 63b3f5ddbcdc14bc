"""throughput_ratio: records/s through the local HTTP endpoint into the loopback backend, 100-record
webhooks from 4 concurrent senders, ours divided by a naive receiver (one PutItem per record).

Each receiver runs in its own process behind `make local`'s HTTP server; moto and the senders run
in this one. Traffic is bounded by time, and every sender cycles through a few distinct bodies.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import environment
from bench.payloads import webhook_body
from cmc_dev.backend import LocalBackend
from cmc_webhooks import contract

SENDERS = 4
RECORDS_PER_WEBHOOK = 100
BODIES_PER_SENDER = 8
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Rate:
    records: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds


@dataclass(frozen=True)
class ThroughputResult:
    seconds_per_receiver: float
    handler: Rate
    naive: Rate

    @property
    def ratio(self) -> float:
        return self.handler.per_second / self.naive.per_second


def _post(connection: http.client.HTTPConnection, body: bytes) -> None:
    connection.request("POST", contract.WEBHOOK_PATH, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"the receiver answered {response.status}: {data[:200]!r}")


def _send(
    port: int, bodies: list[bytes], deadline: float, counts: list[int], errors: list[BaseException]
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = 0
        while time.perf_counter() < deadline:
            _post(connection, bodies[sent % len(bodies)])
            sent += 1
        counts.append(sent * RECORDS_PER_WEBHOOK)
    except BaseException as exc:  # reported by the caller
        errors.append(exc)
    finally:
        connection.close()


def _wait_for_port(port_file: Path, process: subprocess.Popen[bytes], stderr_file: Path) -> int:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = stderr_file.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"the receiver exited with {process.returncode} before listening:\n{tail}")
        text = port_file.read_text(encoding="ascii") if port_file.exists() else ""
        if text:
            return int(text)
        time.sleep(0.05)
    raise RuntimeError("the receiver did not start listening in time")


def _rate(mode: str, backend: LocalBackend, seconds: float) -> Rate:
    env = dict(os.environ)
    env.update(backend.environment())
    environment.apply(env)
    with tempfile.TemporaryDirectory(prefix="cmc-bench-") as tmp:
        port_file, stderr_file = Path(tmp) / "port", Path(tmp) / "stderr"
        command = [sys.executable, "-m", "bench.serve", mode, str(port_file)]
        with (
            stderr_file.open("wb") as stderr,
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr) as process,
        ):
            try:
                port = _wait_for_port(port_file, process, stderr_file)
                bodies = [
                    [
                        webhook_body(RECORDS_PER_WEBHOOK, tag=f"{mode}-{sender}-{n}")
                        for n in range(BODIES_PER_SENDER)
                    ]
                    for sender in range(SENDERS)
                ]
                # One webhook per sender first: connections, clients and caches are warm.
                warm_up = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                _post(warm_up, bodies[0][0])
                warm_up.close()
                counts: list[int] = []
                errors: list[BaseException] = []
                started = time.perf_counter()
                threads = [
                    threading.Thread(target=_send, args=(port, bodies[n], started + seconds, counts, errors))
                    for n in range(SENDERS)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - started
                if errors:
                    raise RuntimeError(f"the {mode} receiver failed: {errors[0]!r}") from errors[0]
            finally:
                process.terminate()
                process.wait(STARTUP_SECONDS)
    return Rate(records=sum(counts), seconds=elapsed)


def measure(backend: LocalBackend, *, seconds: float) -> ThroughputResult:
    return ThroughputResult(
        seconds_per_receiver=seconds,
        handler=_rate("handler", backend, seconds),
        naive=_rate("naive", backend, seconds),
    )
