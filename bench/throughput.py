"""throughput_ratio: records/s through the local HTTP endpoint into the loopback backend, 100-record
webhooks from 4 concurrent senders, ours divided by a naive receiver (one PutItem per record).

Each receiver runs in its own process behind `make local`'s HTTP server; moto and the senders run in
this one. Both receivers start first; then they take turns, a window of traffic to each per round (ours
first in the 1st, 3rd, ... round), and the figure is the median of the rounds' ratios: a round runs back
to back, so a slow spell of this shared machine hits both receivers of a round alike. A window's rate is
its records over the time to its last answer. Every webhook of a round is new, as CMC's are, unless a
sender posts more than BODIES_PER_SENDER in a window; traffic is bounded by time.
"""

from __future__ import annotations

import http.client
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.environment import child_environment
from bench.payloads import webhook_body
from cmc_dev.backend import LocalBackend
from cmc_webhooks import contract

SENDERS = 4
RECORDS_PER_WEBHOOK = 100
# About 3 times what a sender posts to our receiver in a 3 s window: past it, webhooks repeat.
BODIES_PER_SENDER = 32
ROUNDS = 5
STARTUP_SECONDS = 60
STOP_SECONDS = 5  # bench.serve exits at SIGTERM


@dataclass(frozen=True)
class ThroughputResult:
    seconds_per_window: float
    rounds: list[tuple[float, float]]  # records/s of (ours, naive) in each round

    @property
    def handler_per_second(self) -> float:
        return statistics.median(ours for ours, _ in self.rounds)

    @property
    def naive_per_second(self) -> float:
        return statistics.median(naive for _, naive in self.rounds)

    @property
    def ratio(self) -> float:
        return statistics.median(ours / naive for ours, naive in self.rounds)


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


@contextmanager
def _receiver(mode: str, backend: LocalBackend) -> Iterator[int]:
    """A receiver process (`bench.serve`) listening; yields its port, terminates it after."""
    env = child_environment(backend)
    with tempfile.TemporaryDirectory(prefix="cmc-bench-") as tmp:
        port_file, stderr_file = Path(tmp) / "port", Path(tmp) / "stderr"
        command = [sys.executable, "-m", "bench.serve", mode, str(port_file), backend.table_name]
        with (
            stderr_file.open("wb") as stderr,
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr) as process,
        ):
            try:
                port = _wait_for_port(port_file, process, stderr_file)
                # One webhook first: connections, clients and caches are warm.
                warm_up = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                _post(warm_up, webhook_body(RECORDS_PER_WEBHOOK, tag=f"{mode}-warm-up"))
                warm_up.close()
                yield port
            finally:
                process.terminate()
                try:
                    process.wait(STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _window(mode: str, port: int, round_number: int, seconds: float) -> float:
    """Records/s of `seconds` of traffic from SENDERS concurrent senders, to the last answer."""
    bodies = [
        [
            webhook_body(RECORDS_PER_WEBHOOK, tag=f"{mode}-{round_number}-{sender}-{n}")
            for n in range(BODIES_PER_SENDER)
        ]
        for sender in range(SENDERS)
    ]
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
    return sum(counts) / elapsed


def measure(backend: LocalBackend, *, seconds: float, rounds: int = ROUNDS) -> ThroughputResult:
    """`rounds` rounds of a `seconds` window to each receiver; ours goes first in the 1st, 3rd, ... round."""
    if rounds < 1 or seconds <= 0:
        raise ValueError("at least one round of a window longer than 0 s")
    results = []
    with _receiver("handler", backend) as ours, _receiver("naive", backend) as naive:
        for number in range(rounds):
            if number % 2 == 0:
                ours_rate = _window("handler", ours, number, seconds)
                naive_rate = _window("naive", naive, number, seconds)
            else:
                naive_rate = _window("naive", naive, number, seconds)
                ours_rate = _window("handler", ours, number, seconds)
            results.append((ours_rate, naive_rate))
    return ThroughputResult(seconds_per_window=seconds, rounds=results)
