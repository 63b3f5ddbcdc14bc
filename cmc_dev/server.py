"""`make local`: the Lambda handler behind an HTTP server on 127.0.0.1, moto as DynamoDB.

Requests become API Gateway REST proxy events and go through the same handler code that
runs in Lambda. PORT picks the port (default 8080); Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from cmc_dev.backend import LocalBackend, running_backend
from cmc_dev.environment import invalid_setting
from cmc_dev.fanout import running_fanout
from cmc_dev.gateway import match_resource, response_parts, rest_proxy_event
from cmc_dev.lambda_context import LocalLambdaContext
from cmc_dev.local_function import local_dependencies
from cmc_dev.spill import running_spill
from cmc_webhooks import contract
from cmc_webhooks.logic.auth import CredentialSet
from cmc_webhooks.settings import DEFAULT_CMC_API_URL, IngestTunables

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "fixtures" / "cmc"
INBOUND_SAMPLES = ROOT / "tests" / "fixtures" / "inbound"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST's payload limit
# What AWS answers past its limits, so that such a defect shows on a laptop: a Lambda function's
# synchronous response is at most 6 MB (API Gateway then answers 502), and API Gateway REST waits at
# most 29 s for its integration (then 504).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
INTEGRATION_TIMEOUT_SECONDS = 29.0
DEFAULT_PORT = 8080
# The dev server's own choice of credentials (the function has no open mode): these two, or none.
BASIC_AUTH = "CMC_WEBHOOK_BASIC_AUTH"  # user:password
API_KEY = "CMC_WEBHOOK_API_KEY"


def local_credentials(env: Mapping[str, str]) -> CredentialSet:
    """The credentials `make local` requires: from BASIC_AUTH and API_KEY; none is open."""
    basic = env.get(BASIC_AUTH) or ""
    username, colon, password = basic.partition(":")
    if basic and not (colon and username and password):
        raise SystemExit(f"{BASIC_AUTH} must be user:password")
    return CredentialSet(
        username=username or None, password=password or None, api_key=env.get(API_KEY) or None
    )


def local_defaults(env: MutableMapping[str, str]) -> None:
    """Powertools settings for a laptop: no X-Ray daemon, no EMF blobs in the console."""
    env.setdefault("POWERTOOLS_SERVICE_NAME", contract.SERVICE_NAME)
    env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    env.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    env.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")


class BadFraming(Exception):
    """A request whose body cannot be delimited: answered 400 and the connection closed."""


def read_chunked(rfile: BufferedIOBase, limit: int) -> bytes | None:
    """A `Transfer-Encoding: chunked` body (RFC 9112, section 7.1); None once it passes `limit` bytes."""
    body = bytearray()
    while True:
        size_line = rfile.readline(1026).split(b";")[0].strip()  # a chunk size, then any extensions
        if not size_line or size_line.strip(b"0123456789abcdefABCDEF"):
            raise BadFraming("a chunk size is not a hexadecimal number")
        size = int(size_line, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            return None
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise BadFraming("a chunk ends before its size or without CRLF")
        body += chunk
    for _ in range(100):  # trailer fields, up to the empty line
        if rfile.readline(8192) in (b"\r\n", b"\n", b""):
            return bytes(body)
    raise BadFraming("too many trailer fields")


def content_length(values: list[str]) -> int:
    """The one Content-Length of a request (0 without one); BadFraming unless it is one decimal number."""
    distinct = {value.strip() for value in values}
    if len(distinct) > 1:
        raise BadFraming("conflicting Content-Length headers")
    text = distinct.pop() if distinct else "0"
    if not (text.isascii() and text.isdigit()):
        raise BadFraming("Content-Length is not a non-negative decimal number")
    return int(text)


def route_of(target: str) -> str:
    """What the access log says of a request target: its resource template, never a path parameter."""
    matched = match_resource(urlsplit(target).path)
    return matched[0] if matched else "(no route)"


def make_http_server(
    host: str,
    port: int,
    handler: Handler,
    *,
    access_log: bool = True,
    timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> ThreadingHTTPServer:
    # One invocation at a time, as in one Lambda instance: the Powertools resolver keeps the
    # current request in module state, so two concurrent calls would read each other's event.
    one_at_a_time = threading.Lock()

    class ProxyRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60  # seconds a connection may stall (a body shorter than its length): then closed

        def _body(self) -> bytes | None:
            """The request's body; None if it is over API Gateway's payload limit."""
            encoding = self.headers.get_all("Transfer-Encoding") or []
            lengths = self.headers.get_all("Content-Length") or []
            if encoding:
                if lengths or ",".join(encoding).strip().lower() != "chunked":
                    raise BadFraming("only Transfer-Encoding: chunked is read, without a Content-Length")
                return read_chunked(self.rfile, MAX_BODY_BYTES)
            length = content_length(lengths)
            if length > MAX_BODY_BYTES:
                return None
            return self.rfile.read(length) if length else b""

        def _proxy(self) -> None:
            try:
                body = self._body()
            except BadFraming as error:  # where this body ends is unknown
                self._refuse(400, "bad_request", str(error))
                return
            if body is None:
                self._refuse(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
                return
            event = rest_proxy_event(
                method=self.command,
                target=self.path,
                headers=self.headers.items(),
                body=body,
                source_ip=self.client_address[0],
            )
            answered = threading.Event()
            results: list[dict[str, Any]] = []

            def invoke() -> None:
                with one_at_a_time:
                    try:
                        results.append(handler(event, LocalLambdaContext()))
                    except Exception:  # the function failed: its log gets the traceback, as in Lambda
                        traceback.print_exc()
                    finally:
                        answered.set()

            # The invocation runs on past the timeout, as a function does after API Gateway gave up.
            threading.Thread(target=invoke, daemon=True).start()
            if not answered.wait(timeout_seconds):
                self._aws_error(504, "Endpoint request timed out")
                return
            # A function that raised, or answered more than Lambda returns: API Gateway answers 502.
            if not results or len(json.dumps(results[0]).encode()) > max_response_bytes:
                self._aws_error(502, "Internal server error")
                return
            self._reply(*response_parts(results[0]))

        def _aws_error(self, status: int, message: str) -> None:
            """API Gateway's own answer, in its own shape."""
            body = json.dumps({"message": message}).encode()
            self._reply(status, [("Content-Type", "application/json")], body)

        def _refuse(self, status: int, code: str, message: str) -> None:
            """A JSON error, and the connection closed: the rest of the body is never read."""
            self.close_connection = True
            body = json.dumps({"error": code, "message": message}).encode()
            self._reply(status, [("Content-Type", "application/json")], body)

        def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def __getattr__(self, name: str) -> Any:
            # Every method goes to the handler, as API Gateway would pass it (do_GET, do_TRACE, …).
            if name.startswith("do_"):
                return self._proxy
            raise AttributeError(name)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # Method, resource template and status only: paths hold message ids and addresses.
            if access_log:
                method = self.command or "-"
                route = route_of(self.path) if self.command else "(no route)"
                sys.stderr.write(f"local-http {method} {route} {int(code)}\n")

        def log_message(self, format: str, *args: Any) -> None:
            # http.server's own error lines quote the request line (ids, addresses): left out; the
            # answer's status is logged by log_request.
            return

    server = ThreadingHTTPServer((host, port), ProxyRequestHandler)
    server.daemon_threads = True
    return server


