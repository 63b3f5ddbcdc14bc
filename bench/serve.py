"""A receiver behind `make local`'s HTTP server: `python -m bench.serve handler|naive PORT_FILE`.

Serves on 127.0.0.1 (a free port, written to PORT_FILE) against the backend named by the
environment, until terminated.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    mode, port_file = sys.argv[1], Path(sys.argv[2])
    from cmc_dev.server import Handler, make_http_server  # noqa: PLC0415

    handler: Handler
    if mode == "handler":
        from cmc_webhooks.handlers.api import lambda_handler  # noqa: PLC0415

        handler = lambda_handler
    elif mode == "naive":
        from bench.baselines import naive_handler  # noqa: PLC0415

        handler = naive_handler
    else:
        sys.exit(f"unknown mode {mode!r}")
    server = make_http_server("127.0.0.1", 0, handler)
    signal.signal(signal.SIGTERM, _stop)
    port_file.write_text(str(server.server_address[1]), encoding="ascii")
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
