"""Settings of the functions: one typed model each, validated once from the environment.

A field's alias is its environment variable; its default and bounds are declared here and nowhere
else. The stage settings of the CDK app (infra/settings.py) derive from `IngestTunables` and
`PublishTunables`, so the stack writes each function's environment from the very fields the function
reads back, and the two sides cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta, timezone, tzinfo
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from cmc_webhooks import contract
from cmc_webhooks.logic.suppression import SuppressionPolicy

# Lambda takes at most 6 MB per synchronous request, so a larger body never reaches the function.
MAX_BODY_BYTES_LIMIT = 6 * 1024 * 1024
# An EventBridge `source`; "aws." is reserved for AWS services (checked below).
EVENT_SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,255}$"


def parse_time_zone(name: str) -> tzinfo:
    """An IANA name (`Asia/Tokyo`) or a fixed offset (`+09:00`, `UTC`)."""
    text = name.strip()
    if text.upper() in {"UTC", "Z"}:
        return UTC
    if text[:1] in "+-" and len(text) == 6 and text[3] == ":" and text[1:3].isdigit() and text[4:].isdigit():
        sign = 1 if text[0] == "+" else -1
        return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name or an offset like +09:00") from exc


def _time_zone_name(value: str) -> str:
    parse_time_zone(value)
    return value


def _kind_names(value: Any) -> Any:
    """The environment carries the kinds comma-separated; cdk.json as a list."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return value


def _known_kinds(value: tuple[str, ...]) -> tuple[str, ...]:
    if unknown := sorted(set(value) - set(contract.PUBLISHABLE_KINDS)):
        raise ValueError(f"unknown kinds {unknown}; known: {sorted(contract.PUBLISHABLE_KINDS)}")
    if len(set(value)) != len(value):
        raise ValueError(f"a kind is listed twice: {list(value)}")
    return value


def _event_source(value: str) -> str:
    if value.startswith("aws."):
        raise ValueError("must not start with 'aws.' (reserved for AWS services)")
    return value


TimeZoneName = Annotated[str, AfterValidator(_time_zone_name)]
KindNames = Annotated[tuple[str, ...], BeforeValidator(_kind_names), AfterValidator(_known_kinds)]
EventSource = Annotated[str, Field(pattern=EVENT_SOURCE_PATTERN), AfterValidator(_event_source)]


def environment_of(values: BaseModel, model: type[BaseModel]) -> dict[str, str]:
    """`model`'s fields of `values` as environment variables (its aliases), as the function reads them."""
    environment = {}
    for name, field in model.model_fields.items():
        value = getattr(values, name)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, tuple):
            text = ",".join(value)
        else:
            text = str(value)
        environment[field.alias or name] = text
    return environment


