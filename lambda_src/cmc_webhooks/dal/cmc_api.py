"""CMC's Transactional Email API over HTTPS (stdlib urllib): `POST {base}/{resource}/list.json` with a JSON
body holding `api_user`, `api_key`, `server_composition` and the filters.

429 and 5xx (and a connection that fails) are retried with jittered exponential backoff; every request,
retries included, counts against the run's budget, and a run that reaches it fails rather than hammering
an API that supports about one poll a day. Errors name CMC's own `errors[].code/message/field`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from cmc_webhooks.dal.backoff import jittered_backoff
from cmc_webhooks.logic.reconcile import ReconcileError

ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
TIMEOUT_SECONDS = 30.0
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class ApiCredentials:
    api_user: str
    api_key: str


class CmcApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        credentials: ApiCredentials,
        server_composition: str,
        request_budget: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`base_url`: up to and including `/transaction/v2`."""
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.server_composition = server_composition
        self.request_budget = request_budget
        self.requests = 0
        self._sleep = sleep

    def list(self, resource: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        body = {
            "api_user": self.credentials.api_user,
            "api_key": self.credentials.api_key,
            "server_composition": self.server_composition,
            **filters,
        }
        status, answer = self._post(f"{self.base_url}/{resource}/list.json", body, resource)
        if status == HTTPStatus.NO_CONTENT or not answer.strip():
            return []
        try:
            document = json.loads(answer)
        except ValueError as exc:
            raise ReconcileError(f"{resource}/list.json answered {status}, not with JSON") from exc
        if isinstance(document, dict) and document.get("errors"):
            raise ReconcileError(f"{resource}/list.json: {describe_errors(document['errors'])}")
        rows = document.get(resource, []) if isinstance(document, dict) else None
        if not isinstance(rows, list):
            raise ReconcileError(f"{resource}/list.json answered without a `{resource}` list")
        return rows

    def _post(self, url: str, body: dict[str, Any], resource: str) -> tuple[int, str]:
        data = json.dumps(body, ensure_ascii=False).encode()
        problem = ""
        for attempt in range(ATTEMPTS):
            if self.requests >= self.request_budget:
                raise ReconcileError(
                    f"the run's budget of {self.request_budget} API requests is used up"
                    + (f" (last: {problem})" if problem else "")
                )
            self.requests += 1
            request = urllib.request.Request(  # noqa: S310 - the base URL is a stage setting, https
                url, data=data, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                    return response.status, response.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                text = exc.read().decode("utf-8", "replace")
                if exc.code != HTTPStatus.TOO_MANY_REQUESTS and exc.code < HTTPStatus.INTERNAL_SERVER_ERROR:
                    raise ReconcileError(
                        f"{resource}/list.json answered {exc.code}: {_error_text(text)}"
                    ) from None
                problem = f"{resource}/list.json answered {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                problem = f"{resource}/list.json could not be reached ({type(exc).__name__})"
            self._sleep(jittered_backoff(attempt, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS))
        raise ReconcileError(f"{problem}, {ATTEMPTS} times")


def describe_errors(errors: Any) -> str:
    """CMC's `{"errors": [{"code", "message", "field"}]}` as one line."""
    if not isinstance(errors, list):
        return str(errors)[:MAX_ERROR_CHARS]
    parts = []
    for error in errors:
        if isinstance(error, dict):
            where = f" ({error['field']})" if error.get("field") else ""
            parts.append(f"{error.get('code', '?')}: {error.get('message', '')}{where}")
        else:
            parts.append(str(error))
    return "; ".join(parts)[:MAX_ERROR_CHARS]


def _error_text(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text.strip()[:MAX_ERROR_CHARS] or "no body"
    if isinstance(document, dict) and "errors" in document:
        return describe_errors(document["errors"])
    return text.strip()[:MAX_ERROR_CHARS]
