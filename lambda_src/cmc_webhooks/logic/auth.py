"""Webhook authentication. CMC signs nothing: it can send HTTP Basic credentials and an
`api_key` field in the body. A request passes if it presents a valid credential of a
configured kind and no wrong one; with no kind configured the endpoint is open.

Rotation without downtime: the credential set holds a current and a previous value of each
secret, and both are accepted until the previous one is removed (docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import hmac

from pydantic import BaseModel, ConfigDict

from cmc_webhooks.errors import Unauthorized


class CredentialSet(BaseModel):
    """The accepted credentials: the JSON of the deployed secret, or the local environment."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    username: str | None = None
    password: str | None = None
    previous_password: str | None = None
    api_key: str | None = None
    previous_api_key: str | None = None

    @property
    def basic_configured(self) -> bool:
        return bool(self.username and self.password)

    @property
    def api_key_configured(self) -> bool:
        return bool(self.api_key)

    @property
    def open(self) -> bool:
        return not (self.basic_configured or self.api_key_configured)


def _matches_any(presented: str, accepted: list[str | None]) -> bool:
    # Compare against every candidate, without stopping early: timing reveals nothing.
    valid = False
    for candidate in accepted:
        if candidate:
            valid |= hmac.compare_digest(
                presented.encode("utf-8", "surrogatepass"), candidate.encode("utf-8")
            )
    return valid


def _basic_credentials(authorization: str | None) -> str | None:
    """`user:password` from an `Authorization: Basic …` header, or None if there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""  # a Basic header that is not even well-formed is a wrong credential


def basic_header_is_valid(credentials: CredentialSet, authorization: str | None) -> bool:
    presented = _basic_credentials(authorization)
    if presented is None or not credentials.basic_configured:
        return False
    accepted = [
        f"{credentials.username}:{password}"
        for password in (credentials.password, credentials.previous_password)
        if password
    ]
    return _matches_any(presented, list(accepted))


def authenticate(credentials: CredentialSet, *, authorization: str | None, api_key: str | None) -> None:
    """Raise Unauthorized unless a configured kind of credential is presented, valid, and none is wrong."""
    if credentials.open:
        return
    verdicts: list[bool] = []
    if credentials.basic_configured and _basic_credentials(authorization) is not None:
        verdicts.append(basic_header_is_valid(credentials, authorization))
    if credentials.api_key_configured and api_key is not None:
        verdicts.append(_matches_any(api_key, [credentials.api_key, credentials.previous_api_key]))
    if not verdicts or not all(verdicts):
        raise Unauthorized("missing or invalid credentials", basic_configured=credentials.basic_configured)
