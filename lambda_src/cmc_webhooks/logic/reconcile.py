"""Reconciliation with CMC's Transactional Email API: what the webhooks missed on a day, stored as the
webhook would have stored it. No AWS in here (docs/reconcile.md).

For each date: read CMC's daily counts (statistics), compare them with the table's per-day counters;
where they differ (or when asked), page through the day's deliveries; always page through the day's
bounces (CMC counts none). The rows become a webhook envelope and go through the webhook's own
`build_batch`, so a row gets the very key its webhook would have had. Of those items, the ones the table
does not hold yet are written; nothing is written until every page of the date has been read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from cmc_webhooks.errors import WebhookError
from cmc_webhooks.logic.ingest import IngestOptions, build_batch
from cmc_webhooks.models.cmc import WebhookEnvelope
from cmc_webhooks.models.store import StoredItem

# The statuses of CMC's daily statistics that the table's counters can be compared with. (`blocked` and
# `valid` have no delivery record behind them: reported, not compared.)
COMPARED_STATUSES = ("queued", "succeeded", "failed")
STATISTICS_FIELDS = ("queued", "succeeded", "failed", "blocked", "valid")
DELIVERIES, BOUNCES = "deliveries", "bounces"
MAX_ROWS_PER_PAGE = 100  # CMC's `r` takes at most 100


class ReconcileError(WebhookError):
    """A date could not be reconciled: the API refused or failed, or its answer makes no sense."""

    code = "reconcile_failed"


class CmcApi(Protocol):
    """CMC's Transactional Email API, one request per call (dal/cmc_api.py)."""

    requests: int  # made so far in this run

    def list(self, resource: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of `{resource}/list.json` for these filters: [] for 204 or an empty list."""
        ...


class ReconcileStore(Protocol):
    def day_counts(self, server_composition: str, day: date) -> dict[str, int]:
        """The delivery events the table holds for a day (console's time zone), by status."""
        ...

    def stored_keys(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (partition key, sort key) the table holds."""
        ...

    def write(self, items: Sequence[StoredItem]) -> None: ...


@dataclass(frozen=True)
class ReconcileOptions:
    server_composition: str
    ingest: IngestOptions
    rows_per_page: int = MAX_ROWS_PER_PAGE
    always: bool = False  # page through the deliveries even when the counts agree


@dataclass
class DaySummary:
    """What one run did for one date: the JSON the function logs and the CLI prints."""

    date: str
    cmc_counts: dict[str, int] | None = None
    stored_before: dict[str, int] = field(default_factory=dict)
    fetched: int = 0
    written: int = 0
    already_stored: int = 0
    quarantined: int = 0
    requests: int = 0
    deliveries_compared_equal: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "cmc_counts": self.cmc_counts,
            "stored_before": self.stored_before,
            "fetched": self.fetched,
            "written": self.written,
            "already_stored": self.already_stored,
            "quarantined": self.quarantined,
            "requests": self.requests,
        }


def dates_between(first: date, last: date, *, max_days: int) -> list[date]:
    if last < first:
        raise ReconcileError(f"the range ends ({last}) before it starts ({first})")
    days = (last - first).days + 1
    if days > max_days:
        raise ReconcileError(f"{days} days asked; at most {max_days} days per run")
    return [first + timedelta(days=offset) for offset in range(days)]


def yesterday(now: datetime, tz: tzinfo) -> date:
    """The day before today in the console's time zone."""
    return now.astimezone(tz).date() - timedelta(days=1)


def reconcile_day(
    day: date,
    *,
    api: CmcApi,
    store: ReconcileStore,
    options: ReconcileOptions,
    now: datetime,
    statistics: dict[tuple[int, int], list[dict[str, Any]]] | None = None,
) -> DaySummary:
    """Reconcile one date; ReconcileError (nothing written) if any page of it could not be read.
    `statistics`: the months' statistics already read in this run (a range reads each month once)."""
    first_request = api.requests
    summary = DaySummary(date=day.isoformat())
    summary.cmc_counts = cmc_day_counts(api, day, {} if statistics is None else statistics)
    summary.stored_before = store.day_counts(options.server_composition, day)
    summary.deliveries_compared_equal = summary.cmc_counts is not None and all(
        summary.cmc_counts.get(status, 0) == summary.stored_before.get(status, 0)
        for status in COMPARED_STATUSES
    )
    types = [BOUNCES] if summary.deliveries_compared_equal and not options.always else [DELIVERIES, BOUNCES]
    items: list[StoredItem] = []
    for event_type in types:
        for page in pages(api, event_type, day, options.rows_per_page):
            summary.fetched += len(page)
            items.extend(_items(event_type, page, options, now))
    items = list({(item["message_id"], item["sk"]): item for item in items}.values())
    stored = store.stored_keys([(item["message_id"], item["sk"]) for item in items])
    new = [item for item in items if (item["message_id"], item["sk"]) not in stored]
    store.write(new)
    summary.quarantined = sum(1 for item in new if item["kind"] == "quarantine")
    summary.written = len(new) - summary.quarantined
    summary.already_stored = len(items) - len(new)
    summary.requests = api.requests - first_request
    return summary


def cmc_day_counts(
    api: CmcApi, day: date, months: dict[tuple[int, int], list[dict[str, Any]]]
) -> dict[str, int] | None:
    """CMC's counts of the day, or None when its statistics have no row for it."""
    month = (day.year, day.month)
    if month not in months:
        months[month] = api.list("statistics", {"year": day.year, "month": day.month})
    for row in months[month]:
        if _statistics_date(row.get("date")) == day:
            try:
                return {name: int(row.get(name) or 0) for name in STATISTICS_FIELDS}
            except (TypeError, ValueError) as exc:
                raise ReconcileError(f"statistics of {day}: a count is not a number") from exc
    return None


def _statistics_date(value: Any) -> date | None:
    """`2023-01-25` (also `2023/01/25` or with a time after it)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10].replace("/", "-"))
    except ValueError:
        return None


def pages(api: CmcApi, resource: str, day: date, rows: int) -> Iterator[list[dict[str, Any]]]:
    """Every page of a day, `p` from 0, until a page holds fewer than `rows` rows. A page equal to the one
    before it means the API ignores `p`: an error, not an endless loop."""
    previous: list[dict[str, Any]] | None = None
    page_number = 0
    while True:
        page = api.list(resource, {"date": day.isoformat(), "p": page_number, "r": rows})
        if page and page == previous:
            raise ReconcileError(
                f"{resource} of {day}: page {page_number} repeats page {page_number - 1}; stopped"
            )
        yield page
        if len(page) < rows:
            return
        previous = page
        page_number += 1


def _items(
    event_type: str, rows: list[dict[str, Any]], options: ReconcileOptions, now: datetime
) -> list[StoredItem]:
    """The API's rows as the webhook's items: one envelope through the webhook's own ingest."""
    records = [as_webhook_record(row, options.ingest.time_zone) for row in rows]
    envelope = WebhookEnvelope(
        event_type=event_type,
        server_composition=options.server_composition,
        event={event_type: records},
    )
    page_options = IngestOptions(
        time_zone=options.ingest.time_zone,
        retention=options.ingest.retention,
        max_records=max(options.ingest.max_records, len(records)),
    )
    return build_batch(envelope, options=page_options, received_at=now).items


def as_webhook_record(row: Any, tz: tzinfo) -> Any:
    """An API row as the webhook sends the same event (docs/data-model.md, "from both sources"):

    - `created`: the webhook's `YYYY-MM-DD HH:MM:SS` in the console's zone; an API value that carries an
      offset (`2023-01-25T05:03:06Z`, `…+09:00`) is converted to that zone, one without is taken as it is;
    - `status`: text (a bounce code may come as the number 2, the webhook sends "2");
    - a null field is a field not sent (`reason` null and `""` make the same key).
    `messageId` with or without `<>` and the address's case are normalized by ingest itself."""
    if not isinstance(row, dict):
        return row  # ingest quarantines it, with its error
    record = {name: value for name, value in row.items() if value is not None}
    if isinstance(record.get("status"), int) and not isinstance(record["status"], bool):
        record["status"] = str(record["status"])
    created = record.get("created")
    if isinstance(created, str):
        record["created"] = _console_time(created, tz)
    return record


def _console_time(created: str, tz: tzinfo) -> str:
    try:
        moment = datetime.fromisoformat(created.strip().replace("Z", "+00:00"))
    except ValueError:
        return created  # ingest quarantines it, naming `created`
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def reconcile_days(
    days: Iterable[date],
    *,
    api: CmcApi,
    store: ReconcileStore,
    options: ReconcileOptions,
    now: Callable[[], datetime],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each date on its own: a date that fails does not stop the others. The summaries, and one line per
    failed date."""
    summaries: list[dict[str, Any]] = []
    failures: list[str] = []
    months: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for day in days:
        try:
            summary = reconcile_day(day, api=api, store=store, options=options, now=now(), statistics=months)
            summaries.append(summary.as_dict())
        except WebhookError as exc:
            failures.append(f"{day}: {exc.message}")
            summaries.append({"date": day.isoformat(), "error": exc.message})
    return summaries, failures
