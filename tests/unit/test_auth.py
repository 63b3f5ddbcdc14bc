from __future__ import annotations

import base64

import pytest

from cmc_webhooks.errors import Unauthorized
from cmc_webhooks.logic.auth import CredentialSet, authenticate

BOTH = CredentialSet(username="cmc", password="s3cret", api_key="k-current", previous_api_key="k-old")
BASIC_ONLY = CredentialSet(username="cmc", password="new", previous_password="old")
KEY_ONLY = CredentialSet(api_key="k-current")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("credentials", "authorization", "api_key"),
    [
        (BOTH, basic("cmc", "s3cret"), None),
        (BOTH, None, "k-current"),
        (BOTH, None, "k-old"),  # during rotation the previous key still works
        (BOTH, basic("cmc", "s3cret"), "k-current"),
        (BASIC_ONLY, basic("cmc", "new"), None),
        (BASIC_ONLY, basic("cmc", "old"), None),
        (BASIC_ONLY, basic("cmc", "new"), "anything"),  # a kind that is not configured is ignored
        (KEY_ONLY, "Bearer xyz", "k-current"),  # so is an Authorization scheme we do not use
        (CredentialSet(), None, None),  # nothing configured: open
    ],
)
def test_accepted(credentials: CredentialSet, authorization: str | None, api_key: str | None) -> None:
    authenticate(credentials, authorization=authorization, api_key=api_key)


@pytest.mark.parametrize(
    ("credentials", "authorization", "api_key"),
    [
        (BOTH, None, None),
        (BOTH, basic("cmc", "wrong"), None),
        (BOTH, basic("other", "s3cret"), None),
        (BOTH, None, "k-wrong"),
        (BOTH, basic("cmc", "s3cret"), "k-wrong"),  # a valid credential does not excuse a wrong one
        (BOTH, basic("cmc", "wrong"), "k-current"),
        (BOTH, "Basic %%%not-base64", None),
        (BASIC_ONLY, None, None),
        (BASIC_ONLY, basic("cmc", "older"), None),
        (KEY_ONLY, None, ""),
        (KEY_ONLY, basic("cmc", "s3cret"), None),  # Basic is not configured: no credential at all
    ],
)
def test_refused(credentials: CredentialSet, authorization: str | None, api_key: str | None) -> None:
    with pytest.raises(Unauthorized) as refused:
        authenticate(credentials, authorization=authorization, api_key=api_key)
    assert refused.value.basic_configured == credentials.basic_configured  # the answer asks for Basic
