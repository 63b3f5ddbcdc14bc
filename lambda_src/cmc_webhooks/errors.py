"""Errors that become HTTP responses in one place (the handler's exception handler)."""

from __future__ import annotations


class WebhookError(Exception):
    """A request we answer with a JSON error: `status`, a stable `code`, and a message naming the problem."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = {}


class Unauthorized(WebhookError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str, *, basic_realm: bool) -> None:
        super().__init__(message)
        # Ask for Basic credentials only when Basic is a configured kind.
        self.headers = (
            {"WWW-Authenticate": 'Basic realm="cmc-webhooks", charset="UTF-8"'} if basic_realm else {}
        )


class PayloadTooLarge(WebhookError):
    status = 413
    code = "payload_too_large"


class InvalidEnvelope(WebhookError):
    status = 400
    code = "invalid_envelope"


class UnsupportedMediaType(WebhookError):
    status = 415
    code = "unsupported_media_type"


class TooManyRecords(WebhookError):
    status = 413
    code = "too_many_records"


class MessageNotFound(WebhookError):
    status = 404
    code = "message_not_found"


class StorageUnavailable(WebhookError):
    """DynamoDB still refused after retries: answer 5xx so that the sender tries again."""

    status = 503
    code = "storage_unavailable"


class CredentialsUnavailable(WebhookError):
    """The accepted credentials could not be read: nothing can be checked, so nothing is stored."""

    status = 503
    code = "credentials_unavailable"
