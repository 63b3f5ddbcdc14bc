"""`python -m cmc_dev.cli suppressions`: every suppressed address, as CSV or JSON lines, page by page
from the same sparse index GET /suppressions reads."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import TextIO

from cmc_webhooks import contract
from cmc_webhooks.logic.suppressions import SuppressionStore, list_suppressed
from cmc_webhooks.models.suppression import SuppressedAddress

COLUMNS = tuple(SuppressedAddress.model_fields)


def all_suppressed(store: SuppressionStore) -> Iterator[SuppressedAddress]:
    cursor: str | None = None
    while True:
        page = list_suppressed(store, limit=contract.PAGE_LIMIT_MAX, cursor=cursor)
        yield from page.suppressions
        if not (cursor := page.next_cursor):
            return


def write_suppressions(store: SuppressionStore, out: TextIO, *, output_format: str) -> int:
    """Write each suppressed address as a CSV row (with a header) or a JSON line; how many."""
    count = 0
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n") if output_format == "csv" else None
    if writer:
        writer.writeheader()
    for entry in all_suppressed(store):
        if writer:
            writer.writerow(entry.model_dump())
        else:
            out.write(json.dumps(entry.model_dump(), ensure_ascii=False) + "\n")
        count += 1
    return count