def auth_banner(credentials: CredentialSet) -> str:
    if credentials.open:
        return (
            f"Webhook authentication is OFF: neither {BASIC_AUTH} nor {API_KEY} is set, "
            "so anyone on this machine can post."
        )
    kinds = [f"Basic ({BASIC_AUTH})"] if credentials.basic_configured else []
    kinds += [f"api_key ({API_KEY})"] if credentials.api_key_configured else []
    return (
        f"Webhook authentication is ON: {', '.join(kinds)}. The commands below read the credentials "
        "from those variables: export them in the shell you paste into."
    )


def try_it(base_url: str, backend: LocalBackend, credentials: CredentialSet) -> str:
    """The curl commands printed at start: the seed's payloads as JSON and as a form."""
    # Credentials are referenced as variables, never printed.
    auth = f' -u "${BASIC_AUTH}"' if credentials.basic_configured else ""
    key = f' --data-urlencode "api_key=${API_KEY}"' if credentials.api_key_configured else ""
    webhook = f"{base_url}{contract.WEBHOOK_PATH}"

    def post_file(path: Path) -> str:
        if key:  # the api_key travels in the body: send the document as the form's `event` field
            return f"{key} --data-urlencode event@{path.relative_to(ROOT)}"
        return f" -H 'Content-Type: application/json' --data-binary @{path.relative_to(ROOT)}"

    queued = SAMPLES / "seed_deliveries_queued.json"
    bounce = SAMPLES / "seed_bounces_user_unknown.json"
    bounced_recipient = json.loads(bounce.read_text(encoding="utf-8"))["event"]["bounces"][0]["to"]
    succeeded = json.loads((SAMPLES / "seed_deliveries_succeeded.json").read_text(encoding="utf-8"))
    message_id = succeeded["event"]["deliveries"][0]["messageId"]
    form_event = json.dumps(succeeded["event"], ensure_ascii=False, separators=(",", ":"))
    lookup = f"{base_url}/messages/{message_id.strip('<>')}"
    suppression = f"{base_url}{contract.SUPPRESSION_PATH.replace('{address}', 'someone@example.jp')}"
    suppressions_cli = (
        f"{shlex.quote(sys.executable)} -m cmc_dev.cli suppressions "
        f"--table {backend.table_name} --endpoint-url {backend.endpoint_url}"
    )
    cli = (
        f"{shlex.quote(sys.executable)} -m cmc_dev.cli message {shlex.quote(message_id)} "
        f"--table {backend.table_name} --endpoint-url {backend.endpoint_url}"
    )
    return "\n".join(
        [
            "Try it (from the repository root):",
            "",
            "  # 1. the seed's 'queued' webhook, as JSON",
            f"  curl -sS -X POST {webhook}{auth}{post_file(queued)}",
            "",
            "  # 2. its 'succeeded' webhook, form-encoded as CMC sends it by default",
            f"  curl -sS -X POST {webhook}{auth}{key} --data-urlencode event_type=deliveries "
            f"--data-urlencode server_composition=pro --data-urlencode {shlex.quote('event=' + form_event)}",
            "",
            "  # 3. a bounce: stored, and published to the subscriber (watch for `subscriber-event`)",
            f"  curl -sS -X POST {webhook}{auth}{post_file(bounce)}",
            "",
            "  # 4. the first message's history and current status",
            f"  curl -sS {lookup}",
            "",
            "  # 5. the bounced recipient: its events and whether to stop mailing it",
            f"  curl -sS {base_url}/recipients/{bounced_recipient}",
            "",
            "  # 6. the messages that carry your own id (CMC's apiData, the X-Api-Data header you set)",
            f"  curl -sS '{base_url}{contract.MESSAGES_BY_API_DATA_PATH}?api_data=YOUR-ID'",
            "",
            "  # every lookup answers in pages: ?limit=N (at most "
            f"{contract.PAGE_LIMIT_MAX}), then ?cursor=<next_cursor> until next_cursor is null",
            f"  curl -sS '{lookup}?limit=1'",
            "",
            *inbound_try_it(base_url, backend, credentials),
            "  # the message lookup from the CLI",
            f"  {cli}",
            "",
            "  # 7. suppress an address by hand, then lift it (watch for the `subscriber-event` lines",
            "  #    Recipient Suppressed and Unsuppressed). IAM is not enforced locally: the actor is a",
            "  #    local principal; deployed, they need SigV4 and record the caller's IAM principal.",
            f"  curl -sS -X PUT {suppression} -H 'Content-Type: application/json'"
            """ --data '{"reason": "complaint_by_phone", "note": "asked to stop"}'""",
            f"  curl -sS -X DELETE {suppression} -H 'Content-Type: application/json'"
            """ --data '{"note": "the owner asked again"}'""",
            "",
            "  # 8. the suppressed addresses: from the API, and exported from the CLI (CSV; --format jsonl)",
            f"  curl -sS '{base_url}{contract.SUPPRESSIONS_PATH}?limit=100'",
            f"  {suppressions_cli}",
            "",
            "  # read back what the webhooks missed on a day from CMC's API (docs/reconcile.md)",
            f"  CMC_API_USER=... CMC_API_KEY=... {shlex.quote(sys.executable)} -m cmc_dev.cli reconcile "
            f"--date YYYY-MM-DD --server-composition pro --cmc-api-url {DEFAULT_CMC_API_URL} "
            f"--table {backend.table_name} --endpoint-url {backend.endpoint_url}",
            "",
        ]
    )


