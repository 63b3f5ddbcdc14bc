"""What each event costs to write and keep, from the items the ingest really builds, by DynamoDB's size rules.

`.venv/bin/python -m bench.storage` prints each seed event's item and index entry sizes, and what a million
events a month cost under each setting of the storage levers (docs/cost.md quotes it). No AWS, no network.

DynamoDB's rules: an attribute is its name's UTF-8 bytes plus its value's (a string's UTF-8 bytes; a
number's significant digits, two a byte, plus one byte). A write costs one WRU per started KB of the item;
a global secondary index entry is written (one WRU per started KB of the entry) only when the item carries
the index key, and holds the index and table keys plus the projected attributes. Storage counts each item
and each index entry with 100 bytes of overhead.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cmc_webhooks import contract
from cmc_webhooks.dal.dynamodb import AttributeValue, serialize
from cmc_webhooks.logic.ingest import IngestOptions, build_batch, parse_envelope
from cmc_webhooks.settings import IngestTunables

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "cmc"
KB = 1024
OVERHEAD_BYTES = 100
GB = 1024**3
# ap-northeast-1 list prices (docs/cost.md's table).
WRU_PRICE = 0.715 / 1_000_000
STORAGE_PRICE_GB_MONTH = 0.285
PITR_PRICE_GB_MONTH = 0.228
FULL = "452 4.2.2 The email account that you tried to reach is over quota."

# A million events as docs/cost.md assumes them: 5 % bounces plus failed deliveries (a failed mail posts
# queued, failed and its bounce; a delivered one queued and succeeded), the failures half hard, half soft.
MIX = {
    "queued": 487_500,
    "succeeded": 462_500,
    "failed (hard)": 12_500,
    "failed (soft)": 12_500,
    "bounced (hard)": 12_500,
    "bounced (soft)": 12_500,
}


def attribute_size(name: str, value: AttributeValue) -> int:
    if "N" in value:
        digits = value["N"].lstrip("-").replace(".", "").strip("0") or "0"
        return len(name.encode()) + math.ceil(len(digits) / 2) + 1
    return len(name.encode()) + len(value["S"].encode("utf-8", "surrogatepass"))


def size(attributes: dict[str, AttributeValue]) -> int:
    return sum(attribute_size(name, value) for name, value in attributes.items())


def index_entry(
    attributes: dict[str, AttributeValue], recipient_index: str
) -> dict[str, AttributeValue] | None:
    """What the recipient index holds of an item: nothing without its key; else all or the projected ones."""
    if contract.RECIPIENT_INDEX_PARTITION_KEY not in attributes:
        return None
    if recipient_index == contract.RECIPIENT_INDEX_ALL:
        return attributes
    keys = {contract.PARTITION_KEY, contract.SORT_KEY, contract.RECIPIENT_INDEX_PARTITION_KEY}
    kept = keys | set(contract.SUPPRESSION_INDEX_ATTRIBUTES)
    return {name: value for name, value in attributes.items() if name in kept}


@dataclass(frozen=True)
class Cost:
    """One event's cost under one setting of the levers."""

    item_bytes: int
    entry_bytes: int  # 0: not in the index
    days: int

    @property
    def wru(self) -> int:
        return math.ceil(self.item_bytes / KB) + math.ceil(self.entry_bytes / KB)

    @property
    def stored_bytes(self) -> int:
        entry = self.entry_bytes + OVERHEAD_BYTES if self.entry_bytes else 0
        return self.item_bytes + OVERHEAD_BYTES + entry


