"""Typed settings of one deployment stage, read once from the CDK context (cdk.json).

cdk.json holds one entry per stage under `stages`; `-c stage=prod` picks one (default `dev`).
Every difference between stages is a value here, handed to the constructs as arguments.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from cmc_webhooks import contract

STAGE_CONTEXT_KEY = "stage"
STAGES_CONTEXT_KEY = "stages"
DEFAULT_STAGE = "dev"

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# What the function accepts besides IANA names (cmc_webhooks.settings.parse_time_zone).
_UTC_OFFSET = re.compile(r"^(UTC|Z|[+-]\d{2}:\d{2})$")
_LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR"})
# An EventBridge `source`: "aws." is reserved for AWS services.
_EVENT_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,255}$")
# Becomes a construct id and part of an output name.
_SUBSCRIBER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"
)
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
# Secrets Manager secret names (not ARNs, not values): letters, digits and /_+=.@-
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,512}$")
_HTTP_METHODS = frozenset({"POST", "PUT", "PATCH"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Lambda takes at most 6 MB per synchronous request, so a larger body never reaches the function.
MAX_BODY_BYTES_LIMIT = 6 * 1024 * 1024
# AWS WAF's bounds for a rate-based rule's limit (requests per evaluation window, here 5 minutes).
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)
# CMC's bounce codes (../shared/cmc-reference.md), as they appear in the event's `bounce_code`.
BOUNCE_CODES = frozenset({*(str(code) for code in range(1, 12)), "99"})
SUBSCRIBER_KINDS = ("queue", "function", "topic", "http")
# EventBridge's bounds for a target's retry policy.
MAX_RETRY_ATTEMPTS = 185
MAX_EVENT_AGE_HOURS = 24
DEFAULT_RETRY_ATTEMPTS = 10
DEFAULT_MAX_EVENT_AGE_HOURS = 24


class SettingsError(ValueError):
    """The CDK context does not describe a valid stage."""


def _keys(where: str, raw: Any, *, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    """`raw` as a JSON object holding every required key and no unknown one."""
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where} must be an object, got {raw!r}")
    if unknown := sorted(set(raw) - required - optional):
        raise SettingsError(f"{where}: unknown settings {unknown}")
    if missing := sorted(required - set(raw)):
        raise SettingsError(f"{where}: missing settings {missing}")
    return raw


def _typed(where: str, value: Any, expected: type) -> Any:
    if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise SettingsError(f"{where} must be {expected.__name__}, got {value!r}")
    return value


def _strings(where: str, value: Any) -> tuple[str, ...]:
    """A non-empty JSON list of distinct, non-empty strings."""
    if not isinstance(value, list | tuple) or not value:
        raise SettingsError(f"{where} must be a non-empty list, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise SettingsError(f"{where} must hold non-empty strings, got {item!r}")
    if len(set(value)) != len(value):
        raise SettingsError(f"{where} must not repeat a value: {list(value)}")
    return tuple(value)


def _in_range(where: str, value: Any, low: int, high: int) -> int:
    number: int = _typed(where, value, int)
    if not low <= number <= high:
        raise SettingsError(f"{where} must be from {low} to {high}, got {number}")
    return number


@dataclass(frozen=True, kw_only=True)
class SubscriberRule:
    """What a subscriber's rule matches, on top of the bus and the stage's `event_source`. Every field
    narrows the match; an empty rule takes every published event."""

    detail_types: tuple[str, ...] = ()
    bounce_codes: tuple[str, ...] = ()
    server_compositions: tuple[str, ...] = ()
    api_data_prefix: str | None = None

    @classmethod
    def from_mapping(cls, where: str, raw: Any) -> SubscriberRule:
        raw = _keys(where, raw, required=set(), optional={field.name for field in fields(cls)})
        known_types = {kind.detail_type for kind in contract.PUBLISHABLE_KINDS.values()}
        detail_types = _strings(f"{where}.detail_types", raw["detail_types"]) if "detail_types" in raw else ()
        if unknown := sorted(set(detail_types) - known_types):
            raise SettingsError(f"{where}.detail_types: unknown {unknown}; known: {sorted(known_types)}")
        bounce_codes = _strings(f"{where}.bounce_codes", raw["bounce_codes"]) if "bounce_codes" in raw else ()
        if unknown := sorted(set(bounce_codes) - BOUNCE_CODES):
            raise SettingsError(f"{where}.bounce_codes: {unknown} are not CMC bounce codes (1-11, 99)")
        bounced = contract.PUBLISHABLE_KINDS["bounced"].detail_type
        if bounce_codes and detail_types and bounced not in detail_types:
            raise SettingsError(
                f"{where}: bounce_codes match only {bounced!r} events, which detail_types leaves out"
            )
        prefix = raw.get("api_data_prefix")
        if prefix is not None and not _typed(f"{where}.api_data_prefix", prefix, str):
            raise SettingsError(f"{where}.api_data_prefix must not be empty")
        return cls(
            detail_types=detail_types,
            bounce_codes=bounce_codes,
            server_compositions=(
                _strings(f"{where}.server_compositions", raw["server_compositions"])
                if "server_compositions" in raw
                else ()
            ),
            api_data_prefix=prefix,
        )

    def event_pattern(self, source: str) -> dict[str, Any]:
        """The rule's EventBridge pattern as JSON (the subscriber construct builds the same)."""
        pattern: dict[str, Any] = {"source": [source]}
        if self.detail_types:
            pattern["detail-type"] = list(self.detail_types)
        detail: dict[str, Any] = {}
        if self.bounce_codes:
            detail["bounce_code"] = list(self.bounce_codes)
        if self.server_compositions:
            detail["server_composition"] = list(self.server_compositions)
        if self.api_data_prefix is not None:
            detail["api_data"] = [{"prefix": self.api_data_prefix}]
        if detail:
            pattern["detail"] = detail
        return pattern