def inbound_try_it(base_url: str, backend: LocalBackend, credentials: CredentialSet) -> list[str]:
    """A multipart mail with two attachments, as CMC's inbound webhook posts it, and its lookup."""
    auth = f' -u "${BASIC_AUTH}"' if credentials.basic_configured else ""
    key = f' --form-string "api_key=${API_KEY}"' if credentials.api_key_configured else ""
    samples = INBOUND_SAMPLES.relative_to(ROOT)
    # --form-string: sent as typed (curl's -F would read `<...` as a file); -F: a file's content or a file.
    texts = [
        "filter=support",
        "server_composition=sandbox",
        "envelope-from=taro@example.jp",
        "envelope-to=support@example.com",
        "subject=Re: お問い合わせ",
        "text=お世話になっております。見積書を添付します。",
        "html=<p>お世話になっております。見積書を添付します。</p>",
        "attachments=2",
    ]
    files = [
        f"headers=<{samples}/headers.json",
        f"attachment1=@{samples}/quote.txt;filename=見積書.txt;type=text/plain",
        f"attachment2=@{samples}/pixels.png;type=image/png",
    ]
    post = " ".join(
        [*(f"--form-string {shlex.quote(text)}" for text in texts), *(f"-F {shlex.quote(f)}" for f in files)]
    )
    cli = (
        f"{shlex.quote(sys.executable)} -m cmc_dev.cli inbound INBOUND_ID --table {backend.table_name} "
        f"--bucket {backend.inbound_bucket} --endpoint-url {backend.endpoint_url}"
    )
    return [
        "  # an inbound mail (a reply to the first message, two attachments), multipart as CMC posts it:",
        "  #    stored in S3 and DynamoDB, published as `Email Received` (watch for `subscriber-event`)",
        f"  curl -sS -X POST {base_url}{contract.INBOUND_WEBHOOK_PATH}{auth}{key} {post}",
        "",
        "  # that mail: its metadata and presigned URLs of its bodies and attachments (API, then CLI)",
        f"  curl -sS {base_url}/inbound/INBOUND_ID",
        f"  {cli}",
        "",
    ]