def seed_events() -> dict[str, dict[str, Any]]:
    """One webhook document per event of the mix, from the seed payloads."""

    def one(fixture: str, **changes: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
        event_type = document["event_type"]
        record = dict(copy.deepcopy(document["event"][event_type][0]), **changes)
        return {**document, "event": {event_type: [record]}}

    return {
        "queued": one("seed_deliveries_queued"),
        "succeeded": one("seed_deliveries_succeeded"),
        "failed (hard)": one("seed_deliveries_failed_user_unknown"),
        "failed (soft)": one("seed_deliveries_failed_user_unknown", reason=FULL),
        "bounced (hard)": one("seed_bounces_user_unknown"),
        "bounced (soft)": one("seed_bounces_user_unknown", reason=FULL, status="5"),
    }


def costs(tunables: IngestTunables) -> dict[str, Cost]:
    received = datetime(2026, 1, 1, tzinfo=UTC)
    options = IngestOptions(
        time_zone=tunables.tz,
        max_records=10,
        retention=timedelta(days=tunables.retention_days),
        clean_retention=tunables.clean_retention,
        quarantine_retention=tunables.quarantine_retention,
        recipient_index=tunables.recipient_index,
        index_successes=tunables.success_clears_soft_bounces,
    )
    result = {}
    for name, document in seed_events().items():
        [item] = build_batch(parse_envelope(document), options=options, received_at=received).items
        attributes = serialize(item)
        entry = index_entry(attributes, tunables.recipient_index)
        days = round((item["expires_at"] - received.timestamp()) / 86400)
        result[name] = Cost(size(attributes), size(entry) if entry else 0, days)
    return result


def per_million(tunables: IngestTunables) -> dict[str, float]:
    """A million events a month (MIX): write units and, in steady state, the bytes kept."""
    by_event = costs(tunables)
    wru = sum(count * by_event[name].wru for name, count in MIX.items())
    # Kept at steady state: a month's events times the months each is kept.
    kept = sum(count * by_event[name].stored_bytes * by_event[name].days / 30 for name, count in MIX.items())
    table = sum(
        count * (by_event[name].item_bytes + OVERHEAD_BYTES) * by_event[name].days / 30
        for name, count in MIX.items()
    )
    return {"wru": wru, "write_usd": wru * WRU_PRICE, "kept_gb": kept / GB, "table_gb": table / GB}


SETTINGS: dict[str, dict[str, Any]] = {
    "before: 400 days, full index": {"retention_days": 400},
    "full index, clean 45 days": {"retention_days": 400, "clean_retention_days": 45},
    "sparse index, 400 days": {"retention_days": 400, "recipient_index": "suppression"},
    "sparse index, clean 45 days (prod)": {
        "retention_days": 400,
        "clean_retention_days": 45,
        "recipient_index": "suppression",
    },
    "sparse index without success clearing, clean 45 days": {
        "retention_days": 400,
        "clean_retention_days": 45,
        "recipient_index": "suppression",
        "success_clears_soft_bounces": False,
    },
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=float, default=20e6, help="for the large sender's line")
    args = parser.parse_args(argv)
    print("| event | item bytes | index entry, all | index entry, suppression |")
    print("|---|---|---|---|")
    full = costs(IngestTunables(retention_days=400))
    sparse = costs(IngestTunables(retention_days=400, recipient_index="suppression"))
    for name in MIX:
        entry = sparse[name].entry_bytes or "not indexed"
        print(f"| {name} | {full[name].item_bytes} | {full[name].entry_bytes} | {entry} |")
    print()
    print(
        "| setting | WRU per million events | writes $ | kept GB (table + index) | of it the table | "
        f"TB kept at {args.events_per_day / 1e6:g} M events a day |"
    )
    print("|---|---|---|---|---|---|")
    for label, values in SETTINGS.items():
        figures = per_million(IngestTunables(**values))
        large = figures["kept_gb"] * args.events_per_day * 30 / 1e6 / 1024
        wru, usd = figures["wru"] / 1e6, figures["write_usd"]
        kept, table = figures["kept_gb"], figures["table_gb"]
        print(f"| {label} | {wru:.2f} M | {usd:.2f} | {kept:.1f} | {table:.1f} | {large:.1f} |")


if __name__ == "__main__":
    main()
