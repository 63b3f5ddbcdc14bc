"""A receiver behind `make local`'s HTTP server: `python -m bench.serve handler|naive PORT_FILE TABLE_NAME`.

Serves on 127.0.0.1 (a free port, written to PORT_FILE) against the backend named by the environment,
until terminated.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    mode, port_file, table_name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    from cmc_dev.server import make_http_server  # noqa: PLC0415

    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    if mode == "handler":
        from bench.handler import open_handler  # noqa: PLC0415

        handler = open_handler()
    elif mode == "naive":
        from bench.baselines import naive_handler  # noqa: PLC0415

        def naive(event: dict[str, Any], context: Any) -> dict[str, Any]:
            return naive_handler(event, table_name)

        handler = naive
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