def _stop(*_: object) -> None:
    raise KeyboardInterrupt


def listen_port(env: Mapping[str, str]) -> int:
    text = env.get("PORT") or str(DEFAULT_PORT)
    port = int(text) if text.strip().isdigit() else 0
    if not 1 <= port <= 65535:
        raise SystemExit(f"PORT must be a number from 1 to 65535, got {text!r}")
    return port


def cannot_listen(port: int, error: OSError) -> str:
    other = port + 1 if port < 65535 else port - 1
    if error.errno == errno.EADDRINUSE:
        return f"port {port} is in use: run PORT={other} make local"
    return f"cannot listen on 127.0.0.1:{port} ({error.strerror}): run PORT={other} make local"


def serve(host: str, port: int) -> None:
    index = IngestTunables.model_validate(os.environ).recipient_index  # the table as the function reads it
    with (
        running_backend(recipient_index=index) as backend,
        running_fanout(backend, env=os.environ) as (fanout, _),
        running_spill(backend, env=os.environ) as (spill, _),
    ):
        credentials = local_credentials(os.environ)
        dependencies = local_dependencies(os.environ, credentials)
        # Imported once the environment is set: Powertools reads it when the module loads.
        from cmc_webhooks.handlers.api import make_handler  # noqa: PLC0415

        try:
            server = make_http_server(host, port, make_handler(lambda: dependencies))
        except OSError as error:
            raise SystemExit(cannot_listen(port, error)) from None
        signal.signal(signal.SIGTERM, _stop)
        base_url = f"http://{host}:{server.server_address[1]}"
        print(f"cmc-webhooks is listening on {base_url} (DynamoDB: moto at {backend.endpoint_url})")
        print(
            f"  POST {contract.WEBHOOK_PATH}    GET {contract.MESSAGE_LOOKUP_PATH}"
            f"    GET {contract.RECIPIENT_LOOKUP_PATH}    GET {contract.MESSAGES_BY_API_DATA_PATH}?api_data="
        )
        print(f"  PUT|DELETE {contract.SUPPRESSION_PATH}    GET {contract.SUPPRESSIONS_PATH}")
        print(
            f"  POST {contract.INBOUND_WEBHOOK_PATH}    GET {contract.INBOUND_LOOKUP_PATH}"
            f"    (S3: moto at {backend.endpoint_url}, bucket {backend.inbound_bucket})"
        )
        print(
            f"  Bounces, failures and received mail are published to the event bus {fanout.bus_name}; each\n"
            "  event that reaches the local subscriber queue is printed as a line `subscriber-event {...}`.\n"
            f"  A webhook the table refuses waits in the spill queue {spill.queue_url.rsplit('/', 1)[-1]}\n"
            "  until the local drain stores it.\n"
        )
        print(auth_banner(credentials) + "\n")
        print(try_it(base_url, backend, credentials), flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nstopping", flush=True)
        finally:
            server.server_close()


def main() -> None:
    port = listen_port(os.environ)
    local_defaults(os.environ)
    try:
        serve("127.0.0.1", port)
    except ValidationError as error:  # a CMC_* variable the function would refuse too
        raise SystemExit(invalid_setting(error)) from None


if __name__ == "__main__":
    main()
