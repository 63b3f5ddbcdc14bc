"""Subscribers of the bus: one rule each, one target each, every target with a retry policy and a DLQ.

    subscribers = Subscribers(self, "Subscribers", bus=bus, source="customers-mail-cloud", ...)
    subscribers.add_queue("suppression", rule=SubscriberRule(detail_types=("Email Bounced",)))
    subscribers.add_function("crm", function=fn, rule=SubscriberRule())
    subscribers.add_topic("alerts", topic=topic, rule=SubscriberRule(bounce_codes=("1", "2")))
    subscribers.add_http_endpoint("webhook", endpoint="https://…", authorization=..., rule=...)
    subscribers.add(settings)  # any of the above, from a cdk.json `subscribers` entry

A rule always matches the stage's `source` on this bus, narrowed by the SubscriberRule. EventBridge
retries a failed delivery with backoff `retry_attempts` times within `max_event_age`, then puts the
event into the subscriber's dead-letter queue (SQS, encrypted, 14 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, SecretValue, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import queues
from infra.settings import (
    DEFAULT_MAX_EVENT_AGE_HOURS,
    DEFAULT_RETRY_ATTEMPTS,
    ApiKeyAuth,
    BasicAuth,
    FunctionSubscriber,
    HttpSubscriber,
    QueueSubscriber,
    SubscriberRule,
    TopicSubscriber,
)

# The longest SQS allows: time to notice, fix the subscriber and redrive.
RETENTION = Duration.days(14)
# A queue subscriber's consumer gets five tries at a message before it moves to the DLQ.
MAX_RECEIVE_COUNT = 5
DEFAULT_MAX_EVENT_AGE = Duration.hours(DEFAULT_MAX_EVENT_AGE_HOURS)


@dataclass(frozen=True)
class Subscriber:
    name: str
    rule: events.Rule
    dead_letter_queue: sqs.Queue
    queue: sqs.Queue | None = None  # queue subscribers only


class RetryPolicy(TypedDict):
    retry_attempts: int
    max_event_age: Duration


def authorization(auth: ApiKeyAuth | BasicAuth) -> events.Authorization:
    """The API destination's credentials: a dynamic reference to the named secret, which CloudFormation
    resolves at deploy time; the value never appears in cdk.json, the template or the synth output."""
    secret = SecretValue.secrets_manager(auth.secret_name, json_field=auth.secret_field)
    if isinstance(auth, ApiKeyAuth):
        return events.Authorization.api_key(auth.header, secret)
    return events.Authorization.basic(auth.username, secret)


def _imported_target(subscriber: Subscriber, what: str, why: str) -> Subscriber:
    """A target given by ARN in cdk.json: CDK cannot tell, in an environment-agnostic stack, that it
    lives in the stack's account and region, and warns; the settings document that it must."""
    Validations.of(subscriber.rule).acknowledge(
        Acknowledgment(
            id="Annotation::@aws-cdk/aws-events:ruleUnresolvedEnvironment",
            reason=f"The {subscriber.name} subscriber's {what} is given by ARN in cdk.json and must be in "
            f"this stack's account and region ({why}); the stack is environment-agnostic, so CDK "
            "cannot compare the two at synth",
        )
    )
    return subscriber


