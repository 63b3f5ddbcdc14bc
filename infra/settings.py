"""Typed settings of one deployment stage, read once from the CDK context (cdk.json).

cdk.json holds one entry per stage under `stages`; `-c stage=prod` picks one (default `dev`). An entry's
keys are the field names of StageSettings. The functions' settings (time zone, limits, suppression
rules, published kinds) are inherited from the functions' own models (cmc_webhooks.settings), with their
defaults and bounds, so the stack writes each function's environment from the fields it reads back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationError,
    model_validator,
)

from cmc_webhooks import contract
from cmc_webhooks.settings import IngestTunables, PublishTunables, ReconcileTunables

STAGE_CONTEXT_KEY = "stage"
STAGES_CONTEXT_KEY = "stages"
DEFAULT_STAGE = "dev"
# EventBridge's default retry policy of a target (SubscriberBase holds its bounds).
DEFAULT_RETRY_ATTEMPTS = 10
DEFAULT_MAX_EVENT_AGE_HOURS = 24
DETAIL_TYPES = (
    *(kind.detail_type for kind in contract.PUBLISHABLE_KINDS.values()),
    contract.INBOUND_DETAIL_TYPE,
    contract.SUPPRESSED_DETAIL_TYPE,
    contract.UNSUPPRESSED_DETAIL_TYPE,
)
BOUNCED = contract.PUBLISHABLE_KINDS["bounced"].detail_type


class SettingsError(ValueError):
    """The CDK context does not describe a valid stage."""


def _distinct(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(set(values)) != len(values):
        raise ValueError(f"a value is listed twice: {[str(value) for value in values]}")
    return values


def _detail_types(values: tuple[str, ...]) -> tuple[str, ...]:
    if unknown := sorted(set(values) - set(DETAIL_TYPES)):
        raise ValueError(f"unknown {unknown}; known: {sorted(DETAIL_TYPES)}")
    return values


def _retention_days_member(value: str) -> str:
    if value not in logs.RetentionDays.__members__:
        raise ValueError(f"{value!r} is no member of aws_logs.RetentionDays (e.g. TWO_WEEKS, ONE_YEAR)")
    return value


Text = Annotated[str, Field(min_length=1)]
# A non-empty list of distinct values in cdk.json; a rule field left out matches anything.
Choices = Annotated[tuple[Text, ...], Field(min_length=1), AfterValidator(_distinct)]
BounceCode = Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "99"]  # CMC's bounce codes


class Strict(BaseModel):
    """cdk.json is JSON: values are taken as they are typed (no "20" for 20, no 1 for true), and an
    unknown key is an error rather than a setting silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class SubscriberRule(Strict):
    """What a subscriber's rule matches, on top of the bus and the stage's `event_source`. Every field
    narrows the match; an empty rule takes every published event."""

    detail_types: Annotated[Choices, AfterValidator(_detail_types)] = ()
    bounce_codes: Annotated[tuple[BounceCode, ...], Field(min_length=1), AfterValidator(_distinct)] = ()
    server_compositions: Choices = ()
    api_data_prefix: Text | None = None

    @model_validator(mode="after")
    def _bounce_codes_need_bounces(self) -> Self:
        if self.bounce_codes and self.detail_types and BOUNCED not in self.detail_types:
            raise ValueError(f"bounce_codes match only {BOUNCED!r} events, which detail_types leaves out")
        return self

    def event_pattern(self, source: str) -> dict[str, Any]:
        """The rule's EventBridge pattern as JSON."""
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


class SecretReference(Strict):
    """An HTTP subscriber's credential stays in Secrets Manager: cdk.json names the secret (not an ARN),
    CloudFormation resolves it at deploy time."""

    secret_name: str = Field(pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$")
    # The key inside a JSON secret; None: the whole SecretString is the credential.
    secret_field: Text | None = None


class ApiKeyAuth(SecretReference):
    type: Literal["api_key"]
    header: str = Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,512}$")


class BasicAuth(SecretReference):
    type: Literal["basic"]
    username: Text


HttpAuth = Annotated[ApiKeyAuth | BasicAuth, Field(discriminator="type")]


class SubscriberBase(Strict):
    """One subscriber: a rule on the bus with one target, its retry policy, and its dead-letter queue."""

    # Becomes a construct id and part of an output name.
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    rule: SubscriberRule = Field(default_factory=SubscriberRule)
    retry_attempts: int = Field(DEFAULT_RETRY_ATTEMPTS, ge=0, le=185)
    max_event_age_hours: int = Field(DEFAULT_MAX_EVENT_AGE_HOURS, ge=1, le=24)


class QueueSubscriber(SubscriberBase):
    kind: Literal["queue"]


class FunctionSubscriber(SubscriberBase):
    kind: Literal["function"]
    function_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"
    )


class TopicSubscriber(SubscriberBase):
    kind: Literal["topic"]
    topic_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


class HttpSubscriber(SubscriberBase):
    kind: Literal["http"]
    endpoint: str = Field(pattern=r"^https://[^\s/?#]+\S*$")
    http_method: Literal["POST", "PUT", "PATCH"] = "POST"
    # None: EventBridge's default (300).
    rate_limit_per_second: int | None = Field(None, ge=1, le=300)
    auth: HttpAuth


Subscriber = Annotated[
    QueueSubscriber | FunctionSubscriber | TopicSubscriber | HttpSubscriber, Field(discriminator="kind")
]


