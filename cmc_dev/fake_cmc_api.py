"""A fake of CMC's Transactional Email API on loopback, for tests and local tries (docs/reconcile.md).

It answers `POST {url}/{resource}/list.json` (deliveries, bounces, statistics) as CMC documents it
(../shared/cmc-reference.md): a JSON body with `api_user`, `api_key`, `server_composition` and filters;
`p` the page from 0, `r` rows a page (default 10, at most 100); errors as `{"errors": [...]}` with a 4xx;
204 for a day with no rows. `fail_next` queues status codes (429, 500, ...) answered before the real
answer, and `ignore_paging` answers page 0 whatever `p` says (an API that repeats a page).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RESOURCES = ("deliveries", "bounces", "statistics")
STATISTICS_STATUSES = ("queued", "succeeded", "failed")


@dataclass
class FakeCmcState:
    api_user: str = "api-user"
    api_key: str = "api-key"
    server_composition: str = "pro"
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    bounces: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    ignore_paging: bool = False
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def rows(self, resource: str, day: str) -> list[dict[str, Any]]:
        rows = self.deliveries if resource == "deliveries" else self.bounces
        return [row for row in rows if str(row.get("created", "")).startswith(day)]

    def statistics(self, year: int, month: int) -> list[dict[str, Any]]:
        prefix = f"{year:04d}-{month:02d}-"
        days = sorted(
            {str(row["created"])[:10] for row in self.deliveries if str(row["created"]).startswith(prefix)}
        )
        answer = []
        for day in days:
            counts = {status: 0 for status in STATISTICS_STATUSES}
            for row in self.rows("deliveries", day):
                if row.get("status") in counts:
                    counts[row["status"]] += 1
            answer.append({"date": day, **counts, "blocked": 0, "valid": counts["queued"]})
        return answer


class _Handler(BaseHTTPRequestHandler):
    state: FakeCmcState

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the state, not a log."""

    def do_POST(self) -> None:  # noqa: PLR0911 - one answer per documented error
        resource = self.path.rstrip("/").split("/")[-2] if self.path.endswith("/list.json") else ""
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        except ValueError:
            body = None
        self.state.requests.append((resource, body if isinstance(body, dict) else {}))
        if self.state.fail_next:
            status = self.state.fail_next.pop(0)
            self._answer(status, {"errors": [{"code": str(status), "message": "try again later"}]})
            return
        if resource not in RESOURCES:
            self._answer(HTTPStatus.NOT_FOUND, {"errors": [{"code": "404", "message": "no such API"}]})
            return
        if not isinstance(body, dict):
            self._error("invalid_json", "the body is not a JSON object", "")
            return
        if body.get("api_user") != self.state.api_user or body.get("api_key") != self.state.api_key:
            self._answer(
                HTTPStatus.UNAUTHORIZED, {"errors": [{"code": "10001", "message": "authentication failed"}]}
            )
            return
        if body.get("server_composition") != self.state.server_composition:
            self._error("20001", "unknown server_composition", "server_composition")
            return
        if resource == "statistics":
            self._answer(HTTPStatus.OK, {"statistics": self.state.statistics(body["year"], body["month"])})
            return
        rows_per_page = body.get("r", 10)
        page = 0 if self.state.ignore_paging else body.get("p", 0)
        if not isinstance(rows_per_page, int) or not 1 <= rows_per_page <= 100:
            self._error("30002", "r must be 1 to 100", "r")
            return
        if not isinstance(body.get("date"), str):
            self._error("30001", "date is required", "date")
            return
        rows = self.state.rows(resource, body["date"])[page * rows_per_page : (page + 1) * rows_per_page]
        if not rows:
            self._answer(HTTPStatus.NO_CONTENT, None)
            return
        self._answer(HTTPStatus.OK, {resource: rows})

    def _error(self, code: str, message: str, field_name: str) -> None:
        self._answer(
            HTTPStatus.BAD_REQUEST, {"errors": [{"code": code, "message": message, "field": field_name}]}
        )

    def _answer(self, status: int, document: Any) -> None:
        data = b"" if document is None else json.dumps(document, ensure_ascii=False).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def running_fake_cmc_api(state: FakeCmcState | None = None) -> Iterator[tuple[str, FakeCmcState]]:
    """The fake on 127.0.0.1 (a free port); yields its base URL (as `--cmc-api-url` takes it) and state."""
    state = state or FakeCmcState()
    handler = type("FakeCmcHandler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-cmc-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/transaction/v2", state
    finally:
        server.shutdown()
        server.server_close()
