"""One cold start in a fresh process: `python -m bench.cold_child handler|floor EVENT_FILE TABLE_NAME`.

Imports the handler (ours, or the floor of bench/baselines.py), answers the webhook in EVENT_FILE, then
prints one line `BENCH {"status": ..., "import_seconds": ..., "seconds": ...}`, times taken from the top
of this module. The parent times the whole process too, from spawn to that line.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402 - after the clock starts: the harness's own cost, the same for both
import sys  # noqa: E402

MARKER = "BENCH "


def main() -> None:
    mode, event_path, table_name = sys.argv[1:4]
    with open(event_path, encoding="utf-8") as file:
        event = json.load(file)
    if mode == "handler":
        from bench.handler import open_handler  # noqa: PLC0415
        from cmc_dev.lambda_context import LocalLambdaContext  # noqa: PLC0415

        handler = open_handler()
        imported = time.perf_counter()
        result = handler(event, LocalLambdaContext())
    elif mode == "floor":
        from bench.baselines import floor_handler  # noqa: PLC0415

        imported = time.perf_counter()
        result = floor_handler(event, table_name)
    else:
        sys.exit(f"unknown mode {mode!r}")
    answered = time.perf_counter()
    report = {
        "status": result["statusCode"],
        "import_seconds": imported - STARTED,
        "seconds": answered - STARTED,
    }
    sys.stdout.write(MARKER + json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