def _unique_names(subscribers: tuple[SubscriberBase, ...]) -> tuple[SubscriberBase, ...]:
    names = [subscriber.name for subscriber in subscribers]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(f"names must be unique, repeated: {repeated}")
    return subscribers


class StageSettings(IngestTunables, PublishTunables, ReconcileTunables):
    """What differs between stages: the functions' tunables (inherited, with their defaults and bounds)
    and what only the stack uses."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        validate_by_name=True,
        validate_by_alias=False,
        loc_by_alias=False,
    )

    # The key of the entry under `stages`; part of the stack's name.
    stage: str = Field(pattern=r"^[a-z][a-z0-9-]{0,19}$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    # A member name of aws_logs.RetentionDays, e.g. "ONE_MONTH"; applies to every log group.
    log_retention: Annotated[str, AfterValidator(_retention_days_member)]
    # Steady-state requests per second and burst for the whole API stage.
    throttling_rate_limit: int = Field(ge=1)
    throttling_burst_limit: int = Field(ge=1)
    # True: RETAIN the table, log groups and queues, and turn on DynamoDB deletion protection.
    retain_data: bool
    # True: the table (and its stream), the log groups and the queues are encrypted with one customer-managed
    # KMS key of the stack, rotated yearly; False: with AWS managed or service-owned keys.
    customer_managed_key: bool = False
    # The Powertools layer release (AWS's public SSM parameter): the version the tests run against.
    powertools_layer_version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    # Days the bus's archive keeps every published event for replay.
    archive_retention_days: int = Field(ge=1, le=36500)
    subscribers: Annotated[tuple[Subscriber, ...], AfterValidator(_unique_names)]
    # Networks allowed to POST webhooks (the API's resource policy); empty: any source.
    allowed_source_cidrs: Annotated[tuple[IPvAnyNetwork, ...], AfterValidator(_distinct)]
    # Requests from one IP address in 5 minutes above which a WAF web ACL blocks it (AWS WAF's bounds);
    # None (null, or left out: CDK may drop a null context value): no WAF.
    waf_rate_limit_per_5min: int | None = Field(None, ge=10, le=2_000_000_000)
    # An address the alarm topic e-mails (SNS asks it to confirm); None: the topic only.
    alarm_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # 5xx answers, in percent of the API's requests over 5 minutes, that raise the alarm.
    api_5xx_rate_percent: int = Field(ge=1, le=100)
    # Failed webhook authentications in 5 minutes above which the alarm goes off.
    auth_failures_per_5min: int = Field(ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _subscribers_listen_to_published_kinds(self) -> Self:
        published = set(self.published_detail_types)
        for subscriber in self.subscribers:
            if unpublished := sorted(set(subscriber.rule.detail_types) - published):
                raise ValueError(
                    f"subscriber {subscriber.name!r} listens for {unpublished}, which published_kinds "
                    f"{list(self.published_kinds)} does not publish"
                )
        return self

    @classmethod
    def from_context(cls, stage: str, entry: Any) -> StageSettings:
        """The settings of `stage` from its cdk.json entry; SettingsError names every wrong key."""
        if not isinstance(entry, Mapping):
            raise SettingsError(f"stage {stage!r}: the cdk.json entry must be an object, got {entry!r}")
        try:
            return cls.model_validate(_tuples({**entry, STAGE_CONTEXT_KEY: stage}))
        except ValidationError as error:
            problems = "\n".join(f"  {problem}" for problem in describe(error))
            raise SettingsError(f"stage {stage!r}: invalid settings in cdk.json:\n{problems}") from None

    @property
    def published_detail_types(self) -> tuple[str, ...]:
        """The published kinds' detail-types, and inbound mail's, which is always published."""
        kinds = (contract.PUBLISHABLE_KINDS[kind].detail_type for kind in self.published_kinds)
        return (*kinds, contract.INBOUND_DETAIL_TYPE)

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY

    @property
    def log_retention_days(self) -> logs.RetentionDays:
        return logs.RetentionDays[self.log_retention]


def _tuples(value: Any) -> Any:
    """JSON's lists as tuples: in strict mode a tuple field takes a tuple only."""
    if isinstance(value, list | tuple):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, Mapping):
        return {key: _tuples(item) for key, item in value.items()}
    return value


QUIET_ERRORS = frozenset({"missing", "extra_forbidden", "value_error"})


def describe(error: ValidationError) -> list[str]:
    """One line per problem: the key's path (`subscribers[1].http.auth`) and what is wrong with it."""
    lines = []
    for problem in error.errors(include_url=False):
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        value = problem.get("input")
        # The value, where pydantic's message does not say it (a validator's own message does).
        if problem["type"] not in QUIET_ERRORS and isinstance(value, str | int | float):
            message += f" (got {value!r})"
        lines.append(f"{path.removeprefix('.')}: {message}" if path else message)
    return lines


def load_settings(node: Node) -> StageSettings:
    """The settings of the stage chosen with `-c stage=<name>` (default `dev`)."""
    stage = node.try_get_context(STAGE_CONTEXT_KEY) or DEFAULT_STAGE
    stages = node.try_get_context(STAGES_CONTEXT_KEY)
    if not isinstance(stages, Mapping):
        raise SettingsError(f"cdk.json context has no {STAGES_CONTEXT_KEY!r} object")
    if stage not in stages:
        raise SettingsError(f"unknown stage {stage!r}; cdk.json defines {sorted(stages)}")
    return StageSettings.from_context(stage, stages[stage])
