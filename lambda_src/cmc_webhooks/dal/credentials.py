"""Where the accepted webhook credentials come from: Secrets Manager (deployed) or the environment (local).

Both are CredentialSources (logic/receive.py).
"""

from __future__ import annotations

from cmc_webhooks.errors import CredentialsUnavailable
from cmc_webhooks.logic.auth import CredentialSet

# A rotated secret reaches every warm function within this many seconds.
SECRET_MAX_AGE_SECONDS = 300


class NoCredentials:
    """A function deployed without its secret: nothing can be checked, so every webhook is refused."""

    def credentials(self) -> CredentialSet:
        raise CredentialsUnavailable(
            "no webhook credentials are configured (CMC_AUTH_SECRET_NAME is not set)"
        )


class StaticCredentials:
    def __init__(self, credentials: CredentialSet) -> None:
        self._credentials = credentials

    def credentials(self) -> CredentialSet:
        return self._credentials


class SecretsManagerCredentials:
    """The secret's JSON, read with Powertools Parameters and cached for SECRET_MAX_AGE_SECONDS."""

    def __init__(self, secret_name: str) -> None:
        self.secret_name = secret_name

    def credentials(self) -> CredentialSet:
        # Imported on first use: it loads every provider (SSM, AppConfig, ...); `make local` needs none.
        from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

        try:
            value = parameters.get_secret(self.secret_name, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
        except (
            parameters.exceptions.GetParameterError,
            parameters.exceptions.TransformParameterError,
        ) as exc:
            raise CredentialsUnavailable("the webhook credentials could not be read; try again") from exc
        credentials = CredentialSet.model_validate(value)
        if credentials.open:  # an empty secret must not open the endpoint
            raise CredentialsUnavailable("the webhook secret holds no credentials")
        return credentials
