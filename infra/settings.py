"""Typed settings of one deployment stage, read once from the CDK context (cdk.json).

cdk.json holds one entry per stage under `stages`; `-c stage=prod` picks one (default `dev`).
Every difference between stages is a value here, handed to the constructs as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

STAGE_CONTEXT_KEY = "stage"
STAGES_CONTEXT_KEY = "stages"
DEFAULT_STAGE = "dev"

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# What the function accepts besides IANA names (cmc_webhooks.settings.parse_time_zone).
_UTC_OFFSET = re.compile(r"^(UTC|Z|[+-]\d{2}:\d{2})$")
_LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR"})


class SettingsError(ValueError):
    """The CDK context does not describe a valid stage."""


@dataclass(frozen=True, kw_only=True)
class StageSettings:
    """What differs between stages. Field names are the keys of a `stages.<name>` entry in cdk.json."""

    stage: str
    # Time zone of the `created` values, as set in the CMC console: an IANA name or an offset (+09:00).
    time_zone: str
    # Days a stored event lives before DynamoDB's TTL deletes it.
    retention_days: int
    # Upper bound of records accepted in one webhook POST.
    max_records_per_request: int
    log_level: str
    # A member name of aws_logs.RetentionDays, e.g. "ONE_MONTH"; applies to every log group.
    log_retention: str
    # Steady-state requests per second and burst for the whole API stage.
    throttling_rate_limit: int
    throttling_burst_limit: int
    # True: RETAIN the table and log groups and turn on DynamoDB deletion protection.
    retain_data: bool
    # Powertools layer version in AWS's public SSM parameter: "latest" or a release such as "3.37.0".
    powertools_layer_version: str

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            # bool is an int subclass: check it first so that `true` is not accepted as a number.
            expected = bool if field.type == "bool" else int if field.type == "int" else str
            if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
                raise SettingsError(f"{field.name} must be {expected.__name__}, got {value!r}")
        if not _STAGE_NAME.match(self.stage):
            raise SettingsError(f"stage must match {_STAGE_NAME.pattern}, got {self.stage!r}")
        if not _UTC_OFFSET.match(self.time_zone):
            try:
                ZoneInfo(self.time_zone)
            except (ZoneInfoNotFoundError, ValueError) as error:
                message = f"time_zone must be an IANA name or +HH:MM: {self.time_zone!r}"
                raise SettingsError(message) from error
        if self.log_level not in _LOG_LEVELS:
            raise SettingsError(f"log_level must be one of {sorted(_LOG_LEVELS)}, got {self.log_level!r}")
        if self.log_retention not in logs.RetentionDays.__members__:
            raise SettingsError(
                f"log_retention must name an aws_logs.RetentionDays member: {self.log_retention!r}"
            )
        if self.retention_days > 36500:
            raise SettingsError("retention_days must be at most 36500")
        for name in (
            "retention_days",
            "max_records_per_request",
            "throttling_rate_limit",
            "throttling_burst_limit",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        if not self.powertools_layer_version:
            raise SettingsError("powertools_layer_version must not be empty")

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY

    @property
    def log_retention_days(self) -> logs.RetentionDays:
        return logs.RetentionDays[self.log_retention]

    @classmethod
    def from_mapping(cls, stage: str, raw: Mapping[str, Any]) -> StageSettings:
        known = {field.name for field in fields(cls)} - {"stage"}
        if unknown := sorted(set(raw) - known):
            raise SettingsError(f"stage {stage!r}: unknown settings {unknown}")
        if missing := sorted(known - set(raw)):
            raise SettingsError(f"stage {stage!r}: missing settings {missing}")
        return cls(stage=stage, **raw)


def load_settings(node: Node) -> StageSettings:
    """The settings of the stage chosen with `-c stage=<name>` (default `dev`)."""
    stage = node.try_get_context(STAGE_CONTEXT_KEY) or DEFAULT_STAGE
    stages = node.try_get_context(STAGES_CONTEXT_KEY)
    if not isinstance(stages, Mapping):
        raise SettingsError(f"cdk.json context has no {STAGES_CONTEXT_KEY!r} object")
    if stage not in stages:
        raise SettingsError(f"unknown stage {stage!r}; cdk.json defines {sorted(stages)}")
    return StageSettings.from_mapping(stage, stages[stage])
