"""`make bench` / `python -m bench [--quick] [--json PATH]`: the benchmark figures, as a table and as JSON.

Every timed figure is a ratio to a baseline measured in the same run (the machine is shared and noisy);
the AWS call counts and the asset size are exact. Each figure has a regression bound; a full run exits
1 when one is broken (a quick run checks only the exact figures). Loopback only: one moto server on
127.0.0.1 serves every step; traffic and time are bounded.
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

from bench import asset, cold_start, throughput, warm
from cmc_dev.backend import running_backend

BOUNDS = {
    "cold_start_ratio": ("<=", 1.9),
    "cpu_100_ratio": ("<=", 10.0),
    "throughput_ratio": (">=", 5.0),
    "asset_bytes": ("<=", 200_000),
}
TIMED = ("cold_start_ratio", "cpu_100_ratio", "throughput_ratio")
# ceil(N / 25) BatchWriteItem calls for N records, and no reads.
EXPECTED_AWS_CALLS = {
    "1": {"write": 1, "read": 0},
    "100": {"write": 4, "read": 0},
    "1000": {"write": 40, "read": 0},
}


def run(*, quick: bool) -> dict[str, Any]:
    """Every figure, and under `details` the baselines and sizes behind them."""
    started = time.monotonic()
    with running_backend() as backend:
        cold = cold_start.measure(backend, runs=2 if quick else 9)
        warm_figures = warm.measure(backend, iterations=3 if quick else 20, rounds=2 if quick else 9)
        rate = throughput.measure(
            backend, seconds=1.0 if quick else 3.0, rounds=1 if quick else throughput.ROUNDS
        )
    built = asset.measure()
    us = 1e6
    return {
        "cold_start_ratio": round(cold["ratio"], 3),
        "cpu_100_ratio": round(warm_figures["handler_seconds"] / warm_figures["json_loads_seconds"], 3),
        "aws_calls": warm_figures["aws_calls"],
        "throughput_ratio": round(rate.ratio, 3),
        "asset_bytes": built["bytes"],
        "details": {
            "cold_start": {name: round(value, 1) for name, value in cold.items()},
            "cpu": {
                "handler_us": round(warm_figures["handler_seconds"] * us),
                "json_loads_us": round(warm_figures["json_loads_seconds"] * us),
            },
            "throughput": {
                "records_per_second": round(rate.handler_per_second),
                "naive_records_per_second": round(rate.naive_per_second),
                "rounds": len(rate.rounds),
                "seconds_per_window": rate.seconds_per_window,
                "senders": throughput.SENDERS,
            },
            "asset": {"files": built["files"]},
            "run": {
                "quick": quick,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "seconds": round(time.monotonic() - started),
            },
        },
    }


def _within(name: str, value: Any) -> bool:
    if name == "aws_calls":
        return bool(value == EXPECTED_AWS_CALLS)
    op, bound = BOUNDS[name]
    return bool(value <= bound if op == "<=" else value >= bound)


def breaches(figures: dict[str, Any]) -> list[str]:
    """The figures outside their bounds; in a quick run, of the exact ones only."""
    names = ["aws_calls", *BOUNDS]
    if figures["details"]["run"]["quick"]:
        names = [name for name in names if name not in TIMED]
    return [name for name in names if not _within(name, figures[name])]


def table(figures: dict[str, Any]) -> str:
    details = figures["details"]
    cold, cpu, rate = details["cold_start"], details["cpu"], details["throughput"]
    rows = [
        (
            "cold_start_ratio",
            f"{figures['cold_start_ratio']:.2f}",
            f"spawn to answer, median of {cold['pairs']:.0f} pairs: {cold['ms']:.0f} ms vs floor "
            f"{cold['floor_ms']:.0f} ms (imports {cold['import_ms']:.0f} vs "
            f"{cold['floor_import_ms']:.0f} ms)",
        ),
        (
            "cpu_100_ratio",
            f"{figures['cpu_100_ratio']:.2f}",
            f"{cpu['handler_us']} us CPU per webhook vs json.loads {cpu['json_loads_us']} us "
            "(the store keeps nothing)",
        ),
        ("aws_calls", "exact", json.dumps(figures["aws_calls"], separators=(",", ":"))),
        (
            "throughput_ratio",
            f"{figures['throughput_ratio']:.2f}",
            f"{rate['records_per_second']} vs naive {rate['naive_records_per_second']} records/s, "
            f"{rate['rounds']} round(s) of {rate['seconds_per_window']:.0f} s to each, "
            f"{rate['senders']} senders",
        ),
        ("asset_bytes", f"{figures['asset_bytes']:,}", f"{details['asset']['files']} files, deflate -9"),
    ]
    lines = ["| figure | value | bound | within | details |", "|---|---|---|---|---|"]
    for name, value, text in rows:
        bound = (
            "exact"
            if name == "aws_calls"
            else " ".join(f"{part:,}" if isinstance(part, int) else str(part) for part in BOUNDS[name])
        )
        within = "yes" if _within(name, figures[name]) else "NO"
        lines.append(f"| {name} | {value} | {bound} | {within} | {text} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: checks that it runs, not speed")
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick)
    run_details = figures["details"]["run"]
    print(table(figures))
    print(
        f"\n{run_details['cpus']} CPUs, Python {run_details['python']} ({sys.platform}); "
        f"{'quick' if args.quick else 'full'} run in {run_details['seconds']} s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    broken = breaches(figures)
    if broken:
        print(f"outside their bounds: {', '.join(broken)}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
