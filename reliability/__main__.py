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
    # 400 webhooks x 100 records from 8 senders, 20% sent twice, shuffled: a few minutes here, since
    # moto, both handlers and the senders share one interpreter. --webhooks 2000 for the bigger run.
    "load": Plan(webhooks=400),
    # Every fault at once, on a smaller load.
    "faults": Plan(
        webhooks=100,
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
    parser.add_argument("--webhooks", type=int, help="webhooks to send (each once, some twice)")
    parser.add_argument("--records", type=int, help="records per webhook")
    args = parser.parse_args(argv)
    plan = SCENARIOS[args.scenario]
    sizes = QUICK if args.quick else {}
    sizes |= {name: getattr(args, name) for name in ("webhooks", "records") if getattr(args, name)}
    plan = Plan(**{**plan.__dict__, **sizes})
    result = run(plan)
    print(report(args.scenario, plan, result), flush=True)
    return 1 if result.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
