"""What can go wrong with a request, as the logic sees it. The handler maps each to its HTTP answer."""

from __future__ import annotations


class WebhookError(Exception):
    """A request we refuse or cannot serve: a stable `code` and a message naming the problem."""

    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(WebhookError):
    code = "unauthorized"

    def __init__(self, message: str, *, basic_configured: bool) -> None:
        super().__init__(message)
        self.basic_configured = basic_configured  # then the answer asks for Basic credentials


class PayloadTooLarge(WebhookError):
    code = "payload_too_large"


class TooManyRecords(WebhookError):
    code = "too_many_records"


class InvalidEnvelope(WebhookError):
    code = "invalid_envelope"


class UnsupportedMediaType(WebhookError):
    code = "unsupported_media_type"


class MessageNotFound(WebhookError):
    code = "message_not_found"


class StorageUnavailable(WebhookError):
    """DynamoDB still refused after retries: the sender must try again."""

    code = "storage_unavailable"


class CredentialsUnavailable(WebhookError):
    """The accepted credentials could not be read: nothing can be checked, so nothing is stored."""

    code = "credentials_unavailable"


class InvalidRequest(WebhookError):
    """A request to the suppression routes that names something invalid: an address, a field, a cursor."""

    code = "invalid_request"


class Forbidden(WebhookError):
    """No IAM principal in the request context: the route is deployed without IAM authorization."""

    code = "forbidden"


class InvalidQuery(WebhookError):
    """A lookup's query parameters (limit, cursor, api_data) that it cannot serve."""

    code = "invalid_query"