@dataclass(frozen=True, kw_only=True)
class HttpAuth:
    """How an HTTP subscriber's API destination authenticates. The credential itself stays in Secrets
    Manager: cdk.json names the secret, CloudFormation resolves it at deploy time."""

    type: str  # "api_key" (a header) or "basic"
    secret_name: str
    # The key inside a JSON secret; None: the whole SecretString is the credential.
    secret_field: str | None = None
    header: str | None = None  # api_key
    username: str | None = None  # basic

    @classmethod
    def from_mapping(cls, where: str, raw: Any) -> HttpAuth:
        if not isinstance(raw, Mapping):
            raise SettingsError(f"{where} must be an object, got {raw!r}")
        auth_type = raw.get("type")
        own = {"api_key": {"header"}, "basic": {"username"}}
        if auth_type not in own:
            raise SettingsError(f"{where}.type must be one of {sorted(own)}, got {auth_type!r}")
        raw = _keys(where, raw, required={"type", "secret_name", *own[auth_type]}, optional={"secret_field"})
        secret_name = _typed(f"{where}.secret_name", raw["secret_name"], str)
        if not _SECRET_NAME.match(secret_name) or secret_name.startswith("arn:"):
            raise SettingsError(
                f"{where}.secret_name must name a Secrets Manager secret, got {secret_name!r}"
            )
        secret_field = raw.get("secret_field")
        if secret_field is not None and not _typed(f"{where}.secret_field", secret_field, str):
            raise SettingsError(f"{where}.secret_field must not be empty")
        header = raw.get("header")
        if header is not None and not _HEADER_NAME.match(_typed(f"{where}.header", header, str)):
            raise SettingsError(f"{where}.header must be an HTTP header name, got {header!r}")
        username = raw.get("username")
        if username is not None and not _typed(f"{where}.username", username, str):
            raise SettingsError(f"{where}.username must not be empty")
        return cls(
            type=auth_type,
            secret_name=secret_name,
            secret_field=secret_field,
            header=header,
            username=username,
        )


