"""`make reliability` / `python -m reliability [load|faults] [--quick]`: docs/reliability.md's figures.

Loopback only, bounded: every run stops at its plan's timeout. Exits 1 if anything was lost,
stored twice, or neither published nor in the dead-letter queue.
"""

from __future__ import annotations

import argparse
import sys

from reliability.chaos import FaultPolicy
from reliability.scenario import Plan, Result, run

SCENARIOS = {
    # The figures: 2,000 webhooks x 100 records, 8 senders, 20% sent twice, shuffled.
    "load": Plan(),
    # Every fault at once, on a smaller load.
    "faults": Plan(
        webhooks=300,
        faults=FaultPolicy(
            ddb_throttle=0.1, ddb_server_error=0.05, ddb_unprocessed=0.1, events_entry_failure=0.2
        ),
        publisher_crash_share=0.1,
    ),
}
QUICK = {"webhooks": 24, "records": 20}


def report(name: str, plan: Plan, result: Result) -> str:
    rows = [
        ("scenario", name),
        ("webhooks x records, senders", f"{plan.webhooks} x {plan.records}, {plan.senders}"),
        ("POSTs (incl. repeats and retries)", result.posts),
        ("5xx answers (posted again)", result.answers_5xx),
        ("unique records / stored events", f"{result.unique_records} / {result.stored_events}"),
        (
            "bounces / published (unique) / DLQ",
            f"{result.unique_bounces} / {result.published} ({result.published_unique}) / {result.on_failure}",
        ),
        ("publisher crashes injected", result.publisher_crashes),
        ("faults injected", ", ".join(f"{k}={v}" for k, v in sorted(result.faults.items())) or "none"),
        ("ingest rate", f"{result.records_per_second:,.0f} records/s over {result.ingest_seconds:.1f} s"),
        ("total time", f"{result.total_seconds:.1f} s"),
        ("verdict", "; ".join(result.problems()) or "nothing lost, nothing stored twice"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reliability", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS), nargs="?", default="load")
    parser.add_argument("--quick", action="store_true", help="a small run, for tests")
    args = parser.parse_args(argv)
    plan = SCENARIOS[args.scenario]
    if args.quick:
        plan = Plan(**{**plan.__dict__, **QUICK})
    result = run(plan)
    print(report(args.scenario, plan, result), flush=True)
    return 1 if result.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
