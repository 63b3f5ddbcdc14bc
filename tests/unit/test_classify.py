"""Bounce classification: the reply corpus, CMC codes alone, the precedence rule, safety of the output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmc_webhooks.logic.classify import (
    CATEGORIES,
    CMC_CODE_CATEGORIES,
    MAX_SCANNED_CHARS,
    PHRASE_RULES,
    WEAK_PHRASE_RULES,
    Classification,
    _patterns,
    classify,
)

CORPUS_PATH = Path(__file__).parents[1] / "fixtures" / "bounce_corpus.json"
CORPUS: list[dict[str, Any]] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
EXPECTED_FIELDS = ("bounce_type", "bounce_category", "smtp_code", "enhanced_status")


def classify_row(row: dict[str, Any]) -> Classification | None:
    return classify(
        event_type=row["event_type"],
        status=row["status"],
        bounce_code=row["bounce_code"],
        reason=row["reason"],
    )


# --- the corpus


def test_corpus_is_large_and_covers_the_senders_we_meet() -> None:
    assert len(CORPUS) >= 80
    assert len({row["id"] for row in CORPUS}) == len(CORPUS), "corpus ids must be unique"
    sources = {row["source"] for row in CORPUS}
    required = {"gmail", "outlook", "exchange_online", "yahoo", "yahoo_japan", "icloud", "postfix", "exim"}
    required |= {"qmail", "sendmail", "docomo", "au_kddi", "softbank", "generic"}
    assert required <= sources
    for carrier in ("docomo", "au_kddi", "softbank"):
        assert sum(row["source"] == carrier for row in CORPUS) >= 5, carrier


@pytest.mark.parametrize("row", CORPUS, ids=[row["id"] for row in CORPUS])
def test_corpus(row: dict[str, Any]) -> None:
    result = classify_row(row)

    assert result is not None
    assert {field: getattr(result, field) for field in EXPECTED_FIELDS} == {
        field: row[field] for field in EXPECTED_FIELDS
    }


@pytest.mark.parametrize("row", CORPUS, ids=[row["id"] for row in CORPUS])
def test_diagnostic_is_short_and_carries_no_address_from_the_reason(row: dict[str, Any]) -> None:
    result = classify_row(row)

    assert result is not None
    assert "@" not in result.diagnostic
    assert len(result.diagnostic) <= 80
    for local_part in re.findall(r"([\w.+-]+)@", row["reason"]):
        assert local_part not in result.diagnostic


# --- what gets a classification


@pytest.mark.parametrize("status", ["queued", "succeeded", "", "unknown"])
def test_deliveries_that_are_not_failures_get_none(status: str) -> None:
    assert classify(event_type="deliveries", status=status, bounce_code=None, reason="") is None


@pytest.mark.parametrize("event_type", ["inbound", "", "delivery"])
def test_other_event_types_get_none(event_type: str) -> None:
    assert classify(event_type=event_type, status="failed", bounce_code=None, reason="550 5.1.1 x") is None


@pytest.mark.parametrize(
    ("event_type", "status", "bounce_code"),
    [("deliveries", "failed", None), ("deliveries", "deferred", None), ("bounces", "bounced", None)],
)
def test_every_failure_gets_a_classification_even_with_nothing_to_go_on(
    event_type: str, status: str, bounce_code: str | None
) -> None:
    result = classify(event_type=event_type, status=status, bounce_code=bounce_code, reason="")

    assert result is not None
    assert result.bounce_category == "other"
    assert result.bounce_type == ("soft" if status == "deferred" else "undetermined")


def test_inputs_are_compared_case_and_space_insensitively() -> None:
    result = classify(event_type=" Deliveries", status="FAILED ", bounce_code=" 2 ", reason="")

    assert result is not None
    assert result.bounce_category == "user_unknown"


# --- CMC bounce codes with an empty reason

CODE_ONLY = [
    ("1", "hard", "host_unknown"),
    ("2", "hard", "user_unknown"),
    ("3", "soft", "expired"),
    ("4", "soft", "policy_rejected"),
    ("5", "soft", "mailbox_full"),
    ("6", "undetermined", "other"),  # forwarding error: names no reason and no permanence
    ("7", "soft", "network_error"),
    ("8", "soft", "message_too_large"),
    ("9", "hard", "invalid_address"),
    ("10", "hard", "suppressed"),
    ("11", "hard", "unsubscribed"),
    ("99", "hard", "other"),  # "other permanent error"
]


def test_code_only_table_covers_every_documented_cmc_code() -> None:
    assert {int(code) for code, _, _ in CODE_ONLY} == {*CMC_CODE_CATEGORIES, 6, 99}


@pytest.mark.parametrize(("code", "bounce_type", "category"), CODE_ONLY, ids=[row[0] for row in CODE_ONLY])
def test_cmc_code_alone(code: str, bounce_type: str, category: str) -> None:
    result = classify(event_type="bounces", status="bounced", bounce_code=code, reason="")

    assert result is not None
    assert (result.bounce_type, result.bounce_category, result.smtp_code, result.enhanced_status) == (
        bounce_type,
        category,
        None,
        None,
    )
    assert result.diagnostic.endswith(f"(CMC {code})")


@pytest.mark.parametrize(("code", "bounce_type", "category"), CODE_ONLY, ids=[row[0] for row in CODE_ONLY])
def test_raw_bounce_record_with_the_code_in_status(code: str, bounce_type: str, category: str) -> None:
    result = classify(event_type="bounces", status=code, bounce_code=None, reason="")

    assert result is not None
    assert (result.bounce_type, result.bounce_category) == (bounce_type, category)


def test_unknown_cmc_code_is_ignored() -> None:
    result = classify(event_type="bounces", status="bounced", bounce_code="42", reason="")

    assert result is not None
    assert (result.bounce_type, result.bounce_category) == ("undetermined", "other")


# --- the precedence rule when the CMC code and the reply disagree


def bounce(code: str | None, reason: str) -> tuple[str, str]:
    result = classify(event_type="bounces", status="bounced", bounce_code=code, reason=reason)
    assert result is not None
    return result.bounce_type, result.bounce_category


def test_specific_reply_beats_code_99() -> None:
    assert bounce("99", "550 5.1.1 The email account that you tried to reach does not exist.") == (
        "hard",
        "user_unknown",
    )


def test_mailbox_full_reply_beats_code_2_and_stays_soft() -> None:
    assert bounce("2", "452 4.2.2 Mailbox full") == ("soft", "mailbox_full")


@pytest.mark.parametrize("code", ["10", "11"])
def test_block_list_codes_always_win(code: str) -> None:
    expected = "unsubscribed" if code == "11" else "suppressed"

    assert bounce(code, "452 4.2.2 Mailbox full") == ("hard", expected)
    assert bounce(code, "550 5.1.1 User unknown") == ("hard", expected)


def test_blocks_record_is_suppressed_whatever_it_says() -> None:
    result = classify(event_type="blocks", status="10", bounce_code=None, reason="550 5.7.1 spam")

    assert result is not None
    assert (result.bounce_type, result.bounce_category) == ("hard", "suppressed")


def test_generic_reply_loses_to_the_cmc_code() -> None:
    # 5.7.1 alone only says "policy"; CMC said the user is unknown.
    assert bounce("2", "550 5.7.1 Recipient rejected") == ("hard", "user_unknown")
    assert bounce(None, "550 5.7.1 Recipient rejected") == ("soft", "policy_rejected")


def test_transient_reply_never_makes_a_hard_bounce() -> None:
    assert bounce("2", "450 4.1.1 <nobody-test@example.jp>: Recipient address rejected: User unknown") == (
        "soft",
        "user_unknown",
    )
    assert bounce("1", "Host or domain name not found. Host not found, try again") == ("soft", "host_unknown")


def test_unnamed_4xx_on_a_final_record_is_expired() -> None:
    assert bounce(None, "451 4.3.0 Local error in processing") == ("soft", "expired")
    assert bounce("6", "451 4.3.0 Local error in processing") == ("soft", "expired")


def test_recognised_4xx_reply_names_the_category_of_an_expired_bounce() -> None:
    assert bounce("3", "421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints") == (
        "soft",
        "spam_blocked",
    )
    assert bounce("3", "451 4.3.0 Local error in processing") == ("soft", "expired")


def test_deferred_is_never_hard() -> None:
    result = classify(
        event_type="deliveries", status="deferred", bounce_code=None, reason="550 5.1.1 User unknown"
    )

    assert result is not None
    assert (result.bounce_type, result.bounce_category) == ("soft", "user_unknown")


def test_unrecognised_5xx_is_a_hard_other() -> None:
    assert bounce(None, "550 Error: message not delivered") == ("hard", "other")
    assert bounce("6", "550 Error: message not delivered") == ("hard", "other")


def test_au_filter_rejection_is_not_user_unknown() -> None:
    # au answers "550 : User unknown" (no address) when the recipient's filter refuses the sender.
    assert bounce("2", "550 : User unknown") == ("soft", "policy_rejected")
    assert bounce("2", "550 <nobody-test@ezweb.ne.jp>: User unknown") == ("hard", "user_unknown")


# --- code extraction


@pytest.mark.parametrize(
    ("reason", "smtp_code", "enhanced"),
    [
        ("550-5.1.1 first line\n550 5.1.1 last line", "550", "5.1.1"),
        ("host mx.example.jp[203.0.113.45] said: 554 5.7.1 no", "554", "5.7.1"),
        ("smtp; 552 5.2.2 full", "552", "5.2.2"),
        ("Sorry, no mailbox here by that name. (#5.1.1)", None, "5.1.1"),
        ("connect to mx.example.jp[192.0.2.10]:25: Connection timed out", None, None),
        ("421 4.7.0 [TSS04] deferred - 4.16.55.1; see https://postmaster.example.com", "421", "4.7.0"),
        ("(-2089888520:4200:-2147467259) AS(201806281) mta1002 at 2024-05-01 14:05:15", None, None),
        ("version 10.5.1.2 at 192.168.550.1", None, None),
        ("550 5.1.10 RESOLVER.ADR.RecipientNotFound", "550", "5.1.10"),
        ("エラー550 5.1.1 ユーザーが存在しません", "550", "5.1.1"),
    ],
)
def test_codes_are_found_anywhere_but_not_inside_numbers(
    reason: str, smtp_code: str | None, enhanced: str | None
) -> None:
    result = classify(event_type="deliveries", status="failed", bounce_code=None, reason=reason)

    assert result is not None
    assert (result.smtp_code, result.enhanced_status) == (smtp_code, enhanced)


# --- output shape and safety


def test_as_dict() -> None:
    result = classify(
        event_type="bounces", status="bounced", bounce_code="2", reason="550 5.1.1 User unknown"
    )

    assert result is not None
    assert result.as_dict() == {
        "bounce_type": "hard",
        "bounce_category": "user_unknown",
        "smtp_code": "550",
        "enhanced_status": "5.1.1",
        "diagnostic": "Recipient mailbox does not exist (SMTP 550 5.1.1, CMC 2)",
    }


def test_every_rule_and_code_maps_into_the_taxonomy() -> None:
    produced = {category for category, _ in (*PHRASE_RULES, *WEAK_PHRASE_RULES)}
    produced |= set(CMC_CODE_CATEGORIES.values())
    produced |= {row["bounce_category"] for row in CORPUS}

    assert produced <= set(CATEGORIES)
    assert len(CATEGORIES) == len(set(CATEGORIES))


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(max_size=200),
    local_part=st.from_regex(r"[a-z][a-z0-9._-]{2,20}", fullmatch=True),
    suffix=st.text(max_size=200),
    code=st.sampled_from([None, "1", "2", "3", "5", "6", "99"]),
)
def test_arbitrary_replies_never_leak_the_address(
    prefix: str, local_part: str, suffix: str, code: str | None
) -> None:
    reason = f"{prefix} 550 5.1.1 <{local_part}@example.jp>: User unknown {suffix}"

    result = classify(event_type="bounces", status="bounced", bounce_code=code, reason=reason)

    assert result is not None
    assert result.bounce_category in CATEGORIES
    assert result.bounce_type in ("hard", "soft", "undetermined")
    assert "@" not in result.diagnostic
    assert f"{local_part}@" not in result.diagnostic


# --- patterns that stay linear on hostile input


def all_patterns() -> list[re.Pattern[str]]:
    compiled = _patterns()
    return [
        compiled.reply_code,
        compiled.enhanced_status,
        compiled.transient_wording,
        *(pattern for _, pattern in (*compiled.phrase_rules, *compiled.weak_phrase_rules)),
    ]


def test_patterns_are_linear_by_construction() -> None:
    # Catastrophic backtracking needs a quantified group (nested or overlapping repetition). None here:
    # only literals, alternations, bounded character classes and single-character `?`.
    for pattern in all_patterns():
        assert not re.search(r"\)[*+?{]", pattern.pattern), pattern.pattern
        assert ".*" not in pattern.pattern
        assert ".+" not in pattern.pattern


PATHOLOGICAL = [
    "5 " * 50_000,
    "5." * 50_000,
    "550-" * 25_000,
    "5.5.5.5" * 15_000,
    "4" * 100_000,
    "a" * 100_000,
    "user unknow" * 9_000,
    ("x" * 99 + "@") * 1_000,
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=[f"{text[:8]!r}x{len(text)}" for text in PATHOLOGICAL])
def test_pathological_100k_inputs(text: str) -> None:
    # Every pattern is run over the whole 100 KB, not only the scanned prefix: a backtracking pattern
    # would not finish here.
    for pattern in all_patterns():
        pattern.search(text.lower())

    result = classify(event_type="deliveries", status="failed", bounce_code=None, reason=text)

    assert result is not None
    assert "@" not in result.diagnostic


def test_only_the_start_of_a_huge_reason_is_scanned() -> None:
    reason = " " * MAX_SCANNED_CHARS + "550 5.1.1 User unknown"

    result = classify(event_type="deliveries", status="failed", bounce_code=None, reason=reason)

    assert result is not None
    assert (result.smtp_code, result.bounce_category) == (None, "other")