class IngestTunables(BaseModel):
    """What a stage chooses for the ingest function (cdk.json, by field name)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # The time zone set in the CMC console: CMC's `created` has no offset. An IANA name or +HH:MM.
    time_zone: TimeZoneName = Field("Asia/Tokyo", alias="CMC_TIME_ZONE")
    # Days until DynamoDB's TTL deletes a stored event of the lasting class: bounces, failures and blocks
    # (but soft ones), and event types we do not model (logic/storage.py).
    retention_days: int = Field(400, ge=1, le=36500, alias="CMC_RETENTION_DAYS")
    # The clean class: queued, deferred and succeeded deliveries, soft bounces and failures. None: as
    # retention_days.
    clean_retention_days: int | None = Field(None, ge=1, le=36500, alias="CMC_CLEAN_RETENTION_DAYS")
    # Quarantined records. None: as retention_days.
    quarantine_retention_days: int | None = Field(None, ge=1, le=36500, alias="CMC_QUARANTINE_RETENTION_DAYS")
    # What the recipient index holds: every event (`all`), or the events the suppression verdict reads
    # with the attributes it reads (`suppression`; contract.SUPPRESSION_INDEX_ATTRIBUTES).
    recipient_index: Literal["all", "suppression"] = Field(
        contract.RECIPIENT_INDEX_ALL, alias="CMC_RECIPIENT_INDEX"
    )
    # More records in one request get 413.
    max_records_per_request: int = Field(5000, ge=1, le=100_000, alias="CMC_MAX_RECORDS_PER_REQUEST")
    # Larger bodies get 413.
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=MAX_BODY_BYTES_LIMIT, alias="CMC_MAX_BODY_BYTES")
    # Soft bounces of this many messages within the window suppress a recipient (docs/bounces.md).
    soft_bounce_threshold: int = Field(3, ge=1, le=100, alias="CMC_SOFT_BOUNCE_THRESHOLD")
    soft_bounce_window_days: int = Field(7, ge=1, le=36500, alias="CMC_SOFT_BOUNCE_WINDOW_DAYS")
    suppress_on_hard_bounce: bool = Field(True, alias="CMC_SUPPRESS_ON_HARD_BOUNCE")
    # Blocks, CMC's suppressed (code 10) and one-click unsubscribed (11) addresses.
    suppress_on_block: bool = Field(True, alias="CMC_SUPPRESS_ON_BLOCK")
    success_clears_soft_bounces: bool = Field(True, alias="CMC_SUCCESS_CLEARS_SOFT_BOUNCES")

    @model_validator(mode="after")
    def _window_within_retention(self) -> Self:
        # A queued or succeeded event outliving the bounce after it would turn the recipient's status back.
        if self.clean_retention_days is not None and self.clean_retention_days > self.retention_days:
            raise ValueError(
                f"clean_retention_days ({self.clean_retention_days}) must not exceed "
                f"retention_days ({self.retention_days})"
            )
        # Older soft bounces are gone (TTL), so a longer window would count fewer bounces than it says.
        name = "retention_days" if self.clean_retention_days is None else "clean_retention_days"
        if self.soft_bounce_window_days > self.clean_retention.days:
            raise ValueError(
                f"soft_bounce_window_days ({self.soft_bounce_window_days}) must not exceed "
                f"{name} ({self.clean_retention.days})"
            )
        return self

    @property
    def clean_retention(self) -> timedelta:
        return timedelta(days=self.clean_retention_days or self.retention_days)

    @property
    def quarantine_retention(self) -> timedelta:
        return timedelta(days=self.quarantine_retention_days or self.retention_days)

    def ingest_environment(self) -> dict[str, str]:
        return environment_of(self, IngestTunables)

    @property
    def tz(self) -> tzinfo:
        return parse_time_zone(self.time_zone)

    @property
    def suppression_policy(self) -> SuppressionPolicy:
        return SuppressionPolicy(
            soft_bounce_threshold=self.soft_bounce_threshold,
            soft_bounce_window=timedelta(days=self.soft_bounce_window_days),
            hard_bounce_suppresses=self.suppress_on_hard_bounce,
            block_suppresses=self.suppress_on_block,
            success_clears_soft_bounces=self.success_clears_soft_bounces,
        )


class IngestSettings(IngestTunables):
    """The ingest and lookup function's settings; the stack sets the names of what it creates."""

    table_name: str = Field(min_length=3, alias="CMC_TABLE_NAME")
    # The Secrets Manager secret with the accepted webhook credentials (docs/security.md). Without
    # it every webhook is refused: only the dev server chooses to run open, by passing its own.
    auth_secret_name: str | None = Field(None, min_length=1, alias="CMC_AUTH_SECRET_NAME")
    # The S3 bucket of inbound mail's bodies, headers and attachments (docs/inbound.md). Without it the
    # inbound webhook answers 503 and stores nothing.
    inbound_bucket_name: str | None = Field(None, min_length=3, alias="CMC_INBOUND_BUCKET_NAME")
    # Where a webhook goes when the table refuses it (docs/reliability.md); without them it gets 503.
    spill_queue_url: str | None = Field(None, min_length=1, alias="CMC_SPILL_QUEUE_URL")
    spill_bucket_name: str | None = Field(None, min_length=3, alias="CMC_SPILL_BUCKET_NAME")

    @model_validator(mode="after")
    def _spill_queue_and_bucket(self) -> Self:
        if (self.spill_queue_url is None) != (self.spill_bucket_name is None):
            raise ValueError("CMC_SPILL_QUEUE_URL and CMC_SPILL_BUCKET_NAME go together: set both or neither")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IngestSettings:
        return cls.model_validate(dict(env))


