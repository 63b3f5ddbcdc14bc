"""The API function's dependencies as the dev tools build them: from an environment, with credentials
the tool chooses (none: open, as `make local` runs by default). Nothing here imports moto."""

from __future__ import annotations

from collections.abc import Mapping

from cmc_webhooks.dal.credentials import StaticCredentials
from cmc_webhooks.logic.auth import CredentialSet
from cmc_webhooks.settings import IngestSettings
from cmc_webhooks.wiring import ApiDependencies


def local_dependencies(env: Mapping[str, str], credentials: CredentialSet | None = None) -> ApiDependencies:
    credentials = credentials or CredentialSet()
    return ApiDependencies.from_settings(
        IngestSettings.from_env(env), credentials=StaticCredentials(credentials)
    )