def _target_fields(where: str, kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The kind-specific fields of a subscriber, checked."""
    if kind == "function":
        arn = _typed(f"{where}.function_arn", raw["function_arn"], str)
        if not _FUNCTION_ARN.match(arn):
            raise SettingsError(f"{where}.function_arn must be a Lambda function ARN, got {arn!r}")
        return {"function_arn": arn}
    if kind == "topic":
        arn = _typed(f"{where}.topic_arn", raw["topic_arn"], str)
        if not _TOPIC_ARN.match(arn):
            raise SettingsError(f"{where}.topic_arn must be an SNS topic ARN, got {arn!r}")
        return {"topic_arn": arn}
    if kind != "http":
        return {}
    endpoint = _typed(f"{where}.endpoint", raw["endpoint"], str)
    if not re.match(r"^https://[^\s/?#]+\S*$", endpoint):
        raise SettingsError(f"{where}.endpoint must be an https:// URL, got {endpoint!r}")
    method = raw.get("http_method", "POST")
    if method not in _HTTP_METHODS:
        raise SettingsError(f"{where}.http_method must be one of {sorted(_HTTP_METHODS)}, got {method!r}")
    values = {
        "endpoint": endpoint,
        "http_method": method,
        "auth": HttpAuth.from_mapping(f"{where}.auth", raw["auth"]),
    }
    if "rate_limit_per_second" in raw:
        values["rate_limit_per_second"] = _in_range(
            f"{where}.rate_limit_per_second", raw["rate_limit_per_second"], 1, 300
        )
    return values


@dataclass(frozen=True, kw_only=True)
class SubscriberSettings:
    """One subscriber: a rule on the bus with one target, its retry policy, and its dead-letter queue."""

    name: str
    kind: str  # one of SUBSCRIBER_KINDS
    rule: SubscriberRule = SubscriberRule()
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    max_event_age_hours: int = DEFAULT_MAX_EVENT_AGE_HOURS
    function_arn: str | None = None  # function
    topic_arn: str | None = None  # topic
    endpoint: str | None = None  # http: an https:// URL
    http_method: str = "POST"  # http
    rate_limit_per_second: int | None = None  # http; None: EventBridge's default
    auth: HttpAuth | None = None  # http

    @classmethod
    def from_mapping(cls, where: str, raw: Any) -> SubscriberSettings:
        common = {"name", "kind"}
        shared = {"rule", "retry_attempts", "max_event_age_hours"}
        own: dict[str, tuple[set[str], set[str]]] = {  # kind -> (required, optional)
            "queue": (set(), set()),
            "function": ({"function_arn"}, set()),
            "topic": ({"topic_arn"}, set()),
            "http": ({"endpoint", "auth"}, {"http_method", "rate_limit_per_second"}),
        }
        if not isinstance(raw, Mapping):
            raise SettingsError(f"{where} must be an object, got {raw!r}")
        name = _typed(f"{where}.name", raw.get("name"), str)
        if not _SUBSCRIBER_NAME.match(name):
            raise SettingsError(f"{where}.name must match {_SUBSCRIBER_NAME.pattern}, got {name!r}")
        where = f"subscriber {name!r}"
        kind = raw.get("kind")
        if kind not in own:
            raise SettingsError(f"{where}: kind must be one of {list(SUBSCRIBER_KINDS)}, got {kind!r}")
        required, optional = own[kind]
        raw = _keys(where, raw, required=common | required, optional=shared | optional)
        values: dict[str, Any] = {"name": name, "kind": kind}
        if "rule" in raw:
            values["rule"] = SubscriberRule.from_mapping(f"{where}.rule", raw["rule"])
        if "retry_attempts" in raw:
            values["retry_attempts"] = _in_range(
                f"{where}.retry_attempts", raw["retry_attempts"], 0, MAX_RETRY_ATTEMPTS
            )
        if "max_event_age_hours" in raw:
            values["max_event_age_hours"] = _in_range(
                f"{where}.max_event_age_hours", raw["max_event_age_hours"], 1, MAX_EVENT_AGE_HOURS
            )
        values |= _target_fields(where, kind, raw)
        return cls(**values)


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
    # The `source` of the published events (rules match on it).
    event_source: str
    # Which stored events are published: names of contract.PUBLISHABLE_KINDS. A JSON list in cdk.json.
    published_kinds: tuple[str, ...]
    # Days the bus's archive keeps every published event for replay.
    archive_retention_days: int
    # Rules on the bus, one target each. A JSON list of objects in cdk.json (SubscriberSettings).
    subscribers: tuple[SubscriberSettings, ...]
    # Webhook bodies larger than this get 413 (the function's cap; at most MAX_BODY_BYTES_LIMIT).
    max_body_bytes: int
    # The recipient view's suppression rule: this many soft bounces within the window suppress an address.
    soft_bounce_threshold: int
    soft_bounce_window_days: int
    # The other suppression rules (docs/bounces.md): a hard bounce, and a block/suppressed/unsubscribed
    # address, suppress at once; a later successful delivery clears a soft-bounce suppression.
    suppress_on_hard_bounce: bool
    suppress_on_block: bool
    success_clears_soft_bounces: bool
    # Source addresses (IPv4/IPv6 CIDRs) allowed to POST webhooks, through the API's resource policy. A
    # JSON list in cdk.json; empty: any source (the credentials still apply).
    allowed_source_cidrs: tuple[str, ...]
    # 5xx answers, in percent of the API's requests over 5 minutes, that raise the alarm.
    api_5xx_rate_percent: int
    # Failed webhook authentications in 5 minutes above which the alarm goes off.
    auth_failures_per_5min: int
    # Optional: null in cdk.json, or left out (CDK may drop a null context value on the way here).
    # Requests from one IP address in 5 minutes above which a WAF web ACL blocks it; None: no WAF.
    waf_rate_limit_per_5min: int | None = None
    # An address the alarm topic e-mails (SNS asks it to confirm); None: the topic only.
    alarm_email: str | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            if field.type not in ("bool", "int", "str"):
                continue  # the lists below
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
        self._check_fanout()
        self._check_limits_protection_and_alarms()

    def _check_fanout(self) -> None:
        if not _EVENT_SOURCE.match(self.event_source) or self.event_source.startswith("aws."):
            raise SettingsError(
                f"event_source must match {_EVENT_SOURCE.pattern} and not start with 'aws.', "
                f"got {self.event_source!r}"
            )
        kinds = _strings("published_kinds", self.published_kinds)
        if unknown := sorted(set(kinds) - set(contract.PUBLISHABLE_KINDS)):
            raise SettingsError(
                f"published_kinds: unknown {unknown}; known: {sorted(contract.PUBLISHABLE_KINDS)}"
            )
        object.__setattr__(self, "published_kinds", kinds)
        _in_range("archive_retention_days", self.archive_retention_days, 1, 36500)
        object.__setattr__(self, "subscribers", self._parse_subscribers())

    def _check_limits_protection_and_alarms(self) -> None:
        _in_range("max_body_bytes", self.max_body_bytes, 1024, MAX_BODY_BYTES_LIMIT)
        _in_range("soft_bounce_threshold", self.soft_bounce_threshold, 1, 100)
        # Older events are gone (TTL), so a longer window would count fewer bounces than it says.
        _in_range("soft_bounce_window_days", self.soft_bounce_window_days, 1, self.retention_days)
        object.__setattr__(self, "allowed_source_cidrs", self._parse_cidrs())
        if self.waf_rate_limit_per_5min is not None:
            _in_range("waf_rate_limit_per_5min", self.waf_rate_limit_per_5min, *WAF_RATE_LIMIT_RANGE)
        if self.alarm_email is not None and not _EMAIL.match(_typed("alarm_email", self.alarm_email, str)):
            raise SettingsError(f"alarm_email must be an e-mail address or null, got {self.alarm_email!r}")
        _in_range("api_5xx_rate_percent", self.api_5xx_rate_percent, 1, 100)
        _in_range("auth_failures_per_5min", self.auth_failures_per_5min, 1, 1_000_000)

    def _parse_cidrs(self) -> tuple[str, ...]:
        raw: Any = self.allowed_source_cidrs
        if not isinstance(raw, list | tuple):
            raise SettingsError(f"allowed_source_cidrs must be a list (empty: any source), got {raw!r}")
        cidrs = _strings("allowed_source_cidrs", raw) if raw else ()
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as error:
                message = f"allowed_source_cidrs: {cidr!r} is not a network in CIDR notation ({error})"
                raise SettingsError(message) from error
        return cidrs

    def _parse_subscribers(self) -> tuple[SubscriberSettings, ...]:
        raw: Any = self.subscribers
        if not isinstance(raw, list | tuple):
            raise SettingsError(f"subscribers must be a list, got {raw!r}")
        subscribers = tuple(
            item
            if isinstance(item, SubscriberSettings)
            else SubscriberSettings.from_mapping(f"subscribers[{i}]", item)
            for i, item in enumerate(raw)
        )
        names = [subscriber.name for subscriber in subscribers]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise SettingsError(f"subscribers: names must be unique, repeated: {repeated}")
        published = {contract.PUBLISHABLE_KINDS[kind].detail_type for kind in self.published_kinds}
        for subscriber in subscribers:
            if unpublished := sorted(set(subscriber.rule.detail_types) - published):
                raise SettingsError(
                    f"subscriber {subscriber.name!r} listens for {unpublished}, which published_kinds "
                    f"{list(self.published_kinds)} does not publish"
                )
        return subscribers

    @property
    def published_detail_types(self) -> tuple[str, ...]:
        return tuple(contract.PUBLISHABLE_KINDS[kind].detail_type for kind in self.published_kinds)

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY

    @property
    def log_retention_days(self) -> logs.RetentionDays:
        return logs.RetentionDays[self.log_retention]

    @classmethod
    def from_mapping(cls, stage: str, raw: Mapping[str, Any]) -> StageSettings:
        known = {field.name for field in fields(cls)} - {"stage"}
        required = {field.name for field in fields(cls) if field.default is MISSING} - {"stage"}
        if unknown := sorted(set(raw) - known):
            raise SettingsError(f"stage {stage!r}: unknown settings {unknown}")
        if missing := sorted(required - set(raw)):
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