class Subscribers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        source: str,
        removal_policy: RemovalPolicy,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        """`encryption_key` encrypts every queue (None: SQS's own key)."""
        super().__init__(scope, construct_id)
        self.bus, self.source, self.removal_policy = bus, source, removal_policy
        self.encryption_key = encryption_key
        self.subscribers: dict[str, Subscriber] = {}

    def add(
        self, settings: QueueSubscriber | FunctionSubscriber | TopicSubscriber | HttpSubscriber
    ) -> Subscriber:
        """The subscriber a cdk.json `subscribers` entry describes."""
        retry: RetryPolicy = {
            "retry_attempts": settings.retry_attempts,
            "max_event_age": Duration.hours(settings.max_event_age_hours),
        }
        scope = Construct(self, settings.name)
        if isinstance(settings, QueueSubscriber):
            return self.add_queue(settings.name, rule=settings.rule, **retry)
        if isinstance(settings, FunctionSubscriber):
            # same_environment: EventBridge invokes only functions in the bus's account and region, and
            # this lets CDK add the function's resource policy for the rule.
            function = lambda_.Function.from_function_attributes(
                scope, "Function", function_arn=settings.function_arn, same_environment=True
            )
            subscriber = self.add_function(settings.name, function=function, rule=settings.rule, **retry)
            return _imported_target(subscriber, "function", "EventBridge invokes only functions there")
        if isinstance(settings, TopicSubscriber):
            topic = sns.Topic.from_topic_arn(scope, "Topic", settings.topic_arn)
            subscriber = self.add_topic(settings.name, topic=topic, rule=settings.rule, **retry)
            return _imported_target(subscriber, "topic", "EventBridge publishes only to topics in its region")
        return self.add_http_endpoint(
            settings.name,
            endpoint=settings.endpoint,
            authorization=authorization(settings.auth),
            http_method=events.HttpMethod[settings.http_method],
            rate_limit_per_second=settings.rate_limit_per_second,
            rule=settings.rule,
            **retry,
        )

    def add_queue(
        self,
        name: str,
        *,
        rule: SubscriberRule,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
    ) -> Subscriber:
        """A queue of the stack, for a consumer to poll. Its DLQ takes both what EventBridge could not
        deliver and what the consumer failed to process MAX_RECEIVE_COUNT times: the same envelope
        JSON either way, so one redrive (docs/events.md) brings everything back."""
        scope = self._scope(name)
        dead_letter_queue = self._queue(scope, "DeadLetterQueue", is_dead_letter_queue=True)
        queue = self._queue(
            scope,
            "Queue",
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=dead_letter_queue
            ),
        )
        target = targets.SqsQueue(
            queue,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        return self._add(name, scope, rule, target, dead_letter_queue, queue=queue)

    def add_function(
        self,
        name: str,
        *,
        function: lambda_.IFunction,
        rule: SubscriberRule,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
    ) -> Subscriber:
        """EventBridge invokes the function asynchronously; the DLQ takes events it could not hand over."""
        scope = self._scope(name)
        dead_letter_queue = self._dead_letter_queue(scope, name)
        target = targets.LambdaFunction(
            function,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        return self._add(name, scope, rule, target, dead_letter_queue)

    def add_topic(
        self,
        name: str,
        *,
        topic: sns.ITopic,
        rule: SubscriberRule,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
    ) -> Subscriber:
        """EventBridge publishes to the topic with a role of this rule allowed only sns:Publish on it, so
        an existing topic needs no change to its policy (unless it is in another account or KMS-encrypted)."""
        scope = self._scope(name)
        dead_letter_queue = self._dead_letter_queue(scope, name)
        target = targets.SnsTopic(
            topic,
            authorize_using_role=True,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        return self._add(name, scope, rule, target, dead_letter_queue)

    def add_http_endpoint(
        self,
        name: str,
        *,
        endpoint: str,
        authorization: events.Authorization,
        rule: SubscriberRule,
        http_method: events.HttpMethod = events.HttpMethod.POST,
        rate_limit_per_second: int | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
    ) -> Subscriber:
        """An API destination: EventBridge sends the event JSON to `endpoint`, authenticated through a
        connection, at most `rate_limit_per_second` (EventBridge's default: 300)."""
        scope = self._scope(name)
        connection = events.Connection(
            scope,
            "Connection",
            authorization=authorization,
            description=f"Credentials for the {name} subscriber's HTTP endpoint",
        )
        destination = events.ApiDestination(
            scope,
            "Destination",
            connection=connection,
            endpoint=endpoint,
            http_method=http_method,
            rate_limit_per_second=rate_limit_per_second,
            description=f"The {name} subscriber's HTTP endpoint",
        )
        dead_letter_queue = self._dead_letter_queue(scope, name)
        target = targets.ApiDestination(
            destination,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        return self._add(name, scope, rule, target, dead_letter_queue)

    def _scope(self, name: str) -> Construct:
        """The subscriber's own construct (made by `add` when it imports the target there)."""
        existing = self.node.try_find_child(name)
        if existing is None:
            return Construct(self, name)
        if name in self.subscribers:
            raise ValueError(f"a subscriber named {name!r} already exists")
        assert isinstance(existing, Construct)
        return existing

    def _queue(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dead_letter_queue: sqs.DeadLetterQueue | None = None,
        is_dead_letter_queue: bool = False,
    ) -> sqs.Queue:
        return queues.queue(
            scope,
            construct_id,
            encryption_key=self.encryption_key,
            retention_period=RETENTION,
            removal_policy=self.removal_policy,
            dead_letter_queue=dead_letter_queue,
            is_dead_letter_queue=is_dead_letter_queue,
        )

    def _dead_letter_queue(self, scope: Construct, name: str) -> sqs.Queue:
        queue = self._queue(scope, "DeadLetterQueue", is_dead_letter_queue=True)
        Validations.of(queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason=f"This queue is the dead-letter queue of the {name} subscriber's EventBridge target: "
                "it keeps for 14 days the events EventBridge could not deliver, for an operator to "
                "re-send (docs/events.md); a dead-letter queue of its own would add nothing",
            )
        )
        return queue

    def _add(
        self,
        name: str,
        scope: Construct,
        rule: SubscriberRule,
        target: events.IRuleTarget,
        dead_letter_queue: sqs.Queue,
        *,
        queue: sqs.Queue | None = None,
    ) -> Subscriber:
        pattern = rule.event_pattern(self.source)
        event_rule = events.Rule(
            scope,
            "Rule",
            event_bus=self.bus,
            description=f"Events for the {name} subscriber",
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern.get("detail-type"),
                detail=pattern.get("detail"),
            ),
            targets=[target],
        )
        subscriber = Subscriber(name, event_rule, dead_letter_queue, queue)
        self.subscribers[name] = subscriber
        return subscriber
