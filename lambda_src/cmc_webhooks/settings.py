"""Settings of the function, read once from the environment into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, timedelta, timezone, tzinfo
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cmc_webhooks import contract
from cmc_webhooks.logic.auth import CredentialSet

if TYPE_CHECKING:
    from cmc_webhooks.logic.suppression import SuppressionPolicy


def parse_time_zone(name: str) -> tzinfo:
    """An IANA name (`Asia/Tokyo`) or a fixed offset (`+09:00`, `UTC`)."""
    text = name.strip()
    if text.upper() in {"UTC", "Z"}:
        return UTC
    if text[:1] in "+-" and len(text) == 6 and text[3] == ":":
        sign = 1 if text[0] == "+" else -1
        return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name or an offset like +09:00") from exc


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str = Field(min_length=3)
    time_zone: str = contract.DEFAULT_TIME_ZONE
    retention_days: int = Field(contract.DEFAULT_RETENTION_DAYS, ge=1, le=36500)
    max_records: int = Field(contract.DEFAULT_MAX_RECORDS, ge=1)
    max_body_bytes: int = Field(contract.DEFAULT_MAX_BODY_BYTES, ge=1)
    auth_secret_name: str | None = None
    local_basic_auth: str | None = Field(None, pattern=r"^[^:]+:.+$")  # user:password
    local_api_key: str | None = None
    soft_bounce_threshold: int = Field(contract.DEFAULT_SOFT_BOUNCE_THRESHOLD, ge=1)
    soft_bounce_window_days: int = Field(contract.DEFAULT_SOFT_BOUNCE_WINDOW_DAYS, ge=1)
    suppress_on_hard_bounce: bool = True
    suppress_on_block: bool = True
    success_clears_soft_bounces: bool = True

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        parse_time_zone(value)
        return value

    def local_credentials(self) -> CredentialSet:
        """Credentials from the environment (`make local`); empty means open."""
        username, _, password = (self.local_basic_auth or "").partition(":")
        return CredentialSet(username=username or None, password=password or None, api_key=self.local_api_key)

    def suppression_policy(self) -> SuppressionPolicy:
        # Imported here: only recipient lookups need it, and its dataclasses add ~2-3 ms to every
        # cold start (webhooks included) otherwise.
        from cmc_webhooks.logic.suppression import SuppressionPolicy  # noqa: PLC0415

        return SuppressionPolicy(
            soft_bounce_threshold=self.soft_bounce_threshold,
            soft_bounce_window=timedelta(days=self.soft_bounce_window_days),
            hard_bounce_suppresses=self.suppress_on_hard_bounce,
            block_suppresses=self.suppress_on_block,
            success_clears_soft_bounces=self.success_clears_soft_bounces,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        values = {
            "table_name": env.get(contract.ENV_TABLE_NAME, ""),
            "time_zone": env.get(contract.ENV_TIME_ZONE) or contract.DEFAULT_TIME_ZONE,
            "retention_days": env.get(contract.ENV_RETENTION_DAYS) or contract.DEFAULT_RETENTION_DAYS,
            "max_records": env.get(contract.ENV_MAX_RECORDS) or contract.DEFAULT_MAX_RECORDS,
            "max_body_bytes": env.get(contract.ENV_MAX_BODY_BYTES) or contract.DEFAULT_MAX_BODY_BYTES,
            "auth_secret_name": env.get(contract.ENV_AUTH_SECRET_NAME) or None,
            "local_basic_auth": env.get(contract.ENV_LOCAL_BASIC_AUTH) or None,
            "local_api_key": env.get(contract.ENV_LOCAL_API_KEY) or None,
            "soft_bounce_threshold": env.get(contract.ENV_SOFT_BOUNCE_THRESHOLD)
            or contract.DEFAULT_SOFT_BOUNCE_THRESHOLD,
            "soft_bounce_window_days": env.get(contract.ENV_SOFT_BOUNCE_WINDOW_DAYS)
            or contract.DEFAULT_SOFT_BOUNCE_WINDOW_DAYS,
            "suppress_on_hard_bounce": env.get(contract.ENV_SUPPRESS_ON_HARD_BOUNCE) or True,
            "suppress_on_block": env.get(contract.ENV_SUPPRESS_ON_BLOCK) or True,
            "success_clears_soft_bounces": env.get(contract.ENV_SUCCESS_CLEARS_SOFT_BOUNCES) or True,
        }
        return cls.model_validate(values)


@cache
def get_settings() -> Settings:
    """Validated on first use (not at import), then cached for the life of the process."""
    return Settings.from_env(os.environ)


class PublisherSettings(BaseModel):
    """Settings of the stream publisher function."""

    # Built on first use (the publisher's), not when the ingest function imports this module.
    model_config = ConfigDict(frozen=True, defer_build=True)

    event_bus_name: str = Field(min_length=1)
    event_source: str = Field(contract.DEFAULT_EVENT_SOURCE, min_length=1)
    published_kinds: tuple[str, ...] = contract.DEFAULT_PUBLISHED_KINDS

    @field_validator("published_kinds")
    @classmethod
    def _known_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(contract.PUBLISHABLE_KINDS)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; known: {sorted(contract.PUBLISHABLE_KINDS)}")
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublisherSettings:
        kinds = env.get(contract.ENV_PUBLISHED_KINDS)
        values = {
            "event_bus_name": env.get(contract.ENV_EVENT_BUS_NAME, ""),
            "event_source": env.get(contract.ENV_EVENT_SOURCE) or contract.DEFAULT_EVENT_SOURCE,
            "published_kinds": tuple(k.strip() for k in kinds.split(",") if k.strip())
            if kinds
            else contract.DEFAULT_PUBLISHED_KINDS,
        }
        return cls.model_validate(values)


@cache
def get_publisher_settings() -> PublisherSettings:
    return PublisherSettings.from_env(os.environ)