class DrainSettings(IngestTunables):
    """The spill drain's: the ingest function's tunables (its items must be the same), and the table."""

    table_name: str = Field(min_length=3, alias="CMC_TABLE_NAME")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DrainSettings:
        return cls.model_validate(dict(env))


class PublishTunables(BaseModel):
    """What a stage chooses for the stream publisher."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # The `source` of the published events (subscribers' rules match on it).
    event_source: EventSource = Field(contract.DEFAULT_EVENT_SOURCE, alias="CMC_EVENT_SOURCE")
    # Which stored events are published: names of contract.PUBLISHABLE_KINDS.
    published_kinds: KindNames = Field(
        contract.DEFAULT_PUBLISHED_KINDS, min_length=1, alias="CMC_PUBLISHED_KINDS"
    )

    def publisher_environment(self) -> dict[str, str]:
        return environment_of(self, PublishTunables)


class PublisherSettings(PublishTunables):
    event_bus_name: str = Field(min_length=1, alias="CMC_EVENT_BUS_NAME")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublisherSettings:
        return cls.model_validate(dict(env))


class TrackerSettings(IngestTunables):
    """The suppression tracker's settings: the suppression rules (the same fields as the API's), the
    table it reads and writes, and the bus and source of its events."""

    table_name: str = Field(min_length=3, alias="CMC_TABLE_NAME")
    event_bus_name: str = Field(min_length=1, alias="CMC_EVENT_BUS_NAME")
    event_source: EventSource = Field(contract.DEFAULT_EVENT_SOURCE, alias="CMC_EVENT_SOURCE")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TrackerSettings:
        return cls.model_validate(dict(env))


# CMC's Transactional Email API, up to and including the version (docs/reconcile.md).
DEFAULT_CMC_API_URL = "https://api.smtps.jp/transaction/v2"


class ReconcileTunables(BaseModel):
    """What a stage chooses for the daily reconciliation with CMC's API (docs/reconcile.md)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # The CMC server configuration to reconcile (CMC's `server_composition`); None: no daily run.
    reconcile_server_composition: str | None = Field(
        None, min_length=1, max_length=128, alias="CMC_SERVER_COMPOSITION"
    )
    # The API's base URL (tests and local runs point it at a fake).
    cmc_api_url: str = Field(DEFAULT_CMC_API_URL, pattern=r"^https?://\S+$", alias="CMC_API_URL")
    # The hour of the day, in the console's time zone (`time_zone`), at which yesterday is reconciled.
    reconcile_hour: int = Field(4, ge=0, le=23)
    # At most this many dates per run (a range asked by hand).
    reconcile_max_days: int = Field(31, ge=1, le=366, alias="CMC_RECONCILE_MAX_DAYS")
    # At most this many API requests per run, retries included; more fails the run.
    reconcile_request_budget: int = Field(2000, ge=10, le=100_000, alias="CMC_RECONCILE_REQUEST_BUDGET")
    # An alarm when no webhook arrived for this many hours; None: no such alarm.
    no_webhook_alarm_hours: int | None = Field(None, ge=1, le=168)

    def reconcile_environment(self) -> dict[str, str]:
        """The function's variables (the schedule's hour and the alarm are the stack's alone)."""
        environment = environment_of(self, ReconcileTunables)
        return {name: value for name, value in environment.items() if name.startswith("CMC_")}


class ReconcileSettings(IngestTunables, ReconcileTunables):
    """The reconcile function's settings: the ingest's own (its items are the webhook's), and its own."""

    table_name: str = Field(min_length=3, alias="CMC_TABLE_NAME")
    # The Secrets Manager secret with CMC's API user and key: {"api_user": ..., "api_key": ...}.
    api_secret_name: str = Field(min_length=1, alias="CMC_API_SECRET_NAME")
    # Required here: a function without a composition refuses to run.
    reconcile_server_composition: str = Field(min_length=1, max_length=128, alias="CMC_SERVER_COMPOSITION")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReconcileSettings:
        return cls.model_validate(dict(env))
