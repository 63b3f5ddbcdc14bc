"""The custom event bus the publisher puts events on, with an archive for replays."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from constructs import Construct


class EventBus(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, source: str, archive_retention_days: int
    ) -> None:
        super().__init__(scope, construct_id)
        # CDK names the bus (stack name + id), so two stages live side by side; the publisher and the
        # stack outputs carry the name.
        self.bus = events.EventBus(
            self, "Bus", description=f"Customers Mail Cloud events ({Stack.of(self).stack_name})"
        )
        # Every event the publisher puts (its `source`), kept for replays onto this bus (docs/events.md).
        self.archive = self.bus.archive(
            "Archive",
            description=f"Every {source} event on the bus, for replays",
            event_pattern=events.EventPattern(source=[source]),
            retention=Duration.days(archive_retention_days),
        )
