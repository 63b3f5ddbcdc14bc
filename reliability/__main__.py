"""`make reliability` / `python -m reliability [load|faults] [--quick] [--json PATH]`: load and fault runs.

Loopback only, bounded: every run stops at its plan's timeout. Prints the counts, `--json` also writes
them; exits 1 if anything was lost, stored twice, or neither published nor in the dead-letter queue.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from reliability.chaos import FaultPolicy
from reliability.scenario import Plan, Result, run

SCENARIOS = {
    # 400 webhooks x 100 records from 8 senders, 20% sent twice, shuffled: a few minutes here, since
    # moto, both handlers and the senders share one interpreter. --webhooks 2000 for the bigger run.
    "load": Plan(webhooks=400),
    # Every fault at once, on a smaller load, the table refusing every write for the first 10 seconds.
    # 2 senders: the local server runs one invocation at a time and its 29 s gateway timeout counts the
    # wait, so more senders queued behind writes that each give up only after 10 s would see 504s that
    # AWS, running invocations side by side, would not answer.
    "faults": Plan(
        webhooks=100,
        senders=2,
        faults=FaultPolicy(
            ddb_throttle=0.1,
            ddb_server_error=0.05,
            ddb_unprocessed=0.1,
            events_entry_failure=0.2,
            ddb_outage_seconds=10.0,
        ),
        publisher_crash_share=0.1,
    ),
}
QUICK_WEBHOOKS, QUICK_RECORDS = 24, 20


def figures(name: str, plan: Plan, result: Result) -> dict[str, Any]:
    """The run's counts as JSON-ready values; `problems` is empty when nothing was lost or stored twice."""
    return {
        "scenario": name,
        "webhooks": plan.webhooks,
        "records_per_webhook": plan.records,
        "senders": plan.senders,
        **dataclasses.asdict(result),
        "records_per_second": round(result.records_per_second, 1),
        "problems": result.problems(),
    }


def report(values: dict[str, Any]) -> str:
    faults = ", ".join(f"{kind}={count}" for kind, count in sorted(values["faults"].items()))
    rows = [
        ("scenario", values["scenario"]),
        (
            "webhooks x records, senders",
            f"{values['webhooks']} x {values['records_per_webhook']}, {values['senders']}",
        ),
        ("POSTs (incl. repeats and retries)", values["posts"]),
        ("5xx answers (posted again)", values["answers_5xx"]),
        ("200 queued (spilled, drained later)", values["queued"]),
        ("spilled webhooks in the drain's DLQ", values["spill_dead_letters"]),
        ("unique records / stored events", f"{values['unique_records']} / {values['stored_events']}"),
        (
            "bounces / published (unique) / DLQ",
            f"{values['unique_bounces']} / {values['published']} ({values['published_unique']}) / "
            f"{values['on_failure']}",
        ),
        ("publisher crashes injected", values["publisher_crashes"]),
        ("faults injected", faults or "none"),
        (
            "ingest rate",
            f"{values['records_per_second']:,.0f} records/s over {values['ingest_seconds']:.1f} s",
        ),
        ("total time", f"{values['total_seconds']:.1f} s"),
        ("verdict", "; ".join(values["problems"]) or "nothing lost, nothing stored twice"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS), nargs="?", default="load")
    parser.add_argument("--quick", action="store_true", help="a small run, for tests")
    parser.add_argument("--webhooks", type=int, help="webhooks to send (each once, some twice)")
    parser.add_argument("--records", type=int, help="records per webhook")
    parser.add_argument("--json", type=Path, help="also write the counts to this file as JSON")
    args = parser.parse_args(argv)
    plan = SCENARIOS[args.scenario]
    if args.quick:
        plan = dataclasses.replace(plan, webhooks=QUICK_WEBHOOKS, records=QUICK_RECORDS)
    plan = dataclasses.replace(
        plan, webhooks=args.webhooks or plan.webhooks, records=args.records or plan.records
    )
    values = figures(args.scenario, plan, run(plan))
    print(report(values), flush=True)
    if args.json:
        args.json.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    return 1 if values["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
