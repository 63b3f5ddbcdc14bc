"""Classify a CMC bounce, failed or deferred delivery: hard or soft, and why.

Pure and dependency-free. The taxonomy, the CMC code table and the precedence rule are documented in
docs/bounces.md; in short, for one record:

1. `blocks`, or CMC code 10 / 11: `suppressed` / `unsubscribed`, hard, whatever the reply says.
2. The category is the first that decides, in this order: a known phrase of the reply, a specific
   RFC 3463 code (x.1.1, x.2.2, x.3.4, ...), the CMC bounce code (except 6 and 99, which name no
   reason), a generic RFC 3463 code (x.4.x, x.7.x, ...), a bare refusal word ("rejected",
   "denied", ...), the basic reply code (552, 553, 421, ...).
   A final record (`bounces`, `failed`) left with only a 4xx reply and no category is `expired`.
3. The type: suppressed/unsubscribed hard; a `deferred` delivery never hard (CMC will retry);
   address categories (user_unknown, host_unknown, invalid_address, mailbox_disabled) hard unless
   the reply is transient (4xx); every other named category soft; `other` hard on a 5xx reply or
   CMC code 99, soft on 4xx, undetermined with no evidence.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

BounceType = Literal["hard", "soft", "undetermined"]

CATEGORIES: tuple[str, ...] = (
    "user_unknown",
    "mailbox_disabled",
    "host_unknown",
    "invalid_address",
    "mailbox_full",
    "message_too_large",
    "content_rejected",
    "policy_rejected",
    "spam_blocked",
    "auth_failure",
    "rate_limited",
    "network_error",
    "expired",
    "suppressed",
    "unsubscribed",
    "other",
)

# The address itself cannot receive mail: a permanent answer about them means "stop mailing".
ADDRESS_CATEGORIES = frozenset({"user_unknown", "mailbox_disabled", "host_unknown", "invalid_address"})
# CMC itself refuses to send to these addresses.
LIST_CATEGORIES = frozenset({"suppressed", "unsubscribed"})

# CMC bounce code -> category. 6 (forwarding error) and 99 (other permanent) name no reason.
CMC_CODE_CATEGORIES: dict[int, str] = {
    1: "host_unknown",
    2: "user_unknown",
    3: "expired",
    4: "policy_rejected",
    5: "mailbox_full",
    7: "network_error",
    8: "message_too_large",
    9: "invalid_address",
    10: "suppressed",
    11: "unsubscribed",
}
CMC_OTHER_PERMANENT = 99

# Replies are often long; what decides is at the start. Bounding the scan bounds each search's cost.
MAX_SCANNED_CHARS = 8192

FAILURE_STATUSES = frozenset({"failed", "deferred"})

_DESCRIPTIONS: dict[str, str] = {
    "user_unknown": "Recipient mailbox does not exist",
    "mailbox_disabled": "Recipient mailbox is disabled or suspended",
    "host_unknown": "Recipient domain has no working mail host",
    "invalid_address": "Recipient address is malformed",
    "mailbox_full": "Recipient mailbox is full",
    "message_too_large": "Message is too large for the recipient",
    "content_rejected": "Message content or attachment was rejected",
    "policy_rejected": "Rejected by the recipient's policy or filter",
    "spam_blocked": "Rejected as spam or for sender reputation",
    "auth_failure": "Sender authentication (SPF/DKIM/DMARC) failed",
    "rate_limited": "Receiver throttled or greylisted the delivery",
    "network_error": "Could not reach the recipient's mail server",
    "expired": "Gave up after retrying a temporary failure",
    "suppressed": "Address is on CMC's block list",
    "unsubscribed": "Recipient unsubscribed (one-click)",
    "other": "Delivery failed for an unrecognized reason",
}


@dataclass(frozen=True, slots=True)
class Classification:
    bounce_type: BounceType
    bounce_category: str
    smtp_code: str | None
    enhanced_status: str | None
    diagnostic: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "bounce_type": self.bounce_type,
            "bounce_category": self.bounce_category,
            "smtp_code": self.smtp_code,
            "enhanced_status": self.enhanced_status,
            "diagnostic": self.diagnostic,
        }


# Cached: the failures of one webhook mostly share a few replies (one provider, one outage); a third
# of cpu_100_ratio in make bench.
@functools.lru_cache(maxsize=1024)
def classify(*, event_type: str, status: str, bounce_code: str | None, reason: str) -> Classification | None:
    """The classification of a bounce, failed or deferred delivery, or block; None for anything else."""
    kind = event_type.strip().lower()
    state = status.strip().lower()
    if kind == "deliveries":
        if state not in FAILURE_STATUSES:
            return None
    elif kind not in ("bounces", "blocks"):
        return None
    # A raw bounce record carries its code in `status`; the stored one says "bounced" and passes the code.
    cmc_code = _cmc_code(bounce_code)
    if cmc_code is None:
        cmc_code = _cmc_code(status)
    text = (reason or "")[:MAX_SCANNED_CHARS].lower()
    patterns = _patterns()
    smtp_code = _first_group(patterns.reply_code, text)
    enhanced_status = _first_group(patterns.enhanced_status, text)

    if kind == "blocks" or cmc_code in (10, 11):
        category = "unsubscribed" if cmc_code == 11 else "suppressed"
        return _build("hard", category, smtp_code, enhanced_status, cmc_code)

    reply_class = _reply_class(smtp_code, enhanced_status, text, patterns.transient_wording)
    found = (
        _phrase_category(text, patterns.phrase_rules)
        or _specific_enhanced_category(enhanced_status)
        or CMC_CODE_CATEGORIES.get(cmc_code or 0)
        or _generic_enhanced_category(enhanced_status)
        or _phrase_category(text, patterns.weak_phrase_rules)
        or _REPLY_CODE_CATEGORIES.get(smtp_code or "")
    )
    deferred = kind == "deliveries" and state == "deferred"
    # With no reason named, a final record whose server only said "later" means CMC stopped retrying.
    category = found or ("expired" if reply_class == "4" and not deferred else "other")
    bounce_type = _bounce_type(category, reply_class, deferred=deferred, cmc_code=cmc_code)
    return _build(bounce_type, category, smtp_code, enhanced_status, cmc_code)


def _bounce_type(
    category: str, reply_class: str | None, *, deferred: bool, cmc_code: int | None
) -> BounceType:
    if category in LIST_CATEGORIES:
        return "hard"
    if deferred:
        return "soft"
    if category in ADDRESS_CATEGORIES:
        return "soft" if reply_class == "4" else "hard"
    if category != "other" or reply_class == "4":
        return "soft"
    permanent = reply_class == "5" or (reply_class is None and cmc_code == CMC_OTHER_PERMANENT)
    return "hard" if permanent else "undetermined"


def _build(
    bounce_type: BounceType, category: str, smtp_code: str | None, enhanced: str | None, cmc_code: int | None
) -> Classification:
    # Built from codes and fixed text only, so no address or other personal data can leak from `reason`.
    codes = " ".join(code for code in (smtp_code, enhanced) if code)
    evidence = [f"SMTP {codes}"] if codes else []
    if cmc_code is not None:
        evidence.append(f"CMC {cmc_code}")
    suffix = f" ({', '.join(evidence)})" if evidence else ""
    return Classification(bounce_type, category, smtp_code, enhanced, _DESCRIPTIONS[category] + suffix)


def _cmc_code(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdecimal() and len(text) <= 3 else None


def _first_group(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match else None


def _reply_class(
    smtp_code: str | None, enhanced: str | None, text: str, transient: re.Pattern[str]
) -> str | None:
    """Permanent "5", transient "4" or None. The basic reply code beats the enhanced one."""
    if smtp_code:
        return smtp_code[0]
    if enhanced:
        return enhanced[0]
    # No code at all (qmail, DNS and connection errors): only explicit wording marks it temporary.
    return "4" if transient.search(text) else None


def _phrase_category(text: str, rules: tuple[tuple[str, re.Pattern[str]], ...]) -> str | None:
    """The category of the first rule, in order, whose pattern occurs anywhere in the text."""
    for category, pattern in rules:
        if pattern.search(text):
            return category
    return None


def _split_enhanced(enhanced: str | None) -> tuple[str, int] | None:
    if not enhanced:
        return None
    _, subject, detail = enhanced.split(".")
    return subject, int(detail)


# Codes whose meaning is precise and rarely misused: they beat the CMC code.
_SPECIFIC_ENHANCED: dict[tuple[str, int], str] = {
    ("1", 1): "user_unknown",
    ("1", 2): "host_unknown",
    ("1", 3): "invalid_address",
    ("2", 2): "mailbox_full",
    ("2", 3): "message_too_large",
    ("3", 4): "message_too_large",
    ("4", 7): "expired",
    # Gmail and RFC 7372 / 8601 authentication codes.
    ("7", 23): "auth_failure",
    ("7", 24): "auth_failure",
    ("7", 25): "auth_failure",
    ("7", 26): "auth_failure",
    ("7", 27): "auth_failure",
    ("7", 30): "auth_failure",
    ("7", 32): "auth_failure",
    ("7", 509): "auth_failure",  # Exchange Online: DMARC reject
    ("7", 28): "spam_blocked",  # Gmail: unusual rate of unsolicited mail
    ("7", 708): "spam_blocked",  # Exchange Online: traffic not accepted from this IP
}
# Exchange Online 5.7.606-5.7.649: the sending IP is banned.
_MICROSOFT_BANNED_IP = range(606, 650)


def _specific_enhanced_category(enhanced: str | None) -> str | None:
    parts = _split_enhanced(enhanced)
    if parts is None:
        return None
    subject, detail = parts
    if subject == "7" and detail in _MICROSOFT_BANNED_IP:
        return "spam_blocked"
    return _SPECIFIC_ENHANCED.get(parts)


# Generic codes: weaker than the CMC code, used when nothing more precise was found.
_GENERIC_ENHANCED_DETAIL: dict[tuple[str, int], str] = {
    ("1", 6): "mailbox_disabled",  # moved, no forwarding address
    ("1", 7): "policy_rejected",  # the sender's address, not the recipient's
    ("1", 8): "policy_rejected",
    ("2", 1): "mailbox_disabled",
    ("3", 2): "network_error",
    ("3", 5): "network_error",
    ("4", 4): "host_unknown",
    ("4", 5): "rate_limited",
    ("5", 3): "rate_limited",  # too many recipients
}
_GENERIC_ENHANCED_SUBJECT: dict[str, str] = {
    "1": "user_unknown",  # x.1.0, x.1.4, x.1.10 (Exchange's recipient-not-found)
    "4": "network_error",
    "6": "content_rejected",
    "7": "policy_rejected",
}


def _generic_enhanced_category(enhanced: str | None) -> str | None:
    parts = _split_enhanced(enhanced)
    if parts is None:
        return None
    return _GENERIC_ENHANCED_DETAIL.get(parts) or _GENERIC_ENHANCED_SUBJECT.get(parts[0])


# RFC 5321 / 7504 / 7505 meanings of basic reply codes; the last resort.
_REPLY_CODE_CATEGORIES: dict[str, str] = {
    "421": "network_error",
    "521": "host_unknown",
    "556": "host_unknown",
    "530": "auth_failure",
    "535": "auth_failure",
    "551": "user_unknown",
    "552": "mailbox_full",
    "553": "invalid_address",
}


@dataclass(frozen=True, slots=True)
class _Patterns:
    reply_code: re.Pattern[str]
    enhanced_status: re.Pattern[str]
    transient_wording: re.Pattern[str]
    phrase_rules: tuple[tuple[str, re.Pattern[str]], ...]
    weak_phrase_rules: tuple[tuple[str, re.Pattern[str]], ...]


# Ordered: the first rule whose phrase occurs in the (lower-cased) reply decides. Narrow or misleading
# phrases come before the broad ones they would otherwise lose to. Only literal alternatives and bounded
# character classes, no quantified groups, so every search is linear in the text.
PHRASE_RULES: tuple[tuple[str, str], ...] = (
    # au (KDDI) answers "550 : User unknown" (no address) when the recipient's own filter refuses the sender.
    ("policy_rejected", r"550 : ?user unknown"),
    (
        "auth_failure",
        r"\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|unauthenticated|authentication checks"
        r"|authenticate with|authenticate their|aligned with either|ptr record|reverse dns|reverse hostname"
        r"|reverse lookup|\brdns\b",
    ),
    (
        "policy_rejected",
        r"tls is required|tls required|requires tls|must issue a starttls|use tls|over a tls connection"
        r"|encryption required",
    ),
    (
        "spam_blocked",
        r"spam|unsolicited|\bjunk|blacklist|black list|blocklist|block list|blocked using|\brbl\b|dnsbl"
        r"|spamcop|barracuda|\bsorbs\b|reputation|banned sending ip|traffic not accepted|user complaints"
        r"|bulk mail",
    ),
    # The sender's (CMC's return path) domain or address, not the recipient's.
    ("policy_rejected", r"sender address rejected|envelope sender|sender domain|bad outbound sender"),
    (
        "mailbox_disabled",
        r"is disabled|been disabled|account disabled|mailbox disabled|deactivated|account is suspended"
        r"|account has been suspended|mailbox is suspended|account is closed|account has been closed"
        r"|discontinued|inactive|no longer active|account is temporarily limited|account is locked"
        r"|account has been terminated",
    ),
    (
        "host_unknown",
        r"host or domain name not found|name service error|host not found|domain not found|no such domain"
        r"|domain does not exist|domain doesn't exist|domain doesnt exist|domain not exist|unknown host"
        r"|host unknown|unrouteable mail domain|non-existent host|nonexistent host|non-existent domain"
        r"|null mx|no mx record|couldn't find any host|could not find any host|nxdomain|unresolvable"
        r"|does not accept mail",
    ),
    (
        "user_unknown",
        r"user unknown|unknown user|unknown recipient|recipient unknown|addressee unknown|unknown local"
        r"|unknown mailbox|unknown address|no such user|no such mailbox|no such recipient|no such address"
        r"|no such account|no such person|no such local user|user not found|recipient not found"
        r"|recipientnotfound|mailbox not found|address not found|account not found|does not exist"
        r"|doesn't exist|doesnt exist|not exist|no mailbox|mailbox unavailable|mailbox is unavailable"
        r"|mailbox not available|mailbox is not available|invalid recipient|invalid mailbox|invalid user"
        r"|unrouteable address|unverified address|undeliverable address|not our customer|doesn't have a"
        r"|does not have a|not a valid user|not listed in|recipient address rejected: access denied",
    ),
    (
        "invalid_address",
        r"address syntax|syntax error in address|bad address|malformed address|illegal address"
        r"|invalid address format|address format error|not a valid email|not a valid e-mail"
        r"|not a valid mail|not a valid address|bad recipient address",
    ),
    (
        "mailbox_full",
        r"mailbox full|mailbox is full|mail box full|mailbox size limit|mailbox size exceeded|over quota"
        r"|overquota|quota exceeded|quotaexceeded|exceeded storage allocation|out of storage space"
        r"|disk quota|storage is full|too much mail data",
    ),
    (
        "message_too_large",
        r"message size|message is too large|message too large|message is too big|message too big"
        r"|message file too big|message length exceeds|size limit|too large|exceeds fixed maximum"
        r"|maximum message size|mail size",
    ),
    (
        "content_rejected",
        r"virus|malware|infected|attachment|content rejected|rejected due to content|message content"
        r"|security issue|prohibited content",
    ),
    (
        "expired",
        r"expired|retry time|retry timeout|not delivered within|could not be delivered for|queue too long"
        r"|in the queue too long|delivery time",
    ),
    (
        "network_error",
        r"timed out|timeout|connection refused|refused to talk|no route to host|network is unreachable"
        r"|host unreachable|lost connection|connection reset|connection dropped|broken pipe"
        r"|not responding|unable to connect|couldn't connect|could not connect|wasn't able to establish"
        r"|loops back to myself|mail loop|looping|too many hops|hop count|misconfigur|control/locals"
        r"|tls negotiation|ssl handshake|handshake failed|certificate|read error|write error",
    ),
    (
        "rate_limited",
        r"rate limit|rate-limit|ratelimit|too many|try again later|please try later|come back later"
        r"|temporarily deferred|unexpected volume|throttl|greylist|graylist|server busy|at a rate"
        r"|unusual rate|sending quota|sending limit",
    ),
    ("policy_rejected", r"polic|prohibit|not allowed|not permitted|relay"),
)
# Words that say *that* the server refused but not why: weaker than any code, tried after them.
WEAK_PHRASE_RULES: tuple[tuple[str, str], ...] = (
    (
        "policy_rejected",
        r"reject|denied|refused|blocked|not authorized|unauthorized|forbidden|restricted|filter",
    ),
)


@functools.cache
def _patterns() -> _Patterns:
    """Compiled on first use, not at import: most records (queued, succeeded) never need them."""
    return _Patterns(
        # 4xx/5xx not glued to a word, a dot or a dash before it (IPs, ids, dates), followed by space,
        # the continuation dash ("550-5.1.1") or the end.
        reply_code=re.compile(r"(?<![\w.\-/:=#+@])([45][0-5][0-9])(?=[\s-]|$)", re.ASCII),
        # RFC 3463 class.subject.detail, 1-3 digits each, not part of a longer dotted number.
        enhanced_status=re.compile(r"(?<![\w.])([45]\.[0-9]{1,3}\.[0-9]{1,3})(?![0-9]|\.[0-9])", re.ASCII),
        transient_wording=re.compile(r"temporar|try again|come back later|try later"),
        phrase_rules=_compiled(PHRASE_RULES),
        weak_phrase_rules=_compiled(WEAK_PHRASE_RULES),
    )


def _compiled(rules: tuple[tuple[str, str], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((category, re.compile(pattern)) for category, pattern in rules)
