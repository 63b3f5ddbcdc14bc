"""The view with manual decisions, in time order with the bounce rules (logic/suppression.py)."""

from __future__ import annotations

from cmc_webhooks.logic.suppression import Decision, suppression
from tests.unit.test_suppression import POLICY, event

ACTOR = "arn:aws:iam::111122223333:user/ops"


def decided(day: int, action: str, reason: str | None = None, hour: int = 12) -> Decision:
    return Decision(
        decision_id=f"d-{day}-{action}",
        action="suppress" if action == "suppress" else "lift",
        decided_at=f"2026-01-{day:02d}T{hour:02d}:00:00+00:00",
        actor=ACTOR,
        reason=reason,
    )


def test_a_manual_suppression_holds_until_lifted_whatever_is_delivered() -> None:
    state = suppression([event(3, "success")], POLICY, [decided(1, "suppress", "complaint")])
    assert (state.suppressed, state.reason, state.since) == (
        True,
        "manual:complaint",
        "2026-01-01T12:00:00+00:00",
    )
    assert (state.decision_id, state.actor, state.cause_event_id) == ("d-1-suppress", ACTOR, None)
    assert state.cmc_block_list is False


def test_a_lift_clears_a_hard_bounce_and_records_who_and_when() -> None:
    state = suppression([event(1, "hard")], POLICY, [decided(2, "lift")])
    assert (state.suppressed, state.reason, state.since) == (False, None, None)
    assert (state.decision_id, state.actor, state.lifted_at) == (
        "d-2-lift",
        ACTOR,
        "2026-01-02T12:00:00+00:00",
    )


def test_the_next_hard_bounce_after_a_lift_suppresses_again() -> None:
    state = suppression([event(1, "hard"), event(3, "hard", message="m3")], POLICY, [decided(2, "lift")])
    assert (state.suppressed, state.reason, state.since) == (
        True,
        "hard_bounce:user_unknown",
        event(3, "hard")["occurred_at"],
    )
    assert (state.cause_event_id, state.decision_id, state.actor) == ("m3-3-hard", None, None)


def test_a_block_after_a_lift_suppresses_again_as_cmcs_own() -> None:
    state = suppression([event(1, "hard"), event(3, "blocked")], POLICY, [decided(2, "lift")])
    assert (state.suppressed, state.reason, state.cmc_block_list) == (True, "blocked", True)


def test_an_event_before_the_lift_does_not_undo_it_even_if_stored_later() -> None:
    # a bounce of day 1, posted after a lift of day 2: time order decides, not arrival
    state = suppression([event(1, "hard", message="m0"), event(1, "hard")], POLICY, [decided(2, "lift")])
    assert state.suppressed is False


def test_soft_bounces_count_again_from_the_lift() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    after = [event(day, "soft", message=f"n{day}") for day in (5, 6)]
    assert suppression([*soft, *after], POLICY, [decided(4, "lift")]).suppressed is False
    third = event(7, "soft", message="n7")
    state = suppression([*soft, *after, third], POLICY, [decided(4, "lift")])
    assert (state.suppressed, state.reason, state.cause_event_id) == (
        True,
        "soft_bounces:3_in_7_days",
        "n7-7-soft",
    )


def test_a_manual_suppression_does_not_replace_a_hard_bounce_already_deciding() -> None:
    state = suppression([event(1, "hard")], POLICY, [decided(2, "suppress", "complaint")])
    assert (state.reason, state.decision_id) == ("hard_bounce:user_unknown", None)


def test_a_manual_suppression_replaces_a_soft_bounce_suppression_and_a_delivery_does_not_clear_it() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    state = suppression([*soft, event(5, "success")], POLICY, [decided(4, "suppress", "legal")])
    assert (state.suppressed, state.reason) == (True, "manual:legal")


def test_a_manual_suppression_after_a_lift_holds_again() -> None:
    decisions = [decided(1, "suppress", "a"), decided(2, "lift"), decided(3, "suppress", "b")]
    state = suppression([], POLICY, decisions)
    assert (state.suppressed, state.reason, state.decision_id) == (True, "manual:b", "d-3-suppress")


def test_a_delivery_that_clears_a_soft_bounce_suppression_is_named_as_its_cause() -> None:
    soft = [event(day, "soft", message=f"m{day}") for day in (1, 2, 3)]
    state = suppression([*soft, event(4, "success")], POLICY)
    assert (state.suppressed, state.cause_event_id, state.lifted_at) == (
        False,
        "m1-4-success",
        event(4, "success")["occurred_at"],
    )
    # a delivery to an address that was never suppressed names nothing
    assert suppression([event(4, "success")], POLICY).cause_event_id is None


def test_the_cause_of_each_rule_is_its_event_and_cmcs_codes_are_marked() -> None:
    assert suppression([event(1, "hard")], POLICY).cause_event_id == "m1-1-hard"
    unsubscribed = suppression([event(1, "unsubscribed")], POLICY)
    assert (unsubscribed.reason, unsubscribed.cmc_block_list, unsubscribed.cause_event_id) == (
        "unsubscribed",
        True,
        "m1-1-unsubscribed",
    )
    assert suppression([event(1, "hard")], POLICY).cmc_block_list is False


def test_decisions_and_events_at_the_same_instant_apply_the_event_first() -> None:
    bounce = event(2, "hard")  # 2026-01-02T09:00:00+09:00 = 2026-01-02T00:00:00Z
    lift = Decision("d", "lift", "2026-01-02T00:00:00+00:00", ACTOR)
    assert suppression([bounce], POLICY, [lift]).suppressed is False


def test_decisions_apply_in_time_order_whatever_order_they_come_in() -> None:
    state = suppression([], POLICY, [decided(3, "lift"), decided(1, "suppress", "x")])
    # as given, the lift comes first in the list but last in time
    assert state.suppressed is False
