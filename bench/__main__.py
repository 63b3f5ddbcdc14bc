"""`make bench` / `python -m bench [--quick] [--json PATH]`: the figures of issue 7 as a table.

Every figure is a ratio to a baseline measured in the same run (the machine is shared and noisy),
except the AWS call counts and the asset size, which are exact. Loopback only: one moto server
on 127.0.0.1 serves every step; traffic and time are bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import asset, aws_calls, cold_start, cpu, environment, throughput
from cmc_dev.backend import running_backend

TARGETS = {
    "cold_start_ratio": ("<=", 1.5),
    "cpu_100_ratio": ("<=", 5.0),
    "throughput_ratio": (">=", 5.0),
    "asset_bytes": ("<=", 200_000),
}
EXPECTED_AWS_CALLS = {
    "1": {"write": 1, "read": 0},
    "100": {"write": 4, "read": 0},
    "1000": {"write": 40, "read": 0},
}


def _meets(name: str, value: float) -> bool:
    op, target = TARGETS[name]
    return value <= target if op == "<=" else value >= target


def run(*, quick: bool) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
    environment.apply(os.environ)
    with running_backend(env=os.environ) as backend:
        cold = cold_start.measure(backend, runs=2 if quick else 9)
        cpu_result = cpu.measure(iterations=20 if quick else 150)
        calls = aws_calls.measure()
        rate = throughput.measure(
            backend, seconds=1.0 if quick else 3.0, rounds=1 if quick else throughput.ROUNDS
        )
    built = asset.measure_asset()
    asset_bytes = built.zip_bytes
    figures: dict[str, Any] = {
        "cold_start_ratio": round(cold.ratio, 3),
        "cpu_100_ratio": round(cpu_result.ratio, 3),
        "aws_calls": calls,
        "throughput_ratio": round(rate.ratio, 3),
        "asset_bytes": asset_bytes,
    }
    ms = 1000.0
    rows = [
        (
            "cold_start_ratio",
            f"{cold.ratio:.2f}",
            "<= 1.5",
            f"spawn to answer, median of {cold.runs} pairs; medians "
            f"{cold.handler.process_seconds * ms:.0f} ms vs floor {cold.floor.process_seconds * ms:.0f} ms "
            f"(import {cold.handler.import_seconds * ms:.0f} vs {cold.floor.import_seconds * ms:.0f} ms; "
            f"in-process ratio of medians {cold.in_process_ratio:.2f}); the floor after importing "
            f"Powertools and pydantic alone: {cold.stack_ratio:.2f}",
        ),
        (
            "cpu_100_ratio",
            f"{cpu_result.ratio:.2f}",
            "<= 5",
            f"{cpu_result.handler_seconds * 1e6:.0f} us CPU per webhook vs json.loads "
            f"{cpu_result.json_loads_seconds * 1e6:.0f} us (best of {cpu.ROUNDS} alternating rounds)",
        ),
        (
            "aws_calls",
            "ok" if calls == EXPECTED_AWS_CALLS else "MISMATCH",
            "exact",
            json.dumps(calls, separators=(",", ":")),
        ),
        (
            "throughput_ratio",
            f"{rate.ratio:.2f}",
            ">= 5",
            f"{rate.handler_per_second:.0f} records/s vs naive {rate.naive_per_second:.0f} records/s, "
            f"medians of {len(rate.rounds)} alternating round{'s' if len(rate.rounds) != 1 else ''} "
            f"of {rate.seconds_per_window:.0f} s to each ({throughput.SENDERS} senders; the figure is "
            "the median of the rounds' ratios)",
        ),
        (
            "asset_bytes",
            f"{asset_bytes:,}",
            "<= 200,000",
            f"{built.files} files, deflate -9; "
            + ("with python3.13 pycs" if built.compiled else "source only: no python3.13 found"),
        ),
    ]
    return figures, rows


def table(rows: list[tuple[str, str, str, str]], figures: dict[str, Any]) -> str:
    lines = ["| figure | value | target | met | details |", "|---|---|---|---|---|"]
    for name, value, target, details in rows:
        if name == "aws_calls":
            met = "yes" if figures["aws_calls"] == EXPECTED_AWS_CALLS else "NO"
        else:
            met = "yes" if _meets(name, figures[name]) else "NO"
        lines.append(f"| {name} | {value} | {target} | {met} | {details} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few iterations: checks that it runs, not speed")
    parser.add_argument("--json", type=Path, default=os.environ.get("BENCH_JSON") or None, help="write JSON")
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures, rows = run(quick=args.quick)
    print(table(rows, figures))
    print(
        f"\n{os.cpu_count()} CPUs, Python {platform.python_version()} ({sys.platform}); "
        f"{'quick' if args.quick else 'full'} run in {time.monotonic() - started:.0f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
