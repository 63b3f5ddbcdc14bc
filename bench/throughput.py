"""throughput_ratio: records/s through the local HTTP endpoint into the loopback backend, 100-record
webhooks from 4 concurrent senders, ours divided by a naive receiver (one PutItem per record).

Each receiver runs in its own process behind `make local`'s HTTP server; moto and the senders run
in this one. Both receivers start first; then they take turns, a window of traffic to ours then one
to the naive one, for a few rounds, and the figure is the median of the rounds' ratios (a round
runs back to back, so a slow spell of this shared machine hits both receivers of a round alike, as
in cold_start.py). Every webhook of a round is new (CMC posts new records, not repeats); traffic
is bounded by time.
"""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import environment
from bench.payloads import webhook_body
from cmc_dev.backend import LocalBackend
from cmc_webhooks import contract

SENDERS = 4
RECORDS_PER_WEBHOOK = 100
# More than a sender of ours posts in a window (~10 in 3 s here), so no webhook is posted twice.
BODIES_PER_SENDER = 16
ROUNDS = 3
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
    seconds_per_window: float
    rounds: list[tuple[Rate, Rate]]  # (ours, naive) of each round

    @property
    def handler(self) -> Rate:
        return _total(ours for ours, _ in self.rounds)

    @property
    def naive(self) -> Rate:
        return _total(naive for _, naive in self.rounds)

    @property
    def ratio(self) -> float:
        return statistics.median(ours.per_second / naive.per_second for ours, naive in self.rounds)


def _total(rates: Iterable[Rate]) -> Rate:
    collected = list(rates)
    return Rate(records=sum(r.records for r in collected), seconds=sum(r.seconds for r in collected))


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
                # One webhook first: connections, clients and caches are warm.
                warm_up = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                _post(warm_up, webhook_body(RECORDS_PER_WEBHOOK, tag=f"{mode}-warm-up"))
                warm_up.close()
                yield port
            finally:
                process.terminate()
                process.wait(STARTUP_SECONDS)


def _window(mode: str, port: int, round_number: int, seconds: float) -> Rate:
    """`seconds` of traffic from SENDERS concurrent senders, then until their last webhooks are answered."""
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
    return Rate(records=sum(counts), seconds=elapsed)


def measure(backend: LocalBackend, *, seconds: float, rounds: int = ROUNDS) -> ThroughputResult:
    """`rounds` rounds of a `seconds` window to each receiver, ours first."""
    with _receiver("handler", backend) as ours, _receiver("naive", backend) as naive:
        results = [
            (_window("handler", ours, number, seconds), _window("naive", naive, number, seconds))
            for number in range(rounds)
        ]
    return ThroughputResult(seconds_per_window=seconds, rounds=results)
